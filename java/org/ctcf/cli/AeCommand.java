package org.ctcf.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.ctcf.api.AutoencoderCard;
import org.ctcf.api.Kernel;
import org.ctcf.api.Latents;
import org.ctcf.api.Metrics;
import org.ctcf.api.Models;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.SliceWrapper;
import org.ctcf.core.Volume;
import org.ctcf.api.VqConfig;
import org.ctcf.io.VolumeIO;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ctcf ae}: slice autoencoder tools. */
@Command(mixinStandardHelpOptions = true, name = "ae",
        description = "Check the slice autoencoder: round trips and reconstruction quality.", subcommands = {AeCommand.Roundtrip.class, AeCommand.Evaluate.class})
final class AeCommand implements Runnable {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Options naming an autoencoder: card or weights, config, slice wrapper. */
    static final class AutoencoderOptions {
        @Option(names = "--autoencoder", paramLabel = "FILE",
                description = "Autoencoder card (.json) or weights (Lightning .ckpt, .pth, .safetensors). Default: the "
                        + "shipped models/autoencoder.json.")
        Path weights;

        @Option(names = "--config", paramLabel = "YAML",
                description = "taming config (model.params.ddconfig); default: from the file's metadata or inferred.")
        Path config;

        @Option(names = "--wrapper", paramLabel = "NAME",
                description = "Slice wrapper: reference, reference-symmetric, plain, identity. Default: the one stored "
                        + "with a ctcf-trained model, else reference.")
        String wrapper;

        @Option(names = "--resize", paramLabel = "N",
                description = "Override the wrapper's slice size (0 = slices at their own size).")
        Integer resize;

        @Option(names = "--antialias", paramLabel = "BOOL", arity = "1",
                description = "Antialias the wrapper's resizes (true/false), as torchvision's Resize does from 0.17 "
                        + "on. Default: the wrapper's (reference presets: true).")
        Boolean antialias;

        @Option(names = "--batch", defaultValue = "16", paramLabel = "N",
                description = "Slices per encoder/decoder batch. Default: ${DEFAULT-VALUE}.")
        int batch;

        /** The card or weights file given, or the shipped default. */
        Path source() {
            return weights != null ? weights : Models.defaultAutoencoder();
        }

        SliceAutoencoder load(Kernel k) throws java.io.IOException {
            AutoencoderCard card = source().toString().endsWith(".json") ? AutoencoderCard.read(source()) : null;
            Path cfg = config != null ? config : card != null ? card.configFile() : null;
            VqConfig c = cfg == null ? null : VqConfig.read(cfg);
            Path file = card != null ? card.weights() : source();
            SliceAutoencoder ae = SliceAutoencoder.load(file, c, k);
            try {
                SliceWrapper w = wrapper != null ? SliceWrapper.named(wrapper)
                        : card != null && card.wrapper() != null ? card.wrapper()
                        : file.toString().endsWith(".safetensors") && hasStoredWrapper(file) ? ae.wrapper()
                        : SliceWrapper.reference();
                if (resize != null) {
                    w = w.withResize(resize);
                }
                if (antialias != null) {
                    w = w.withAntialias(antialias);
                }
                return ae.withWrapper(w).withBatchSize(batch);
            } catch (RuntimeException e) {
                ae.close();
                throw e;
            }
        }

        private static boolean hasStoredWrapper(Path file) throws java.io.IOException {
            try (var ck = org.ctcf.io.checkpoint.Checkpoint.open(file)) {
                return ck.root() instanceof java.util.Map<?, ?> m && m.containsKey(SliceAutoencoder.WRAPPER_METADATA);
            }
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "roundtrip", description = {
        "Encode and decode a CT volume through the slice autoencoder; print PSNR and MAE in HU.",
        "Runs after the reference preprocessing, writes the reconstruction on the input grid, and measures "
                + "inside [-1000, 1000] HU."})
    static final class Roundtrip implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "VOLUME")
        Path input;

        @Mixin
        AutoencoderOptions ae;

        @Option(names = {"-o", "--out"}, paramLabel = "FILE", description = "Reconstruction (.nii.gz), on the input grid.")
        Path out;

        @Mixin
        PreprocessCommand.KernelOptions kernel;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            var o = spec.commandLine().getOut();
            PreprocessOptions pre = PreprocessOptions.reference();
            long t0 = System.nanoTime();
            try (Volume ct = VolumeIO.read(input); Kernel k = kernel.open(); SliceAutoencoder model = ae.load(k);
                    Volume x = k.preprocess(ct, pre)) {
                long t1 = System.nanoTime();
                Volume rec;
                long t2;
                try (Latents z = model.encode(x)) {
                    t2 = System.nanoTime();
                    rec = model.decode(z, x.geometry());
                    long[] s = z.shape();
                    o.printf(Locale.ROOT, "latents:      %d x %d x %d x %d (slices x channels x h x w)%n", s[0], s[1],
                            s[2], s[3]);
                }
                long t3 = System.nanoTime();
                try (rec; Volume back = k.restore(rec, ct.geometry(), pre, true)) {
                    Metrics.Errors e = Metrics.compare(back, ct, pre.windowLow(), pre.windowHigh());
                    o.printf(Locale.ROOT, "model:        %s, %,d parameters, wrapper %s%n", ae.source().getFileName(),
                            model.parameterCount(), model.wrapper().describe());
                    o.printf(Locale.ROOT, "processed:    %s%n", x.geometry());
                    o.printf(Locale.ROOT, "PSNR:         %.2f dB (data range %.0f HU)%n", e.psnr(),
                            pre.windowHigh() - pre.windowLow());
                    o.printf(Locale.ROOT, "MAE:          %.2f HU%n", e.mae());
                    o.printf(Locale.ROOT, "RMSE:         %.2f HU%n", e.rmse());
                    o.printf(Locale.ROOT, "time:         preprocess %.2f s, encode %.2f s, decode %.2f s%n",
                            (t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9);
                    if (out != null) {
                        VolumeIO.write(back, out);
                        o.printf(Locale.ROOT, "wrote        %s%n", out);
                    }
                }
            }
            o.flush();
            return ExitCode.OK.code();
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "evaluate", description = {
        "Measure the autoencoder's reconstruction quality on every volume of a training manifest.",
        "Held-out and training patients: PSNR (data range = the HU window), SSIM and MAE in HU inside "
                + "[-1000, 1000], over the voxels the processed grid covers. With --card, writes the autoencoder's "
                + "model card with these metrics."})
    static final class Evaluate implements Callable<Integer> {
        @Option(names = "--manifest", required = true, paramLabel = "FILE", description = "Training manifest.")
        Path manifest;

