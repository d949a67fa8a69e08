package org.ctcf.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.ctcf.api.ChunkSweep;
import org.ctcf.api.Classifier;
import org.ctcf.api.ExplainOptions;
import org.ctcf.api.Explanation;
import org.ctcf.api.HeatmapMethod;
import org.ctcf.api.Kernel;
import org.ctcf.api.LatentShift;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.Progress;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.SweepResult;
import org.ctcf.api.Target;
import org.ctcf.api.Timings;
import org.ctcf.core.Volume;
import org.ctcf.io.AtomicFiles;
import org.ctcf.io.VolumeIO;
import org.ctcf.report.ExplanationOutputs;
import org.ctcf.report.GifWriter;
import org.ctcf.report.PanelWriter;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ctcf explain}: the counterfactual of a CT volume for a classifier, as volumes on the input grid and a
 * summary. One chunk ({@code --slices a:b}) or a chunk sweep ({@code --chunk N}).
 */
@Command(mixinStandardHelpOptions = true, name = "explain", description = {
    "Explain a classifier's score on a CT volume with Latent Shift. Defaults: the shipped autoencoder and",
    "nodule detector (models/), and a chunk sweep with chunks of 16 slices followed by a 10-frame",
    "explanation of the chunk that lowers the prediction most.",
    "Writes to --out: counterfactual.nii.gz, reconstruction.nii.gz, heatmap.nii.gz (input grid and affine),",
    "sweep.gif, panels.png, lambda_prediction.png, chunk_prediction.png, slice_change.png (sweeps),",
    "summary.json and report.html (self-contained, with a 3-D viewer)."})
