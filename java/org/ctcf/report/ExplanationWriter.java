package org.ctcf.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.api.Classifier;
import org.ctcf.api.ClassifierCard;
import org.ctcf.core.Affine;
import org.ctcf.core.CtcfException;
import org.ctcf.core.Geometry;
import org.ctcf.api.Explanation;
import org.ctcf.api.Kernel;
import org.ctcf.api.Metrics;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.ProcessMemory;
import org.ctcf.api.SweepResult;
import org.ctcf.core.Volume;
import org.ctcf.core.Volume.VoxelStats;
import org.ctcf.io.AtomicFiles;
import org.ctcf.io.NiftiWriter;
import org.ctcf.io.VolumeIO;
import org.ctcf.io.dicom.Derivation;
import org.ctcf.io.dicom.DicomSource;
import org.ctcf.io.dicom.DicomWriter;

/**
 * Everything {@code ctcf explain} writes, in one pass from the results in memory: the volumes on the input grid,
 * the images (sweep GIF, panels, plots), {@code report.html} and {@code summary.json}. What the report embeds is
 * handed over as bytes, so nothing just written is read back. Every file is written under a temporary name and
 * renamed ({@link AtomicFiles}), so an interrupted run leaves no file that looks complete; the summary comes last.
 */
public final class ExplanationWriter {
    public static final String COUNTERFACTUAL = "counterfactual.nii.gz";
    public static final String RECONSTRUCTION = "reconstruction.nii.gz";
    public static final String HEATMAP = "heatmap.nii.gz";
    /** A sweep's display mosaic: every chunk's frame 0 on its own slices (not a counterfactual). */
    public static final String STITCHED = "stitched_counterfactual.nii.gz";
    /** Every chunk's heatmap on its own slices. */
    public static final String STITCHED_HEATMAP = "stitched_heatmap.nii.gz";
    public static final String GIF = "sweep.gif";
    public static final String PANELS = "panels.png";
    public static final String LAMBDA_PLOT = "lambda_prediction.png";
    public static final String CHUNK_PLOT = "chunk_prediction.png";
    public static final String SLICE_PLOT = "slice_change.png";
    public static final String REPORT = "report.html";
    public static final String SUMMARY = "summary.json";

    /** The report's images: file → title, in the order the page shows them. */
    private static final Map<String, String> TITLES = titles();

    private final Path dir;
    private final Kernel kernel;
    private final Volume input;
    private final PreprocessOptions pre;
    private final Volume processed;
    private final int rangeStart;
    private final Classifier classifier;
    private final int target;
    private final boolean images;
    private final int gifSlice;
    private final Display display;
    private final List<String> written = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();
    private final Map<String, byte[]> shown = new LinkedHashMap<>();
    private final Path dicomOut;
    private final Path dicomShownAs;
    private java.awt.image.BufferedImage panelImage;
    private Geometry explainedGrid;
    private ReportPage.Frames frames;
    /** Plots not drawn (no fonts); named in one message with the last plot (the λ plot). */
    private final List<String> skippedPlots = new ArrayList<>();

    /**
     * @param input the CT as read (its grid is the output volumes')
     * @param pre the classifier's preprocessing, which the volumes are restored through
     * @param processed the preprocessed input
     * @param rangeStart where the explained volume starts in {@code processed} when it is a slice range of it
     *     (outside the range the outputs are the processed input, heatmap 0), or −1 when it is all of it
     * @param images with the images and the report; without, volumes and summary only
     * @param gifSlice the GIF's slice (processed grid), or −1 for the slice with the most heat
     * @param display the images' and the viewer's convention
     * @param dicomOut where the DICOM objects go (the input's geometry must carry a {@link DicomSource}), or null
     * @param dicomShownAs where the summary says they are (their final folder, when {@code dicomOut} is a staged
     *     one outside {@code dir}), or null for {@code dicomOut} itself
     */
    public ExplanationWriter(Path dir, Kernel kernel, Volume input, PreprocessOptions pre, Volume processed,
            int rangeStart, Classifier classifier, int target, boolean images, int gifSlice, Display display,
            Path dicomOut, Path dicomShownAs) {
        this.dir = dir;
        this.kernel = kernel;
        this.input = input;
        this.pre = pre;
        this.processed = processed;
        this.rangeStart = rangeStart;
        this.classifier = classifier;
        this.target = target;
        this.images = images;
        this.gifSlice = gifSlice;
        this.display = display;
        this.dicomOut = dicomOut;
        this.dicomShownAs = dicomShownAs;
    }