        @Option(names = "--data-root", paramLabel = "DIR", description = "Base of relative manifest paths.")
        Path dataRoot;

        @Option(names = "--card", paramLabel = "FILE", description = "Write the model card here (next to the weights).")
        Path card;

        @Option(names = "--training-command", paramLabel = "TEXT", description = "The training command, for the card.")
        String trainingCommand;

        @Option(names = "--training-time", paramLabel = "TEXT",
                description = "How long training took (as the training command printed it), for the card.")
        String trainingTime;

        @Mixin
        AutoencoderOptions ae;

        @Mixin
        PreprocessCommand.KernelOptions kernel;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            var o = spec.commandLine().getOut();
            org.ctcf.train.Manifest m = org.ctcf.train.Manifest.read(manifest, dataRoot);
            PreprocessOptions pre = PreprocessOptions.reference();
            java.util.List<java.util.Map<String, Object>> rows = new java.util.ArrayList<>();
            try (Kernel k = kernel.open(); SliceAutoencoder model = ae.load(k)) {
                o.printf(Locale.ROOT, "%-10s %-45s %9s %7s %8s%n", "split", "volume", "PSNR dB", "SSIM", "MAE HU");
                for (var e : m.entries()) {
                    Metrics.Quality q = org.ctcf.train.AutoencoderEvaluation.roundtrip(k, model, e.volume(), pre);
                    String split = e.isTrain() ? "train" : "held-out";
                    o.printf(Locale.ROOT, "%-10s %-45s %9.2f %7.4f %8.1f%n", split, e.volume().getFileName(), q.psnr(),
                            q.ssim(), q.mae());
                    o.flush();
                    java.util.Map<String, Object> r = new java.util.LinkedHashMap<>();
                    r.put("volume", e.volume().getFileName().toString());
                    r.put("split", split);
                    r.put("psnr_db", round(q.psnr(), 2));
                    r.put("ssim", round(q.ssim(), 4));
                    r.put("mae_hu", round(q.mae(), 1));
                    r.put("voxels", q.voxels());
                    rows.add(r);
                }
                if (card != null) {
                    Path w = Models.autoencoderWeights(ae.source()).toAbsolutePath();
                    Path dir = card.toAbsolutePath().getParent();
                    java.util.Map<String, Object> c = new java.util.LinkedHashMap<>();
                    c.put("kind", "autoencoder");
                    c.put("name", "ctcf-vqgan-ct");
                    c.put("description", "ctcf's slice autoencoder: a taming-compatible VQ-GAN trained by ctcf on real"
                            + " chest CT slices (1.5 mm in-plane, halved to 3 mm, HU window [-1000, 1000]).");
                    c.put("weights", dir.relativize(w).toString());
                    c.put("config", new com.fasterxml.jackson.databind.ObjectMapper().readTree(model.config().toJson()));
                    c.put("slice_wrapper", new com.fasterxml.jackson.databind.ObjectMapper()
                            .readTree(model.wrapper().toJson()));
                    c.put("parameters", model.parameterCount());
                    java.util.Map<String, Object> training = new java.util.LinkedHashMap<>();
                    if (trainingCommand != null) {
                        training.put("command", trainingCommand);
                    }
                    if (trainingTime != null) {
                        training.put("time", trainingTime);
                    }
                    try (var ck = org.ctcf.io.checkpoint.Checkpoint.open(w)) {
                        if (ck.root() instanceof java.util.Map<?, ?> meta) {
                            for (var en : meta.entrySet()) {
                                if (en.getKey().toString().startsWith("ctcf.train.")) {
                                    training.put(en.getKey().toString().substring(11), en.getValue());
                                }
                            }
                        }
                    }
                    training.put("manifest", manifest.getFileName().toString());
                    training.put("train_volumes", m.train().stream().map(e -> e.volume().getFileName().toString())
                            .toList());
                    training.put("held_out_volumes", m.validation().stream().map(e -> e.volume().getFileName()
                            .toString()).toList());
                    c.put("training", training);
                    java.util.Map<String, Object> metrics = new java.util.LinkedHashMap<>();
                    metrics.put("measured_by", "ctcf ae evaluate --manifest " + manifest.getFileName()
                            + " (HU window [-1000, 1000], PSNR data range 2000 HU, SSIM per axial slice)");
                    metrics.put("volumes", rows);
                    c.put("metrics", metrics);
                    org.ctcf.train.ModelCards.write(card, c);
                    o.printf("wrote %s%n", card);
                }
            }
            o.flush();
            return ExitCode.OK.code();
        }

        private static double round(double v, int digits) {
            double f = Math.pow(10, digits);
            return Math.round(v * f) / f;
        }
    }
}