final class ExplainCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "VOLUME")
    Path input;

    @Mixin
    AeCommand.AutoencoderOptions ae;

    @Mixin
    ClassifierOptions classifier;

    @Option(names = "--slices", paramLabel = "A:B", description = "Explain one chunk of slices [A, B) (processed grid).")
    String slices;

    @Option(names = "--range", paramLabel = "A:B", description = {"Use only slices [A, B) of the processed volume as "
            + "the volume (the score, pixel cap and outputs see only them; the paper's lung-size notebook explains one "
            + "slice this way)."})
    String range;

    private int rangeStart;

    @Option(names = "--chunk", paramLabel = "N", description = "Chunk sweep with chunks of N slices (default 16).")
    Integer chunk;

    @Option(names = "--frames", defaultValue = "10", paramLabel = "N",
            description = "Sweep frames of the explained chunk (GIF, lambda plot). Default: ${DEFAULT-VALUE}.")
    int frames;

    @Option(names = "--show-slice", paramLabel = "Z",
            description = "Slice (processed grid) of the GIF; default: the slice with the most change.")
    Integer showSlice;

    @Option(names = "--no-report", description = "Skip the images and report.html (volumes and summary only).")
    boolean noReport;

    @Option(names = "--stride", paramLabel = "N", description = "Sweep stride (default: the chunk size).")
    Integer stride;

    @Option(names = "--offset", defaultValue = "0", paramLabel = "N", description = "Sweep offset.")
    int offset;

    @Option(names = "--pred-diff", defaultValue = "0.8", description = "search_pred_diff. Default: ${DEFAULT-VALUE}.")
    double predDiff;

    @Option(names = "--step", defaultValue = "10", description = "search_step_size. Default: ${DEFAULT-VALUE}.")
    double step;

    @Option(names = "--max-steps", defaultValue = "3000", description = "search_max_steps. Default: ${DEFAULT-VALUE}.")
    double maxSteps;

    @Option(names = "--pixel-cap", defaultValue = "0.05",
            description = "search_max_pixel_diff_pct. Default: ${DEFAULT-VALUE}.")
    double pixelCap;

    @Option(names = "--sweep-steps", paramLabel = "N",
            description = "lambda_sweep_steps of a chunk sweep (default 2, as the reference); --slices uses --frames.")
    Integer sweepSteps;

    @Option(names = "--heatmap", defaultValue = "int", description = "int, mean, max or mm. Default: ${DEFAULT-VALUE}.")
    String heatmap;

    @Option(names = "--fix-range", paramLabel = "LOW,HIGH", split = ",", description = "A fixed lambda range (no search).")
    double[] fixRange;

    @Option(names = "--autocast", defaultValue = "off", paramLabel = "off|bf16|fp16",
            description = "Run the decoder and the classifier in bfloat16 or float16 (the encoder and the search stay "
                    + "float32; numbers change slightly). Default: ${DEFAULT-VALUE}.")
    String autocast;

    @Option(names = "--reference", description = "Run the literal published algorithm (slow).")
    boolean reference;

    @Option(names = {"-o", "--out"}, defaultValue = "ctcf-out", paramLabel = "DIR", description = "Output folder.")
    Path out;

    @Option(names = "--json", description = "Print the summary as JSON on stdout.")
    boolean json;

    @Mixin
    PreprocessCommand.KernelOptions kernel;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    static final int DEFAULT_CHUNK = 16;

    @Override
    public Integer call() throws Exception {
        if (slices != null && chunk != null) {
            throw new IllegalArgumentException("give at most one of --slices A:B or --chunk N");
        }
        if (fixRange != null && fixRange.length != 2) {
            throw new IllegalArgumentException("--fix-range takes LOW,HIGH");
        }
        if (frames < 2) {
            throw new IllegalArgumentException("--frames must be >= 2");
        }
        if (sweepSteps != null && sweepSteps < 2) {
            throw new IllegalArgumentException("--sweep-steps must be >= 2 (the sweep runs from the lambda bound to 0, "
                    + "as the reference asserts), not " + sweepSteps);
        }
        var o = spec.commandLine().getOut();
        boolean quiet = spec.root().userObject() instanceof Main m && m.global.quiet;
        long t0 = System.nanoTime();
        try (Volume ct = VolumeIO.read(input); Kernel k = kernel.open(); CancelOnExit exit = new CancelOnExit(k);
                SliceAutoencoder model = ae.load(k); Classifier clf = classifier.load(k)) {
            Target t = classifier.target(clf);
            PreprocessOptions pre = clf.card().preprocessing();
            ExplainOptions.Builder b = ExplainOptions.builder().target(t).searchPredDiff(predDiff).searchStepSize(step)
                    .searchMaxSteps(maxSteps).searchMaxPixelDiffPct(pixelCap).heatmap(HeatmapMethod.parse(heatmap))
                    .referenceMode(reference).decoderBatch(ae.batch)
                    .autocast(ExplainOptions.Autocast.parse(autocast));
            if (fixRange != null) {
                b.fixRange(fixRange[0], fixRange[1]);
            }
            Progress.Listener listener = quiet || json ? Progress.Listener.NONE : new ProgressPrinter(o);
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("input", input.toString());
            summary.put("input_sha256", sha256(input));
            summary.put("input_grid", ct.geometry().toString());
            summary.put("classifier", clf.card().name());
            summary.put("classifier_card", classifier.cardFile().toString());
            summary.put("target", Map.of("index", t.index(), "name", clf.card().classes().isEmpty() ? ""
                    : clf.card().classes().get(t.index()), "offset", t.offset()));
            summary.put("autoencoder", ae.source().toString());
            summary.put("slice_wrapper", new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(model.wrapper().toJson()));
            summary.put("classifier_orientation", clf.card().orientation().name().toLowerCase(java.util.Locale.ROOT));
            summary.put("mode", reference ? "reference" : "fast");
            summary.put("versions", Map.of("ctcf", Main.version(), "kernel", Kernel.buildInfo(), "java",
                    Runtime.version().toString()));
            Map<String, Object> opts = new LinkedHashMap<>();
            opts.put("search_pred_diff", predDiff);
            opts.put("search_step_size", step);
            opts.put("search_max_steps", maxSteps);
            opts.put("search_max_pixel_diff_pct", pixelCap);
            opts.put("heatmap", heatmap);
            opts.put("autocast", ExplainOptions.Autocast.parse(autocast).name().toLowerCase(java.util.Locale.ROOT));
            opts.put("frames", frames);
            opts.put("fix_range", fixRange == null ? null : List.of(fixRange[0], fixRange[1]));
            opts.put("device", kernel.device);
            opts.put("threads", kernel.threads);
            summary.put("options", opts);
            Files.createDirectories(out);
            List<String> written = new java.util.ArrayList<>();
            try (Volume processed = k.preprocess(ct, pre); Volume ranged = sliceRange(processed)) {
                Volume x = ranged != null ? ranged : processed;
                if (ranged != null) {
                    summary.put("range", range);
                }
                summary.put("processed_grid", x.geometry().toString());
                int nz = x.nz();
                if (slices != null) {
                    int[] span = sliceSpan("--slices", slices, nz);
                    int a = span[0];
                    int bnd = span[1];
                    b.lambdaSweepSteps(frames);
                    try (Explanation e = LatentShift.explain(x, model, clf, b.build(), a, bnd, listener)) {
                        summary.put("chunk", List.of(a, bnd));
                        putExplanation(summary, e);
                        writeVolumes(k, out, processed, e.counterfactual(), e.reconstruction(), e.heatmap(), ct,
                                pre);
                        if (!noReport) {
                            writeFocusImages(e, x, clf, t, e.reconstruction(), e.counterfactual(), e.heatmap());
                        }
                    }
                } else {
                    int n = chunk != null ? chunk : DEFAULT_CHUNK;
                    if (n < 1 || n > nz) {
                        throw new IllegalArgumentException("--chunk " + n + " must be between 1 and the processed "
                                + "volume's " + nz + " slices");
                    }
                    int st = stride != null ? stride : n;
                    if (st < 1) {
                        throw new IllegalArgumentException("--stride must be >= 1");
                    }
                    b.lambdaSweepSteps(sweepSteps != null ? sweepSteps : 2).focusFrames(noReport ? 0 : frames);
                    ChunkSweep s = new ChunkSweep(n, st, offset, 0, 0);
                    try (SweepResult r = LatentShift.sweep(x, model, clf, b.build(), s, listener)) {
                        summary.put("chunk_size", n);
                        summary.put("stride", st);
                        summary.put("initial_prediction", r.initialPrediction());
                        summary.put("minimum_prediction", r.minimumPrediction());
                        summary.put("stitched_prediction", r.stitchedPrediction());
                        summary.put("chunks", r.chunks().stream().map(c -> {
                            Map<String, Object> m = new LinkedHashMap<>();
                            m.put("start", c.start());
                            m.put("end", c.end());
                            m.put("min_prediction", c.minPrediction());
                            m.put("lambda_bound", c.bound());
                            m.put("stop_reason", c.stopReason().name());
                            m.put("pixel_change", c.pixelChange());
                            m.put("rank", c.rank());
                            return m;
                        }).toList());
                        summary.put("slice_prediction", r.slicePrediction());
                        summary.put("slice_change", r.sliceChange());
                        summary.put("slice_change_measure", "sum of |heatmap| over each slice (the reference's plot)");
                        summary.put("timings", timings(r.timings()));
                        writeVolumes(k, out, processed, r.counterfactual(), r.reconstruction(), r.heatmap(), ct,
                                pre);
                        if (!noReport) {
                            ExplanationOutputs.writeSweepPlots(r, out.resolve(ExplanationOutputs.CHUNK_PLOT),
                                    out.resolve(ExplanationOutputs.SLICE_PLOT));
                            written.add(ExplanationOutputs.CHUNK_PLOT);
                            written.add(ExplanationOutputs.SLICE_PLOT);
                            Explanation e = r.focus().orElseThrow();
                            Map<String, Object> focus = new LinkedHashMap<>();
                            focus.put("chunk", List.of(e.chunkStart(), e.chunkEnd()));
                            putExplanation(focus, e);
                            summary.put("explained_chunk", focus);
                            writeFocusImages(e, x, clf, t, r.reconstruction(), r.counterfactual(), r.heatmap());
                        }
                    }
                }
            }
            written.addAll(0, List.of(ExplanationOutputs.COUNTERFACTUAL, ExplanationOutputs.RECONSTRUCTION,
                    ExplanationOutputs.HEATMAP));
            if (!noReport) {
                written.addAll(List.of(ExplanationOutputs.GIF, ExplanationOutputs.PANELS,
                        ExplanationOutputs.LAMBDA_PLOT, ExplanationOutputs.REPORT));
            }
            written.add("summary.json");
            summary.put("outputs", written);
            summary.put("wall_seconds", (System.nanoTime() - t0) / 1e9);
            summary.put("peak_resident_mib", org.ctcf.api.ProcessMemory.peakMiB());
            ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            byte[] text = mapper.writeValueAsBytes(summary);
            if (!noReport) {
                ExplanationOutputs.writeReport(out, "ctcf explanation: " + input.getFileName() + " — "
                        + clf.card().name(), summary, ct);
            }
            AtomicFiles.write(out.resolve("summary.json"), text);
            if (json) {
                o.println(new String(text, StandardCharsets.UTF_8));
            } else if (!quiet) {
                Object cfPred = summary.containsKey("counterfactual_prediction") ? summary.get("counterfactual_prediction")
                        : summary.get("stitched_prediction");
                o.printf(Locale.ROOT, "prediction %.4f -> %.4f (%s); %.1f s; outputs in %s%n",
                        (double) summary.get("initial_prediction"), (double) cfPred,
                        summary.getOrDefault("stop_reason", "chunk sweep, stitched"),
                        (double) summary.get("wall_seconds"), out);
            }
        }
        o.flush();
        return ExitCode.OK.code();
    }

    private static void putExplanation(Map<String, Object> m, Explanation e) {
        m.put("initial_prediction", e.initialPrediction());
        m.put("counterfactual_prediction", e.counterfactualPrediction());
        m.put("lambda_bound", e.bound());
        m.put("stop_reason", e.stopReason().name());
        m.put("lambdas", e.lambdas());
        m.put("predictions", e.predictions());
        m.put("search_lambdas", e.searchLambdas());
        m.put("search_predictions", e.searchPredictions());
        m.put("timings", timings(e.timings()));
    }

    /** GIF and λ plot of the explained chunk; panels of the given volumes (processed grid). */
    private void writeFocusImages(Explanation e, Volume x, Classifier clf, Target t, Volume rec, Volume cf,
            Volume heat) throws IOException {
        GifWriter.write(e, showSlice != null ? showSlice : -1, out.resolve(ExplanationOutputs.GIF));
        ExplanationOutputs.writeLambdaPlot(e, out.resolve(ExplanationOutputs.LAMBDA_PLOT));
        try (Volume segIn = ExplanationOutputs.segmentation(clf, rec, t.index());
                Volume segCf = segIn == null ? null : ExplanationOutputs.segmentation(clf, cf, t.index())) {
            PanelWriter.write(rec, cf, heat, null, segIn, segCf, out.resolve(ExplanationOutputs.PANELS));
        }
    }

    private static String sha256(Path f) throws IOException {
        try (var in = Files.newInputStream(f)) {
            var md = java.security.MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0;) {
                md.update(buf, 0, n);
            }
            return java.util.HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Progress: in place on a terminal (chunk and λ step), one line per chunk otherwise. */
    static final class ProgressPrinter implements Progress.Listener {
        private final java.io.PrintWriter o;
        private final boolean tty = System.console() != null;

        ProgressPrinter(java.io.PrintWriter o) {
            this.o = o;
        }

        @Override
        public boolean onProgress(Progress p) {
            if (p.phase() == Progress.Phase.CHUNK_DONE) {
                o.printf(Locale.ROOT, "%schunk %d/%d done: lambda %.0f, prediction %.4f%n", tty ? "\r\u001b[K" : "",
                        p.chunk() + 1, p.chunks(), p.lambda(), p.prediction());
                o.flush();
            } else if (tty && (p.phase() == Progress.Phase.SEARCH_STEP || p.phase() == Progress.Phase.SWEEP_FRAME)) {
                o.printf(Locale.ROOT, "\rchunk %d/%d %s %d: lambda %.0f, prediction %.4f\u001b[K", p.chunk() + 1,
                        Math.max(1, p.chunks()), p.phase() == Progress.Phase.SEARCH_STEP ? "search step" : "frame",
                        p.step() + 1, p.lambda(), p.prediction());
                o.flush();
            }
            return true;
        }
    }

    private static Map<String, Object> timings(Timings t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("encode_decode_s", t.encodeDecode());
        m.put("gradient_s", t.gradient());
        m.put("search_s", t.search());
        m.put("sweep_frames_s", t.sweepFrames());
        m.put("total_s", t.total());
        m.put("lambdas_evaluated", t.lambdasEvaluated());
        m.put("slices_decoded", t.slicesDecoded());
        m.put("classifier_calls", t.classifierCalls());
        m.put("peak_resident_mib", t.peakResidentMiB());
        return m;
    }


    /** [A, B) of an A:B option, checked against the processed volume's {@code nz} slices. */
    static int[] sliceSpan(String option, String text, int nz) {
        String[] ab = text.split(":");
        int a;
        int b;
        try {
            if (ab.length != 2) {
                throw new NumberFormatException();
            }
            a = Integer.parseInt(ab[0].strip());
            b = Integer.parseInt(ab[1].strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " takes A:B with two slice numbers, not " + text);
        }
        if (a < 0 || b > nz || a >= b) {
            throw new IllegalArgumentException(option + " " + text + " is outside the processed volume's " + nz
                    + " slices (0:" + nz + ")");
        }
        return new int[] {a, b};
    }

    /** The --range slices of the processed volume as a volume of their own, or null without --range. */
    private Volume sliceRange(Volume processed) {
        if (range == null) {
            return null;
        }
        int[] span = sliceSpan("--range", range, processed.nz());
        int a = span[0];
        int b = span[1];
        rangeStart = a;
        return processed.slices(a, b);
    }

    /** The output volumes on the input grid; with --range, slices outside it are the processed input (heatmap 0). */
    private void writeVolumes(Kernel k, Path dir, Volume processed, Volume cf, Volume rec, Volume heat, Volume ct,
            PreprocessOptions pre) throws java.io.IOException {
        if (range == null) {
            ExplanationOutputs.writeVolumes(k, dir, cf, rec, heat, ct, pre);
            return;
        }
        int a = rangeStart;
        try (Volume zeros = Volume.filled(processed.geometry(), 0f); Volume c = processed.withSlices(a, cf);
                Volume r = processed.withSlices(a, rec); Volume h = zeros.withSlices(a, heat)) {
            ExplanationOutputs.writeVolumes(k, dir, c, r, h, ct, pre);
        }
    }
}
