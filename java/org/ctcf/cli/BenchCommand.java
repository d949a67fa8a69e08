package org.ctcf.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;

import org.ctcf.api.ChunkSweep;
import org.ctcf.api.ExplainOptions;
import org.ctcf.core.Geometry;
import org.ctcf.api.LatentShift;
import org.ctcf.api.ProcessMemory;
import org.ctcf.api.SweepResult;
import org.ctcf.api.Kernel;
import org.ctcf.api.Latents;
import org.ctcf.api.Models;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.SliceWrapper;
import org.ctcf.core.Volume;
import org.ctcf.api.VqConfig;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ctcf bench}: throughput and memory benchmarks (never part of the tests). */
@Command(mixinStandardHelpOptions = true, name = "bench",
        description = "Measure the speed and memory of the autoencoder and of Latent Shift.",
        subcommands = {BenchCommand.Ae.class, BenchCommand.Explain.class, BenchIoCommand.class})
final class BenchCommand implements Runnable {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The benchmarks' input: a smooth [0, 1] pattern plus seeded noise, the same in every run. */
    static void fillBenchmarkPattern(Volume v) {
        Random r = new Random(1);
        for (int z = 0; z < v.nz(); z++) {
            for (int y = 0; y < v.ny(); y++) {
                for (int x = 0; x < v.nx(); x++) {
                    v.set(x, y, z, (float) (0.5 + 0.25 * Math.sin(0.2 * x + 0.1 * z) * Math.cos(0.15 * y)
                            + 0.05 * r.nextGaussian()));
                }
            }
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "ae", description = {
        "Measure the slice autoencoder's throughput (slices/s) and peak resident memory.",
        "Synthetic slices, for taming's standard config and a paper-shaped config (256x256 -> 256x4x4 latent)."})
    static final class Ae implements Callable<Integer> {
        @Option(names = "--slices", defaultValue = "4", description = "Slices per run. Default: ${DEFAULT-VALUE}.")
        int slices;

        @Option(names = "--size", defaultValue = "256", description = "Slice size. Default: ${DEFAULT-VALUE}.")
        int size;

        @Option(names = "--configs", defaultValue = "standard,paper", split = ",",
                description = "Which configs: standard, paper, tiny. Default: ${DEFAULT-VALUE}.")
        List<String> configs;

        @Mixin
        PreprocessCommand.KernelOptions kernel;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        static VqConfig named(String name) {
            return switch (name) {
                case "standard" -> VqConfig.tamingStandard(1);
                case "paper" -> new VqConfig(128, 1, 1, 256, 256, 2, 256, 1024, false, true,
                        List.of(1, 1, 2, 2, 4, 4, 4), List.of(16), 0.0);
                case "tiny" -> new VqConfig(32, 1, 1, 16, 16, 1, 8, 64, false, true, List.of(1, 1), List.of(8), 0.0);
                default -> throw new IllegalArgumentException("unknown config '" + name + "' (standard, paper, tiny)");
            };
        }

        @Override
        public Integer call() {
            var o = spec.commandLine().getOut();
            try (Kernel k = kernel.open();
                    Volume v = Volume.allocate(Geometry.of(size, size, slices, 1, 1, 1, 0, 0, 0))) {
                o.printf(Locale.ROOT, "machine: %d cores available to the JVM; %s; device %s%n",
                        Runtime.getRuntime().availableProcessors(), Kernel.buildInfo(), k.device());
                o.printf(Locale.ROOT, "%-9s %12s %-22s %12s %12s %14s%n", "config", "parameters", "latent", "encode/s",
                        "decode/s", "peak RSS MiB");
                fillBenchmarkPattern(v);
                for (String name : configs) {
                    VqConfig c = named(name.trim());
                    ProcessMemory.resetPeak();
                    try (SliceAutoencoder ae = SliceAutoencoder.create(c, k)) {
                        ae.withWrapper(SliceWrapper.plain()).withBatchSize(Math.min(slices, 16));
                        // one warm-up slice pass is not worth its time here: LibTorch CPU kernels have no JIT
                        long t0 = System.nanoTime();
                        try (Latents z = ae.encode(v)) {
                            long t1 = System.nanoTime();
                            try (Volume rec = ae.decode(z, v.geometry())) {
                                long t2 = System.nanoTime();
                                long[] s = z.shape();
                                o.printf(Locale.ROOT, "%-9s %,12d %-22s %12.3f %12.3f %14.0f%n", name,
                                        ae.parameterCount(), s[1] + "x" + s[2] + "x" + s[3],
                                        slices / ((t1 - t0) / 1e9), slices / ((t2 - t1) / 1e9),
                                        ProcessMemory.peakMiB());
                            }
                        }
                    }
                }
            }
            o.printf(Locale.ROOT, "(%d synthetic %dx%d slices per config, batch %d; CPU numbers depend on the thread count)%n",
                    slices, size, size, Math.min(slices, 16));
            o.flush();
            return ExitCode.OK.code();
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "explain", description = {
        "Time a Latent Shift chunk sweep in reference mode and in fast mode on the same inputs.",
        "For several chunk sizes: wall time, decoder work, peak resident memory and the fast/reference ratios. Then "
                + "the whole-volume latent gradient (fast mode) against a plain no-grad decode of the volume. Each "
                + "measurement runs in a fresh JVM so its peak memory is its own."})
    static final class Explain implements Callable<Integer> {
        @Option(names = "--slices", defaultValue = "64", description = "Slices of the volume. Default: ${DEFAULT-VALUE}.")
        int slices;

        @Option(names = "--size", defaultValue = "64", description = "In-plane size. Default: ${DEFAULT-VALUE}.")
        int size;

        @Option(names = "--chunks", defaultValue = "4,8,16,64", split = ",",
                description = "Chunk sizes. Default: ${DEFAULT-VALUE}.")
        List<Integer> chunks;

        @Option(names = "--autoencoder", paramLabel = "FILE",
                description = "Autoencoder card (.json, its stored slice wrapper) or VQ-GAN weights (plain wrapper). "
                        + "Default: a small random VQ-GAN built for the benchmark.")
        Path autoencoder;

        @Option(names = "--classifier", paramLabel = "FILE",
                description = "Classifier card (.json: its model, preprocessing and score) or a TorchScript "
                        + "classifier with layout [B,1,D,H,W] (sigmoid of output 0). Default: a small pooled-feature "
                        + "model.")
        Path classifier;

        @Option(names = "--input", paramLabel = "VOLUME",
                description = "Sweep this CT (NIfTI/MetaImage), preprocessed as the classifier card says (the "
                        + "reference preprocessing without a card), instead of the synthetic --slices x --size x "
                        + "--size pattern.")
        Path input;

        @Option(names = "--range", paramLabel = "A:B",
                description = "Use slices [A, B) of the (processed) volume as the volume: both modes see only "
                        + "these slices (e.g. 20:84 for a 64-slice volume). Default: all.")
        String range;

        @Option(names = "--defaults", description = "The shipped models and sample: --autoencoder "
                + "models/autoencoder.json --classifier models/nodule-detector.json --input "
                + "models/sample/cip_ct64_nodule.nii.gz (options given explicitly win).")
        boolean defaults;

        @Option(names = "--no-reference", description = "Skip reference mode (it is slow).")
        boolean noReference;

        @Option(names = "--paper", description = {"The paper's scale: a paper-shaped VQ-GAN (256 x 256 slices -> "
                + "256 x 4 x 4 latent, 7 resolution levels, ch 128, the reference wrapper) and the built-in Merlin "
                + "I3ResNet-152 (random weights, 1692 outputs, sigmoid of output 877) on a synthetic volume; "
                + "--slices 160 --size 224 --chunks 10 unless given (reduce them on a CPU)."})
        boolean paper;

        @Option(names = "--worker", hidden = true, description = "internal: run one measurement and print it")
        String worker;

        @Option(names = "--paper-worker", hidden = true, description = "internal: a worker of a --paper run")
        boolean paperWorker;

        @Option(names = "--autocast", paramLabel = "bf16|fp16", description = {"Also run fast mode with the decoder "
                + "and classifier autocast to this type; prints its time and its per-chunk minimum predictions and "
                + "bounds against float32's."})
        String autocast;

        @Mixin
        PreprocessCommand.KernelOptions kernel;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        static final String DEFAULT_CLASSIFIER = String.join("\n",
                "def forward(self, x):",
                "    p = torch.avg_pool3d(x, [4, 4, 4])",
                "    a = (p * p).mean(dim=[1, 2, 3, 4])",
                "    b = torch.relu(p - 0.45).mean(dim=[1, 2, 3, 4])",
                "    return (a * 8.0 + b * 30.0 - 2.0).unsqueeze(1)",
                "");

        /**
         * One measurement: seconds, decoded slices, peak and baseline resident memory (MiB), and for sweeps the
         * kernel's counts (λ values evaluated, classifier calls, slices a vector–Jacobian product ran through) and
         * the volume's depth; for the floor worker, {@code extra} holds its primitive timings.
         */
        record Measurement(double seconds, long slicesDecoded, double peakMiB, double baselineMiB, long lambdas,
                long calls, long gradientSlices, long depth, double deviceMiB, double[] extra) {
            String device() {
                return deviceMiB < 0 ? "-" : String.format(Locale.ROOT, "%.0f", deviceMiB);
            }

            double ownMiB() {
                return peakMiB - baselineMiB;
            }
        }

        /**
         * The floor of a fast sweep: one encode, one no-grad decode and one backward of the volume, each λ-step slice
         * the sweep decoded at the measured per-slice decode cost, and each classifier call at the cost of scoring
         * what fast mode must show it (the chunk's scoring span), plus the stitched volume's score.
         */
        static double floor(Measurement fast, Measurement prim) {
            double enc = prim.extra()[0];
            double dec = prim.extra()[1];
            double backward = prim.extra()[2];
            double score = prim.extra()[3];
            double full = prim.extra()[4];
            long stepSlices = Math.max(0, fast.slicesDecoded() - fast.depth() - fast.gradientSlices());
            long stepCalls = Math.max(0, fast.calls() - 2);  // the calls less the gradient's forward and the stitch
            return enc + dec + backward + stepSlices * dec / fast.depth() + stepCalls * score + full;
        }

        @Override
        public Integer call() throws Exception {
            if (worker != null) {
                paper = paperWorker;
                return runWorker();
            }
            var o = spec.commandLine().getOut();
            if (defaults) {
                autoencoder = autoencoder != null ? autoencoder : Models.defaultAutoencoder();
                classifier = classifier != null ? classifier : Models.defaultClassifier();
                input = input != null ? input : Models.home().resolve("sample").resolve("cip_ct64_nodule.nii.gz");
            }
            if (paper) {
                var pr = spec.commandLine().getParseResult();
                if (autoencoder != null || classifier != null || input != null || defaults) {
                    throw new IllegalArgumentException("--paper brings its own models and volume; drop --autoencoder, "
                            + "--classifier, --input and --defaults");
                }
                slices = pr.hasMatchedOption("--slices") ? slices : 160;
                size = pr.hasMatchedOption("--size") ? size : 224;
                chunks = pr.hasMatchedOption("--chunks") ? chunks : List.of(10);
            }
            if (autocast != null && ExplainOptions.Autocast.parse(autocast) == ExplainOptions.Autocast.OFF) {
                throw new IllegalArgumentException("--autocast takes bf16 or fp16 (float32 is always measured)");
            }
            parseRange();  // early, for a clear error before any worker starts
            if (input != null && !Files.isReadable(input)) {
                throw new IllegalArgumentException("--input " + input + ": no such readable file");
            }
            Path tmpModel = null;
            Path tmpDir = null;
            if (paper) {
                tmpDir = Files.createTempDirectory("ctcf-bench-paper");
                writePaperModels(tmpDir);
                autoencoder = tmpDir.resolve("vqgan.safetensors");
                classifier = tmpDir.resolve("merlin.json");
            } else if (autoencoder == null) {
                // One random VQ-GAN for every worker, so that all runs explain with the same model.
                tmpModel = Files.createTempFile("ctcf-bench-vqgan", ".safetensors");
                try (Kernel k = Kernel.open(); SliceAutoencoder ae = SliceAutoencoder.create(benchConfig(), k)) {
                    ae.save(tmpModel);
                }
                autoencoder = tmpModel;
            }
            try {
                return compare(o, tmpModel != null);
            } finally {
                if (tmpModel != null) {
                    Files.deleteIfExists(tmpModel);
                }
                if (tmpDir != null) {
                    try (var files = Files.list(tmpDir)) {
                        for (Path f : files.toList()) {
                            Files.deleteIfExists(f);
                        }
                    }
                    Files.deleteIfExists(tmpDir);
                }
            }
        }

        /** The paper-shaped VQ-GAN's config at a slice size: 7 levels (a 256² slice gives a 4 × 4 latent). */
        static VqConfig paperConfig(int resolution) {
            return new VqConfig(128, 1, 1, resolution, 256, 2, 256, 1024, false, true, List.of(1, 1, 2, 2, 4, 4, 4),
                    List.of(Math.max(1, resolution / 16)), 0.0);
        }

        /**
         * One random paper-shaped VQ-GAN (the reference wrapper, slices resized to 256, or to a multiple of 64 for a
         * reduced --size) and one random Merlin I3ResNet-152 with a card, written once so that every worker
         * explains with the same models.
         */
        private void writePaperModels(Path dir) throws IOException {
            int resize = size == 224 ? 256 : Math.max(64, (size + 63) / 64 * 64);
            try (Kernel k = Kernel.open(); SliceAutoencoder ae = SliceAutoencoder.create(paperConfig(resize), k)) {
                ae.withWrapper(SliceWrapper.reference().withResize(resize)).save(dir.resolve("vqgan.safetensors"));
            }
            try (Kernel k = Kernel.open(); org.ctcf.api.Classifier m = org.ctcf.api.Classifier.builtin("i3resnet152",
                    1692, org.ctcf.api.Classifier.Layout.BCHWD, 0, k)) {
                m.saveSafetensors(dir.resolve("merlin.safetensors"), "");
            }
            Files.writeString(dir.resolve("merlin.json"), """
                    {"name": "merlin-random", "model": {"architecture": "i3resnet152", "weights": "merlin.safetensors",
                     "key_prefix": ""},
                     "input": {"layout": "BCHWD", "depth": "free"},
                     "preprocessing": {"spacing": [1.5, 1.5, 3.0], "window": [-1000, 1000]},
                     "output": {"kind": "logits", "count": 1692}, "score": {"target": "877", "activation": "sigmoid"}}
                    """);
        }

        private VqConfig benchConfig() {
            return new VqConfig(32, 1, 1, size, 32, 1, 16, 256, false, true, List.of(1, 2, 2), List.of(), 0.0);
        }

        private int compare(java.io.PrintWriter o, boolean builtInModel) throws Exception {
            o.printf(Locale.ROOT, "machine: %d cores, LibTorch threads per run: %s; %s%n",
                    Runtime.getRuntime().availableProcessors(),
                    kernel.threads == 0 ? "all" : String.valueOf(kernel.threads), Kernel.buildInfo().split(";")[1].trim());
            o.printf(Locale.ROOT, "volume %s, autoencoder %s, classifier %s, %s%s%n",
                    input != null ? input.getFileName() + " (processed as the classifier expects)"
                            : size + "x" + size + "x" + slices + " synthetic",
                    paper ? "paper-shaped random VQ-GAN (ch 128, 7 levels, reference wrapper)"
                            : builtInModel ? "random (ch 32, ch_mult 1,2,2)" : autoencoder.getFileName(),
                    paper ? "random Merlin I3ResNet-152 (output 877)"
                            : classifier == null ? "built-in" : classifier.getFileName(), "sweep with 2 frames per chunk",
                    range != null ? ", slices " + range + " of it as the volume" : "");
            o.printf(Locale.ROOT, "%6s %-10s %10s %15s %14s %10s %10s %12s %9s %9s%n", "chunk", "mode", "seconds",
                    "slices decoded", "run MiB", "time x", "memory x", "clf calls", "s/chunk", "dev MiB");
            for (int chunk : chunks) {
                if (input == null && chunk > slices) {
                    continue;
                }
                Measurement fast = spawn("fast:" + chunk);
                long nChunks = (fast.depth() + chunk - 1) / chunk;
                o.printf(Locale.ROOT, "%6d %-10s %10.2f %,15d %14.0f %10s %10s %,12d %9.2f %9s%n", chunk, "fast",
                        fast.seconds(), fast.slicesDecoded(), fast.ownMiB(), "", "", fast.calls(),
                        fast.seconds() / nChunks, fast.device());
                if (autocast != null) {
                    ExplainOptions.Autocast ac = ExplainOptions.Autocast.parse(autocast);
                    Measurement low = spawn("fast-" + ac.name().toLowerCase(Locale.ROOT) + ":" + chunk);
                    double worstP = 0;
                    int sameBounds = 0;
                    int rows = Math.min(fast.extra().length, low.extra().length) / 2;
                    for (int i = 0; i < rows; i++) {
                        worstP = Math.max(worstP, Math.abs(fast.extra()[2 * i] - low.extra()[2 * i]));
                        sameBounds += fast.extra()[2 * i + 1] == low.extra()[2 * i + 1] ? 1 : 0;
                    }
                    o.printf(Locale.ROOT, "%6d %-10s %10.2f %,15d %14.0f %9.2fx %10s %,12d %9.2f%n", chunk,
                            "fast " + ac.name().toLowerCase(Locale.ROOT), low.seconds(), low.slicesDecoded(),
                            low.ownMiB(), fast.seconds() / low.seconds(), "", low.calls(), low.seconds() / nChunks);
                    o.printf(Locale.ROOT, "       %s vs float32: chunk minimum predictions differ by at most %.4f; "
                            + "lambda bounds equal in %d of %d chunks%n", ac.name().toLowerCase(Locale.ROOT), worstP,
                            sameBounds, rows);
                }
                Measurement prim = spawn("floor:" + chunk);
                double fl = floor(fast, prim);
                o.printf(Locale.ROOT, "%6d %-10s %10.2f %15s %14s %10s   fast / floor %.2fx%n", chunk, "floor", fl, "", "",
                        "", fast.seconds() / fl);
                o.printf(Locale.ROOT, "       floor = encode %.2f + decode %.2f + backward %.2f + %,d step slices x %.1f ms"
                        + " + %,d scores x %.1f ms + stitched score %.2f s%n", prim.extra()[0], prim.extra()[1],
                        prim.extra()[2], Math.max(0, fast.slicesDecoded() - fast.depth() - fast.gradientSlices()),
                        1000 * prim.extra()[1] / fast.depth(), Math.max(0, fast.calls() - 2), 1000 * prim.extra()[3],
                        prim.extra()[4]);
                if (!noReference) {
                    Measurement ref = spawn("reference:" + chunk);
                    o.printf(Locale.ROOT, "%6d %-10s %10.2f %,15d %14.0f %9.1fx %9.2fx %,12d %9.2f %9s%n", chunk,
                            "reference", ref.seconds(), ref.slicesDecoded(), ref.ownMiB(), ref.seconds() / fast.seconds(),
                            ref.ownMiB() / Math.max(1, fast.ownMiB()), ref.calls(), ref.seconds() / nChunks,
                            ref.device());
                }
                o.flush();
            }
            Measurement decode = spawn("decode:0");
            Measurement grad = spawn("gradient:0");
            o.printf(Locale.ROOT, "encode + no-grad decode of the volume: %.2f s, %.0f MiB, device %s MiB%n",
                    decode.seconds(), decode.ownMiB(), decode.device());
            o.printf(Locale.ROOT, "whole-volume latent gradient (fast):   %.2f s, %.0f MiB (%.2fx the decode), device %s MiB"
                    + "%s%n", grad.seconds(), grad.ownMiB(), grad.ownMiB() / Math.max(1, decode.ownMiB()), grad.device(),
                    grad.deviceMiB() > 0 && decode.deviceMiB() > 0
                            ? String.format(Locale.ROOT, " (%.2fx the decode's)", grad.deviceMiB() / decode.deviceMiB())
                            : "");
            o.printf(Locale.ROOT, "(run MiB = peak resident memory of the run above the process's resident memory%n"
                    + " just before it, models and volume loaded; each run in its own JVM)%n");
            o.flush();
            return ExitCode.OK.code();
        }

        private Measurement spawn(String what) throws Exception {
            List<String> cmd = new java.util.ArrayList<>();
            cmd.add(ProcessHandle.current().info().command().orElse("java"));
            cmd.add("--enable-native-access=ALL-UNNAMED");
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(Main.class.getName());
            cmd.addAll(List.of("bench", "explain", "--worker", what, "--slices", String.valueOf(slices), "--size",
                    String.valueOf(size), "--threads", String.valueOf(kernel.threads), "--device", kernel.device));
            if (autoencoder != null) {
                cmd.addAll(List.of("--autoencoder", autoencoder.toString()));
            }
            if (classifier != null) {
                cmd.addAll(List.of("--classifier", classifier.toString()));
            }
            if (input != null) {
                cmd.addAll(List.of("--input", input.toString()));
            }
            if (range != null) {
                cmd.addAll(List.of("--range", range));
            }
            if (paper) {
                cmd.add("--paper-worker");
            }
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            int rc = p.waitFor();
            for (String line : out.split("\n")) {
                if (line.startsWith("RESULT ")) {
                    String[] f = line.split(" ");
                    double[] extra = new double[f.length - 10];
                    for (int i = 10; i < f.length; i++) {
                        extra[i - 10] = Double.parseDouble(f[i]);
                    }
                    return new Measurement(Double.parseDouble(f[1]), Long.parseLong(f[2]), Double.parseDouble(f[3]),
                            Double.parseDouble(f[4]), Long.parseLong(f[5]), Long.parseLong(f[6]),
                            Long.parseLong(f[7]), Long.parseLong(f[8]), Double.parseDouble(f[9]), extra);
                }
            }
            throw new IllegalStateException("benchmark worker '" + what + "' failed (exit " + rc + "):\n" + out);
        }

        /**
         * The floor's primitives, each timed on its own after a warm-up run (seconds): encode the volume, decode it
         * without grad, the backward of a whole-volume latent gradient (its own encode and decode subtracted), the
         * mean no-grad score of one chunk's scoring span over the sweep's chunks, and the score of the whole volume.
         */
        private static double[] floorPrimitives(Volume v, SliceAutoencoder ae, org.ctcf.api.Classifier clf,
                org.ctcf.api.Target t, int chunk) {
            double enc = warmTime(() -> {
                try (Latents z = ae.encode(v)) {
                    // timed
                }
            });
            double dec;
            try (Latents z = ae.encode(v)) {
                dec = warmTime(() -> {
                    try (Volume rec = ae.decode(z, v.geometry())) {
                        // timed
                    }
                });
            }
            double grad = warmTime(() -> {
                try (Latents g = LatentShift.latentGradient(v, ae, clf, t, 0, v.nz(), false)) {
                    // the call encodes and decodes the volume itself
                }
            });
            double backward = Math.max(0, grad - enc - dec);
            double scores = 0;
            int n = 0;
            for (int s = 0; s < v.nz(); s += chunk) {
                int[] span = clf.scoreSpan(t, s, Math.min(v.nz(), s + chunk), v.nz());
                try (Volume part = span[0] == 0 && span[1] == v.nz() ? null : v.slices(span[0], span[1])) {
                    Volume seen = part != null ? part : v;
                    scores += warmTime(() -> clf.score(seen, t));
                    n++;
                }
            }
            double full = warmTime(() -> clf.score(v, t));
            return new double[] {enc, dec, backward, scores / n, full};
        }

        /** Seconds of one run of {@code r} after one untimed run (one-time kernel set-up is not the floor's). */
        private static double warmTime(Runnable r) {
            r.run();
            long a = System.nanoTime();
            r.run();
            return (System.nanoTime() - a) / 1e9;
        }

        /** [A, B) of --range, or null. */
        private int[] parseRange() {
            if (range == null) {
                return null;
            }
            String[] ab = range.split(":");
            try {
                int a = Integer.parseInt(ab[0].strip());
                int b = Integer.parseInt(ab[1].strip());
                if (ab.length != 2 || a < 0 || b <= a) {
                    throw new NumberFormatException();
                }
                return new int[] {a, b};
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("--range takes A:B with 0 <= A < B, not '" + range + "'");
            }
        }

        /** The swept volume: --input processed as the card says, or the synthetic pattern; --range of it. */
        private Volume benchVolume(Kernel k, org.ctcf.api.Classifier clf, boolean card) throws IOException {
            Volume v;
            if (input == null) {
                v = Volume.allocate(Geometry.of(size, size, slices, 1.5, 1.5, 3, 0, 0, 0));
                fillBenchmarkPattern(v);
            } else {
                try (Volume ct = org.ctcf.io.VolumeIO.read(input)) {
                    v = k.preprocess(ct, card ? clf.card().preprocessing()
                            : org.ctcf.api.PreprocessOptions.reference());
                }
            }
            int[] r = parseRange();
            if (r == null) {
                return v;
            }
            try (v) {
                if (r[1] > v.nz()) {
                    throw new IllegalArgumentException("--range " + range + " is outside the volume's " + v.nz()
                            + " slices");
                }
                return v.slices(r[0], r[1]);
            }
        }

        private int runWorker() throws Exception {
            String[] parts = worker.split(":");
            String mode = parts[0];
            ExplainOptions.Autocast ac = ExplainOptions.Autocast.OFF;
            if (mode.startsWith("fast-")) {
                ac = ExplainOptions.Autocast.parse(mode.substring(5));
                mode = "fast";
            }
            int chunk = Integer.parseInt(parts[1]);
            boolean card = classifier != null && classifier.toString().endsWith(".json");
            boolean aeCard = autoencoder.toString().endsWith(".json");
            try (Kernel k = kernel.open();
                    SliceAutoencoder ae = SliceAutoencoder.load(aeCard ? Models.autoencoderWeights(autoencoder)
                            : autoencoder, null, k);
                    org.ctcf.api.Classifier clf = card ? org.ctcf.api.Classifier.load(classifier, k)
                            : classifier != null
                            ? org.ctcf.api.Classifier.loadTorchScript(classifier, org.ctcf.api.Classifier.Layout.BCDHW,
                                    0, k)
                            : org.ctcf.api.Classifier.define(DEFAULT_CLASSIFIER, org.ctcf.api.Classifier.Layout.BCDHW,
                                    0, k);
                    Volume v = benchVolume(k, clf, card)) {
                ae.withWrapper(aeCard || paper ? ae.wrapper() : SliceWrapper.plain()).withBatchSize(16);
                ExplainOptions base = ExplainOptions.builder()
                        .target(card ? clf.target(null) : org.ctcf.api.Target.sigmoidOf(0))
                        .lambdaSweepSteps(2).referenceMode(mode.equals("reference")).autocast(ac).build();
                double baseline = ProcessMemory.residentMiB();
                ProcessMemory.resetPeak();
                k.devicePeakBytes(true);
                long t0 = System.nanoTime();
                long decoded;
                long lambdas = 0;
                long calls = 0;
                long gradientSlices = 0;
                double[] extra = new double[0];
                switch (mode) {
                    case "fast", "reference" -> {
                        try (SweepResult s = LatentShift.sweep(v, ae, clf, base, ChunkSweep.of(chunk), null)) {
                            decoded = s.timings().slicesDecoded();
                            lambdas = s.timings().lambdasEvaluated();
                            calls = s.timings().classifierCalls();
                            gradientSlices = s.timings().gradientSlices();
                            extra = new double[2 * s.chunks().size()];
                            for (int i = 0; i < s.chunks().size(); i++) {
                                extra[2 * i] = s.chunks().get(i).minPrediction();
                                extra[2 * i + 1] = s.chunks().get(i).bound();
                            }
                        }
                    }
                    case "floor" -> {
                        extra = floorPrimitives(v, ae, clf, base.target(), chunk);
                        decoded = 0;
                    }
                    case "decode" -> {
                        try (Latents z = ae.encode(v); Volume rec = ae.decode(z, v.geometry())) {
                            decoded = v.nz();
                        }
                    }
                    case "gradient" -> {
                        try (Latents g = LatentShift.latentGradient(v, ae, clf, base.target(), 0, v.nz(), false)) {
                            decoded = v.nz();
                        }
                    }
                    default -> throw new IllegalArgumentException("unknown worker mode " + mode);
                }
                double seconds = (System.nanoTime() - t0) / 1e9;
                StringBuilder tail = new StringBuilder();
                for (double x : extra) {
                    tail.append(String.format(Locale.ROOT, " %.6f", x));
                }
                long dev = k.devicePeakBytes(false);
                spec.commandLine().getOut().printf(Locale.ROOT, "RESULT %.4f %d %.1f %.1f %d %d %d %d %.1f%s%n", seconds,
                        decoded, ProcessMemory.peakMiB(), baseline, lambdas, calls, gradientSlices, v.nz(),
                        dev < 0 ? -1.0 : dev / 1048576.0, tail);
                spec.commandLine().getOut().flush();
            }
            return ExitCode.OK.code();
        }
    }
}