    /**
     * Writes the outputs of one chunk's explanation, then the report and the summary: {@code draft} completed
     * with the files written, the seconds since {@code startNanos} and the peak resident memory.
     */
    public ExplanationSummary write(Explanation e, ExplanationSummary draft, long startNanos, String title)
            throws IOException {
        explainedGrid = e.heatmap().geometry();
        try (OnInputGrid v = volumes(e.counterfactual(), e.reconstruction(), e.heatmap())) {
            if (images) {
                focusImages(e, e.reconstruction(), e.counterfactual(), e.heatmap());
            }
            return finish(v, draft, startNanos, title);
        }
    }

    /** As {@link #write(Explanation, ExplanationSummary, long, String)}, for a chunk sweep and its focus. */
    public ExplanationSummary write(SweepResult r, ExplanationSummary draft, long startNanos, String title)
            throws IOException {
        explainedGrid = r.heatmap().geometry();
        try (OnInputGrid v = volumes(r.counterfactual(), r.reconstruction(), r.heatmap())) {
            mosaic(r);
            if (!r.found()) {
                double floor = draft.options().stopBelow();
                warn(r.initialPrediction() < floor ? String.format(java.util.Locale.ROOT, "no counterfactual found: "
                        + "the input's prediction %.4f is below the search's floor %s, so every chunk's search "
                        + "stopped at once (λ 0), as the reference's does: a negative scan has nothing to lower. To "
                        + "explain it anyway lower the floor (--stop-below 0) or give the card a score offset (the "
                        + "reference adds +0.4 or +4); counterfactual.nii.gz is the reconstruction",
                        r.initialPrediction(), java.math.BigDecimal.valueOf(floor).stripTrailingZeros().toPlainString())
                        : String.format(java.util.Locale.ROOT, "no counterfactual found: no chunk lowered the "
                        + "prediction below the input's %.4f (the lowest over %d chunks is %.4f); "
                        + "counterfactual.nii.gz is the reconstruction", r.initialPrediction(), r.chunks().size(),
                        r.minimumPrediction()));
            }
            draft.sweep().stitchedCaveatOptional().ifPresent(this::warn);
            if (images) {
                sweepPlots(r);
                focusImages(r.focus().orElseThrow(), r.reconstruction(), r.counterfactual(), r.heatmap());
            }
            return finish(v, draft, startNanos, title);
        }
    }

    /**
     * The counterfactual and reconstruction on the input grid (HU), kept for the report's difference layer, and
     * the encoded heatmap file, which the report embeds.
     */
    private record OnInputGrid(Volume counterfactual, Volume reconstruction, byte[] heatmapNifti, double heatMax)
            implements AutoCloseable {
        @Override
        public void close() {
            counterfactual.close();
            reconstruction.close();
        }
    }

    /** The three volumes on the input grid: counterfactual and reconstruction in HU, heatmap in window units. */
    private OnInputGrid volumes(Volume cf, Volume rec, Volume heat) throws IOException {
        if (rangeStart < 0) {
            return restore(cf, rec, heat);
        }
        try (Volume zeros = Volume.filled(processed.geometry(), 0f); Volume c = processed.withSlices(rangeStart, cf);
                Volume r = processed.withSlices(rangeStart, rec); Volume h = zeros.withSlices(rangeStart, heat)) {
            return restore(c, r, h);
        }
    }

    private OnInputGrid restore(Volume cf, Volume rec, Volume heat) throws IOException {
        Volume a = kernel.restore(cf, input.geometry(), pre, true);
        Volume b = null;
        try {
            b = kernel.restore(rec, input.geometry(), pre, true);
            VolumeIO.write(a, dir.resolve(COUNTERFACTUAL));
            VolumeIO.write(b, dir.resolve(RECONSTRUCTION));
            byte[] heatNifti;
            double heatMax = 0;
            try (Volume c = kernel.restore(heat, input.geometry(), pre.withPadValue(0), false)) {
                heatNifti = NiftiWriter.encode(c, true);
                AtomicFiles.write(dir.resolve(HEATMAP), heatNifti);
                if (images) {
                    VoxelStats hs = c.stats();
                    heatMax = Math.max(Math.abs(hs.min()), Math.abs(hs.max()));
                }
            }
            written.addAll(List.of(COUNTERFACTUAL, RECONSTRUCTION, HEATMAP));
            return new OnInputGrid(a, b, heatNifti, heatMax);
        } catch (IOException | RuntimeException ex) {
            a.close();
            if (b != null) {
                b.close();
            }
            throw ex;
        }
    }

