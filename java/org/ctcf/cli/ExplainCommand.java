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
import org.ctcf.api.Volume;
import org.ctcf.io.VolumeIO;

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
    "Explain a classifier's score on a CT volume with Latent Shift.",
    "Writes counterfactual.nii.gz, reconstruction.nii.gz and heatmap.nii.gz (on the input grid) and summary.json."})
final class ExplainCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "VOLUME")
    Path input;

    @Mixin
    AeCommand.AutoencoderOptions ae;

    @Option(names = "--classifier", required = true, paramLabel = "CARD", description = "The classifier's card.")
    Path card;

    @Option(names = "--target", paramLabel = "NAME", description = "Class name or index (default: the card's).")
    String target;

    @Option(names = "--slices", paramLabel = "A:B", description = "Explain one chunk of slices [A, B) (processed grid).")
    String slices;

    @Option(names = "--chunk", paramLabel = "N", description = "Chunk sweep with chunks of N slices.")
    Integer chunk;

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
            description = "lambda_sweep_steps (default: 10 for one chunk, 2 for a chunk sweep, as the reference).")
    Integer sweepSteps;

    @Option(names = "--heatmap", defaultValue = "int", description = "int, mean, max or mm. Default: ${DEFAULT-VALUE}.")
    String heatmap;

    @Option(names = "--fix-range", paramLabel = "LOW,HIGH", split = ",", description = "A fixed lambda range (no search).")
    double[] fixRange;

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

    @Override
    public Integer call() throws Exception {
        if ((slices == null) == (chunk == null)) {
            throw new IllegalArgumentException("give exactly one of --slices A:B or --chunk N");
        }
        if (fixRange != null && fixRange.length != 2) {
            throw new IllegalArgumentException("--fix-range takes LOW,HIGH");
        }
        var o = spec.commandLine().getOut();
        boolean quiet = spec.root().userObject() instanceof Main m && m.global.quiet;
        Files.createDirectories(out);
        long t0 = System.nanoTime();
        try (Volume ct = VolumeIO.read(input); Kernel k = kernel.open(); SliceAutoencoder model = ae.load(k);
                Classifier clf = Classifier.load(card, k)) {
            Target t = clf.target(target);
            PreprocessOptions pre = clf.card().preprocessing();
            ExplainOptions.Builder b = ExplainOptions.builder().target(t).searchPredDiff(predDiff).searchStepSize(step)
                    .searchMaxSteps(maxSteps).searchMaxPixelDiffPct(pixelCap).heatmap(HeatmapMethod.parse(heatmap))
                    .referenceMode(reference).decoderBatch(ae.batch);
            if (fixRange != null) {
                b.fixRange(fixRange[0], fixRange[1]);
            }
            Progress.Listener listener = quiet || json ? Progress.Listener.NONE : p -> {
                if (p.phase() == Progress.Phase.CHUNK_DONE) {
                    o.printf(Locale.ROOT, "chunk %d/%d done: lambda %.0f, prediction %.4f%n", p.chunk() + 1,
                            p.chunks(), p.lambda(), p.prediction());
                    o.flush();
                }
                return true;
            };
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("input", input.toString());
            summary.put("classifier", clf.card().name());
            summary.put("target", Map.of("index", t.index(), "name", clf.card().classes().isEmpty() ? ""
                    : clf.card().classes().get(t.index()), "offset", t.offset()));
            summary.put("autoencoder", ae.weights.toString());
            summary.put("mode", reference ? "reference" : "fast");
            try (Volume x = k.preprocess(ct, pre)) {
                summary.put("processed_grid", x.geometry().toString());
                if (slices != null) {
                    String[] ab = slices.split(":");
                    if (ab.length != 2) {
                        throw new IllegalArgumentException("--slices takes A:B");
                    }
                    int a = Integer.parseInt(ab[0]);
                    int bnd = Integer.parseInt(ab[1]);
                    b.lambdaSweepSteps(sweepSteps != null ? sweepSteps : 10);
                    try (Explanation e = LatentShift.explain(x, model, clf, b.build(), a, bnd, listener)) {
                        summary.put("chunk", List.of(a, bnd));
                        summary.put("initial_prediction", e.initialPrediction());
                        summary.put("counterfactual_prediction", e.counterfactualPrediction());
                        summary.put("lambda_bound", e.bound());
                        summary.put("stop_reason", e.stopReason().name());
                        summary.put("lambdas", e.lambdas());
                        summary.put("predictions", e.predictions());
                        summary.put("search_lambdas", e.searchLambdas());
                        summary.put("search_predictions", e.searchPredictions());
                        summary.put("timings", timings(e.timings()));
                        write(k, e.counterfactual(), e.reconstruction(), e.heatmap(), ct, pre);
                    }
                } else {
                    b.lambdaSweepSteps(sweepSteps != null ? sweepSteps : 2);
                    ChunkSweep s = new ChunkSweep(chunk, stride != null ? stride : chunk, offset, 0, 0);
                    try (SweepResult r = LatentShift.sweep(x, model, clf, b.build(), s, listener)) {
                        summary.put("chunk_size", chunk);
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
                        summary.put("timings", timings(r.timings()));
                        write(k, r.counterfactual(), r.reconstruction(), r.heatmap(), ct, pre);
                    }
                }
            }
            summary.put("wall_seconds", (System.nanoTime() - t0) / 1e9);
            ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            byte[] text = mapper.writeValueAsBytes(summary);
            atomicWrite(out.resolve("summary.json"), text);
            if (json) {
                o.println(new String(text, StandardCharsets.UTF_8));
            } else if (!quiet) {
                o.printf(Locale.ROOT, "prediction %.4f -> %.4f (%s); outputs in %s%n",
                        (double) summary.get("initial_prediction"),
                        (double) summary.getOrDefault("counterfactual_prediction", summary.get("stitched_prediction")),
                        summary.getOrDefault("stop_reason", "chunk sweep"), out);
            }
        }
        o.flush();
        return ExitCode.OK.code();
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

    /** The three volumes on the input's grid: counterfactual and reconstruction in HU, heatmap in window units. */
    private void write(Kernel k, Volume cf, Volume rec, Volume heat, Volume ct, PreprocessOptions pre)
            throws IOException {
        try (Volume a = k.restore(cf, ct.geometry(), pre, true); Volume b = k.restore(rec, ct.geometry(), pre, true);
                Volume c = k.restore(heat, ct.geometry(), pre.withPadValue(0), false)) {
            VolumeIO.write(a, out.resolve("counterfactual.nii.gz"));
            VolumeIO.write(b, out.resolve("reconstruction.nii.gz"));
            VolumeIO.write(c, out.resolve("heatmap.nii.gz"));
        }
    }

    private static void atomicWrite(Path file, byte[] data) throws IOException {
        Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), "." + file.getFileName(), ".partial");
        try {
            Files.write(tmp, data);
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
