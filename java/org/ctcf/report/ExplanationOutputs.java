package org.ctcf.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.api.Classifier;
import org.ctcf.api.ClassifierCard;
import org.ctcf.api.Explanation;
import org.ctcf.core.Geometry;
import org.ctcf.api.Kernel;
import org.ctcf.api.Metrics;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.SweepResult;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;

/**
 * Everything {@code ctcf explain} writes, from an explanation (one chunk) and/or a chunk sweep, as Java calls:
 * volumes on the input grid, the sweep GIF, the panels, the plots, and {@code report.html}. Every file is written
 * to a temporary name and renamed, so an interrupted run leaves no file that looks complete.
 */
public final class ExplanationOutputs {
    public static final String COUNTERFACTUAL = "counterfactual.nii.gz";
    public static final String RECONSTRUCTION = "reconstruction.nii.gz";
    public static final String HEATMAP = "heatmap.nii.gz";
    public static final String GIF = "sweep.gif";
    public static final String PANELS = "panels.png";
    public static final String LAMBDA_PLOT = "lambda_prediction.png";
    public static final String CHUNK_PLOT = "chunk_prediction.png";
    public static final String SLICE_PLOT = "slice_change.png";
    public static final String REPORT = "report.html";

    private ExplanationOutputs() {
    }

    /**
     * The three volumes on the input's grid (counterfactual and reconstruction in HU, heatmap in window units).
     */
    public static void writeVolumes(Kernel k, Path dir, Volume cf, Volume rec, Volume heat, Volume ct,
            PreprocessOptions pre) throws IOException {
        Files.createDirectories(dir);
        try (Volume a = k.restore(cf, ct.geometry(), pre, true); Volume b = k.restore(rec, ct.geometry(), pre, true);
                Volume c = k.restore(heat, ct.geometry(), pre.withPadValue(0), false)) {
            VolumeIO.write(a, dir.resolve(COUNTERFACTUAL));
            VolumeIO.write(b, dir.resolve(RECONSTRUCTION));
            VolumeIO.write(c, dir.resolve(HEATMAP));
        }
    }

    /** The λ–prediction plot of an explanation (search steps and sweep frames). */
    public static void writeLambdaPlot(Explanation e, Path out) throws IOException {
        double[] sl = e.searchLambdas();
        double[] sp = e.searchPredictions();
        double[] l = sl.length > 1 ? sl : e.lambdas();
        double[] p = sl.length > 1 ? sp : e.predictions();
        PlotWriter.write(PlotWriter.line("prediction along the latent shift (chunk " + e.chunkStart() + ":"
                + e.chunkEnd() + ")", "lambda", "prediction", l, p, e.initialPrediction()), out);
    }

    /** Per-chunk minimum prediction (bars) against the initial prediction, and the per-slice change. */
    public static void writeSweepPlots(SweepResult r, Path chunkPlot, Path slicePlot) throws IOException {
        List<SweepResult.Chunk> cs = r.chunks();
        double[] s = new double[cs.size()];
        double[] e = new double[cs.size()];
        double[] y = new double[cs.size()];
        for (int i = 0; i < cs.size(); i++) {
            s[i] = cs.get(i).start();
            e[i] = cs.get(i).end();
            y[i] = cs.get(i).minPrediction();
        }
        PlotWriter.write(PlotWriter.bars("lowest prediction reached by shifting each chunk (dashed: initial)",
                "slice", "prediction", s, e, y, r.initialPrediction()), chunkPlot);
        double[] change = r.sliceChange();
        double[] z = new double[change.length];
        for (int i = 0; i < z.length; i++) {
            z[i] = i;
        }
        PlotWriter.write(PlotWriter.line("mean absolute change per slice (stitched counterfactual)", "slice",
                "mean |change| (window units)", z, change, Double.NaN), slicePlot);
    }