    /** The sweep's display mosaic and its heatmap on the input grid (volumes only; the report shows the result). */
    private void mosaic(SweepResult r) throws IOException {
        if (rangeStart < 0) {
            writeMosaic(r.stitched(), r.stitchedHeatmap());
            return;
        }
        try (Volume zeros = Volume.filled(processed.geometry(), 0f);
                Volume c = processed.withSlices(rangeStart, r.stitched());
                Volume h = zeros.withSlices(rangeStart, r.stitchedHeatmap())) {
            writeMosaic(c, h);
        }
    }

    private void writeMosaic(Volume stitched, Volume heat) throws IOException {
        try (Volume c = kernel.restore(stitched, input.geometry(), pre, true)) {
            VolumeIO.write(c, dir.resolve(STITCHED));
        }
        try (Volume h = kernel.restore(heat, input.geometry(), pre.withPadValue(0), false)) {
            AtomicFiles.write(dir.resolve(STITCHED_HEATMAP), NiftiWriter.encode(h, true));
        }
        written.addAll(List.of(STITCHED, STITCHED_HEATMAP));
    }

    /**
     * Per-chunk lowest prediction (bars; the explained chunk in its own colour) against the initial prediction, and
     * the change per slice: Σ heatmap² over the slice (summary.json's {@code slice_change}, window units²) smoothed
     * by the reference's 5-tap moving average ({@code slice_change_smoothed}), divided by the slice's voxels, square
     * root, times the window's width: the RMS change per voxel in HU. Without fonts neither is drawn (see
     * {@link #lambdaPlot}).
     */
    private void sweepPlots(SweepResult r) throws IOException {
        if (!PlotWriter.available()) {
            skippedPlots.addAll(List.of(CHUNK_PLOT, SLICE_PLOT));
            return;
        }
        List<SweepResult.Chunk> cs = r.chunks();
        int[] s = new int[cs.size()];
        int[] e = new int[cs.size()];
        double[] y = new double[cs.size()];
        Explanation focus = r.focus().orElse(null);
        int explained = -1;
        for (int i = 0; i < cs.size(); i++) {
            s[i] = cs.get(i).start();
            e[i] = cs.get(i).end();
            y[i] = cs.get(i).minPrediction();
            if (focus != null && s[i] == focus.chunkStart() && e[i] == focus.chunkEnd()) {
                explained = i;
            }
        }
        image(CHUNK_PLOT, PlotWriter.png(PlotWriter.chunkPrediction("lowest prediction reached by shifting each "
                + "chunk", s, e, y, r.initialPrediction(), explained)).orElseThrow());
        // Σh² per slice smoothed as the reference plots it, shown as the root mean square change per voxel
        double[] change = SweepResult.movingAverage(r.sliceChange(true),
                ExplanationSummary.SweepSummary.SMOOTHING_TAPS);
        double voxels = (double) r.heatmap().nx() * r.heatmap().ny();
        double width = pre.windowEnabled() ? pre.windowHigh() - pre.windowLow() : 1;
        for (int i = 0; i < change.length; i++) {
            change[i] = Math.sqrt(change[i] / voxels) * width;
        }
        String unit = pre.windowEnabled() ? "HU" : "input units";
        image(SLICE_PLOT, PlotWriter.png(PlotWriter.perSlice("change per slice, every chunk shifted on its own",
                "RMS change per voxel (" + unit + ")", "Σ heatmap², 5-slice moving average", 0, change))
                .orElseThrow());
    }

    /**
     * GIF and λ plot of the explained chunk; panels of the given volumes (processed grid). A volume whose slices
     * cannot be drawn (too small, not axial) gets the plot only, and a warning that says why.
     */
    private void focusImages(Explanation e, Volume rec, Volume cf, Volume heat) throws IOException {
        var notDrawable = Images.notDrawable(heat.geometry());
        if (notDrawable.isEmpty()) {
            byte[] gif = GifWriter.sweep(e, gifSlice, display);
            byte[] panels;
            try (Volume segIn = segmentation(classifier, rec, target);
                    Volume segCf = segIn == null ? null : segmentation(classifier, cf, target)) {
                panelImage = PanelWriter.render(rec, cf, heat, null, segIn, segCf, display);
                panels = Images.png(panelImage);
            }
            image(GIF, gif);
            image(PANELS, panels);
            frames = frames(e);
        } else {
            warn(GIF + " and " + PANELS + " not written: the processed volume (" + heat.geometry() + ") "
                    + notDrawable.get());
        }
        lambdaPlot(e);
    }