    /**
     * The classifier's segmentation of a processed volume on that volume's grid (nearest neighbour from the output
     * map), or null for a classifier without maps: sigmoid ≥ 0.5 of a one-channel map, else argmax == target.
     */
    public static Volume segmentation(Classifier clf, Volume x, int target) {
        ClassifierCard card = clf.card();
        if (card == null || !card.outputKind().equals("segmentation")) {
            return null;
        }
        Classifier.Outputs o = clf.outputs(x);
        long[] sh = o.shape();
        if (sh.length != 5) {
            return null;
        }
        int c = (int) sh[1];
        int d = (int) sh[2];
        int h = (int) sh[3];
        int w = (int) sh[4];
        float[] v = o.values();
        float[] seg = new float[(int) x.voxelCount()];
        for (int z = 0; z < x.nz(); z++) {
            int oz = Math.min(d - 1, z * d / x.nz());
            for (int y = 0; y < x.ny(); y++) {
                int oy = Math.min(h - 1, y * h / x.ny());
                for (int xx = 0; xx < x.nx(); xx++) {
                    int ox = Math.min(w - 1, xx * w / x.nx());
                    int base = (oz * h + oy) * w + ox;
                    boolean on;
                    if (c == 1) {
                        on = v[base] >= 0;  // sigmoid(logit) >= 0.5
                    } else {
                        int best = 0;
                        for (int k = 1; k < c; k++) {
                            if (v[k * d * h * w + base] > v[best * d * h * w + base]) {
                                best = k;
                            }
                        }
                        on = best == target;
                    }
                    seg[(z * x.ny() + y) * x.nx() + xx] = on ? 1f : 0f;
                }
            }
        }
        return Volume.of(x.geometry(), seg);
    }

    /** The input written as gzip NIfTI for the report's viewer (a temporary file the caller deletes). */
    static Path tempNifti(Volume v, Path dir, String name) throws IOException {
        Path f = dir.resolve("." + name + ".report-tmp.nii.gz");
        VolumeIO.write(v, f);
        return f;
    }

    /**
     * Writes the report: images already in {@code dir}, volumes from {@code dir} and the input {@code ct}.
     * The difference layer is |counterfactual − reconstruction| on the input grid.
     */
    public static void writeReport(Path dir, String title, Map<String, Object> summary, Volume ct) throws IOException {
        Map<String, Path> images = new LinkedHashMap<>();
        images.put("Input, counterfactual and difference", dir.resolve(PANELS));
        images.put("Latent shift sweep (ping-pong)", dir.resolve(GIF));
        images.put("Prediction along the shift", dir.resolve(LAMBDA_PLOT));
        images.put("Per-chunk localization", dir.resolve(CHUNK_PLOT));
        images.put("Change per slice", dir.resolve(SLICE_PLOT));
        Path in = tempNifti(ct, dir, "input");
        Path diff = null;
        try (Volume cf = VolumeIO.read(dir.resolve(COUNTERFACTUAL)); Volume rec = VolumeIO.read(dir.resolve(RECONSTRUCTION))) {
            float[] a = Metrics.toArray(cf);
            float[] b = Metrics.toArray(rec);
            Geometry g = ct.geometry();
            float[] dd = new float[a.length];
            for (int i = 0; i < a.length; i++) {
                dd[i] = Math.abs(a[i] - b[i]) / 2000f;  // window units, as the heatmap
            }
            try (Volume d = Volume.of(g, dd)) {
                diff = tempNifti(d, dir, "difference");
            }
            Map<String, Path> volumes = new LinkedHashMap<>();
            volumes.put("input", in);
            volumes.put("counterfactual", dir.resolve(COUNTERFACTUAL));
            volumes.put("difference", diff);
            ReportWriter.write(dir.resolve(REPORT), title, summary, images, volumes);
        } finally {
            Files.deleteIfExists(in);
            if (diff != null) {
                Files.deleteIfExists(diff);
            }
        }
    }
}