    /** The explained chunk's sweep frames for the report's viewer: its slab of every frame, at display depth. */
    private static ReportPage.Frames frames(Explanation e) throws IOException {
        Geometry g = e.heatmap().geometry();
        int z0 = e.chunkStart();
        int z1 = e.chunkEnd();
        int plane = g.nx() * g.ny();
        List<float[]> slabs = new ArrayList<>();
        for (int i = 0; i < e.frameCount(); i++) {
            float[] slab = new float[plane * (z1 - z0)];
            for (int z = z0; z < z1; z++) {
                System.arraycopy(e.frameSlice(i, z), 0, slab, (z - z0) * plane, plane);
            }
            slabs.add(slab);
        }
        double[] a = g.affine();
        double[] origin = Affine.apply(a, 0, 0, z0);
        double[] slabAffine = a.clone();
        slabAffine[3] = origin[0];
        slabAffine[7] = origin[1];
        slabAffine[11] = origin[2];
        byte[] nifti = NiftiWriter.encodeFrames(new Geometry(g.nx(), g.ny(), z1 - z0, slabAffine), slabs, true);
        return new ReportPage.Frames(nifti, z0, z1, e.lambdas(), e.predictions());
    }

    /**
     * The explanation as DICOM in the input's study ({@link DicomWriter}): the counterfactual as a derived CT series,
     * |counterfactual − reconstruction| in HU as a Parametric Map, and the panel as an RGB Secondary Capture (when
     * the images were drawn). Named in the outputs by their paths (relative to the output folder when inside it).
     */
    private void dicom(OnInputGrid v, Volume delta, ExplanationSummary draft) throws IOException {
        if (!draft.counterfactualFound()) {
            Files.createDirectories(dicomOut);
            warn("--dicom-out: no DICOM objects written, as no counterfactual was found (a derived CT equal to the "
                    + "reconstruction would be taken for one)");
            return;
        }
        DicomSource src = (DicomSource) input.geometry().sourceHint();
        String targetName = draft.target().name().isEmpty() ? "output " + draft.target().index()
                : draft.target().name();
        Derivation d = new Derivation("ctcf " + ExplanationSummary.Versions.ctcfVersion() + " Latent Shift "
                + "counterfactual", draft.classifier(), targetName, draft.initialPrediction(),
                draft.counterfactualPrediction());
        Files.createDirectories(dicomOut);
        List<Path> out = new ArrayList<>(DicomWriter.writeDerivedCt(v.counterfactual(), src,
                dicomOut.resolve("counterfactual"), d));
        float[] a = delta.toArray();
        for (int i = 0; i < a.length; i++) {
            a[i] = Math.abs(a[i]);
        }
        try (Volume change = Volume.of(input.geometry(), a)) {
            out.add(DicomWriter.writeParametricMap(change, "|counterfactual - reconstruction|", "[hnsf'U]", src,
                    dicomOut, d));
        }
        if (panelImage != null) {
            out.add(DicomWriter.writeSecondaryCapture(panelImage, src, dicomOut, d));
        }
        Path base = dir.toAbsolutePath().normalize();
        Path staged = dicomOut.toAbsolutePath().normalize();
        for (Path p : out) {
            Path abs = p.toAbsolutePath().normalize();
            if (dicomShownAs != null) {
                abs = dicomShownAs.resolve(staged.relativize(abs));
            }
            written.add(abs.startsWith(base) ? base.relativize(abs).toString() : abs.toString());
        }
    }

    /** Records a warning for the summary and logs it, once. */
    void warn(String message) {
        warnings.add(message);
        System.getLogger("org.ctcf.report").log(System.Logger.Level.WARNING, message + " (in " + dir + ")");
    }

    /**
     * The λ–prediction plot of an explanation (search steps, else sweep frames) with the initial prediction. It is
     * every run's last plot: where this machine cannot draw text it names every plot left out in one warning.
     */
    private void lambdaPlot(Explanation e) throws IOException {
        double[] sl = e.searchLambdas();
        double[] l = sl.length > 1 ? sl : e.lambdas();
        double[] p = sl.length > 1 ? e.searchPredictions() : e.predictions();
        java.util.Optional<byte[]> png = PlotWriter.png(PlotWriter.lambdaPrediction("prediction along the latent "
                + "shift (chunk " + e.chunkStart() + ":" + e.chunkEnd() + ")", l, p, e.initialPrediction()));
        if (png.isPresent()) {
            image(LAMBDA_PLOT, png.get());
        } else {
            skippedPlots.add(LAMBDA_PLOT);
            warn(PlotWriter.skippedMessage(skippedPlots));
        }
    }

    private void image(String name, byte[] bytes) throws IOException {
        AtomicFiles.write(dir.resolve(name), bytes);
        written.add(name);
        shown.put(name, bytes);
    }

    /** The report (with images), then the summary naming every file written, itself last. */
    private ExplanationSummary finish(OnInputGrid v, ExplanationSummary draft, long startNanos, String title)
            throws IOException {
        try (Volume delta = images || dicomOut != null ? difference(v.counterfactual(), v.reconstruction())
                : null) {
            if (dicomOut != null) {
                dicom(v, delta, draft);
            }
            if (images) {
                written.add(REPORT);
            }
            written.add(SUMMARY);
            ExplanationSummary summary = draft.withOutputs(written, warnings,
                    (System.nanoTime() - startNanos) / 1e9, ProcessMemory.peakMiB());
            if (images) {
                writeReport(dir.resolve(REPORT), title, summary.toMap(), shown, input, v.counterfactual(), delta,
                        v.heatmapNifti(), v.heatMax(), explainedGrid, frames, display);
            }
            AtomicFiles.write(dir.resolve(SUMMARY), summary.toJson());
            return summary;
        }
    }

    /** counterfactual − reconstruction (HU, signed) on their grid: what the report and the DICOM change map show. */
    static Volume difference(Volume counterfactual, Volume reconstruction) {
        float[] a = counterfactual.toArray();
        float[] b = reconstruction.toArray();
        for (int i = 0; i < a.length; i++) {
            a[i] -= b[i];
        }
        return Volume.of(counterfactual.geometry(), a);
    }

    /**
     * The report: {@code images} (file name → bytes) under their titles, and the viewer's layers on the input grid:
     * the input, the counterfactual, {@code delta} = counterfactual − reconstruction in HU ({@link #difference}) and
     * the heatmap.
     *
     * @param heatMax the heatmap's largest |value|
     * @param explained the explained volume's grid (processed), whose slice indices the charts use
     * @param frames the explained chunk's sweep frames, or null
     */
    static void writeReport(Path file, String title, Map<String, Object> summary, Map<String, byte[]> images,
            Volume input, Volume counterfactual, Volume delta, byte[] heatmapNifti, double heatMax,
            Geometry explained, ReportPage.Frames frames, Display display) throws IOException {
        Map<String, byte[]> shown = new LinkedHashMap<>();
        TITLES.forEach((name, t) -> {
            if (images.containsKey(name)) {
                shown.put(t, images.get(name));
            }
        });
        VoxelStats stats = delta.stats();
        double max = Math.max(Math.abs(stats.min()), Math.abs(stats.max()));
        // the viewer's copies in whole HU (int16): a quarter of the floats; the files on disk keep every digit
        ReportWriter.write(file, new ReportPage(title, summary, shown, NiftiWriter.encodeInt16(input, true),
                NiftiWriter.encodeInt16(counterfactual, true), NiftiWriter.encodeInt16(delta, true), max, heatmapNifti,
                heatMax, display, explained.affine(), explained.dims(), frames));
    }

    private static Map<String, String> titles() {
        Map<String, String> t = new LinkedHashMap<>();
        t.put(PANELS, "Input, counterfactual and difference");
        t.put(GIF, "Latent shift sweep (ping-pong)");
        t.put(LAMBDA_PLOT, "Prediction along the shift");
        t.put(CHUNK_PLOT, "Per-chunk localization");
        t.put(SLICE_PLOT, "Change per slice");
        return t;
    }

    /**
     * The classifier's segmentation of a processed volume on that volume's grid (nearest neighbour from the output
     * map), or null for a classifier without maps: sigmoid ≥ 0.5 of a one-channel map, else argmax == target.
     */
    static Volume segmentation(Classifier clf, Volume x, int target) {
        ClassifierCard card = clf.card();
        if (card == null || !card.outputKind().equals("segmentation")) {
            return null;
        }
        float[] labels;
        try (Volume l = clf.segmentation(x)) {  // the kernel's label map, nearest-neighbour onto x's grid
            labels = l.toArray();
        } catch (CtcfException.InvalidArgumentException e) {
            return null;  // not a [1, C, D, H, W] map: no outline
        }
        // One channel: label 1 is the foreground; more: the target's channel.
        float on = card.outputCount() == 1 ? 1f : target;
        for (int i = 0; i < labels.length; i++) {
            labels[i] = labels[i] == on ? 1f : 0f;
        }
        return Volume.of(x.geometry(), labels);
    }
}
