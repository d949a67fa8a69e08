package org.ctcf.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.ctcf.api.Kernel;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.Trainer;
import org.ctcf.api.VqConfig;
import org.ctcf.train.AutoencoderTraining;
import org.ctcf.train.Manifest;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ctcf train}: train the slice autoencoder and the demo classifiers in the kernel. */
@Command(mixinStandardHelpOptions = true, name = "train", description = "Train models in the kernel (CPU or CUDA).",
        subcommands = {TrainCommand.Ae.class, ClassifierTrainCommand.class, InsertNoduleCommand.class})
final class TrainCommand implements Runnable {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(mixinStandardHelpOptions = true, name = "ae", description = {
        "Train a taming-compatible VQ-GAN slice autoencoder on the CT volumes of a manifest.",
        "Manifest lines: '<train|val> <volume> [mask=FILE] [patient=ID]'. Slices are preprocessed as explain does "
                + "(RAS, 1.5 x 1.5 x 3 mm, HU window [-1000, 1000] -> [0, 1]), optionally halved, and cropped at "
                + "random.",
        "Loss: L1 + codebook/commitment, with --disc-start a hinge PatchGAN. Writes checkpoint.safetensors (model + "
                + "optimiser, for --resume) and autoencoder.safetensors (weights, config and slice wrapper)."})
    static final class Ae implements Callable<Integer> {
        @Option(names = "--manifest", required = true, paramLabel = "FILE", description = "Training manifest.")
        Path manifest;

        @Option(names = "--data-root", paramLabel = "DIR", description = "Base of relative manifest paths "
                + "(default: the manifest's folder).")
        Path dataRoot;

        @Option(names = {"-o", "--out"}, defaultValue = "ctcf-train-ae", paramLabel = "DIR",
                description = "Output folder. Default: ${DEFAULT-VALUE}.")
        Path out;

        @Option(names = "--steps", defaultValue = "3000", description = "Optimiser steps. Default: ${DEFAULT-VALUE}.")
        long steps;

        @Option(names = "--batch", defaultValue = "8", description = "Crops per step. Default: ${DEFAULT-VALUE}.")
        int batch;

        @Option(names = "--crop", defaultValue = "64", description = "Crop size in (downscaled) pixels. Default: "
                + "${DEFAULT-VALUE}.")
        int crop;

        @Option(names = "--downscale", defaultValue = "2", description = "1 or 2: halve the 1.5 mm slices. Default: "
                + "${DEFAULT-VALUE}.")
        int downscale;

        @Option(names = "--lr", defaultValue = "2e-4", description = "Adam learning rate. Default: ${DEFAULT-VALUE}.")
        double lr;

        @Option(names = "--seed", defaultValue = "0", description = "Seed (weights and batches). Default: ${DEFAULT-VALUE}.")
        long seed;

        @Option(names = "--config", paramLabel = "YAML",
                description = "taming config of the model; default: the options below.")
        Path config;

        @Option(names = "--ch", defaultValue = "32", description = "Base channels. Default: ${DEFAULT-VALUE}.")
        int ch;

        @Option(names = "--ch-mult", defaultValue = "1,1", split = ",", description = "Channel multipliers. Default: "
                + "${DEFAULT-VALUE}.")
        List<Integer> chMult;

        @Option(names = "--res-blocks", defaultValue = "1", description = "num_res_blocks. Default: ${DEFAULT-VALUE}.")
        int resBlocks;

        @Option(names = "--z-channels", defaultValue = "32", description = "z_channels. Default: ${DEFAULT-VALUE}.")
        int zChannels;

        @Option(names = "--embed-dim", defaultValue = "4", description = "embed_dim. Default: ${DEFAULT-VALUE}.")
        int embedDim;

        @Option(names = "--n-embed", defaultValue = "1024", description = "Codebook size. Default: ${DEFAULT-VALUE}.")
        int nEmbed;

        @Option(names = "--disc-start", defaultValue = "-1",
                description = "Step from which the hinge PatchGAN trains (-1: never). Default: ${DEFAULT-VALUE}.")
        long discStart;

        @Option(names = "--disc-weight", defaultValue = "0.8", description = "Default: ${DEFAULT-VALUE}.")
        double discWeight;

        @Option(names = "--disc-channels", defaultValue = "32", description = "PatchGAN width. Default: ${DEFAULT-VALUE}.")
        int discChannels;

        @Option(names = "--code-restart", defaultValue = "50", description = "Every N steps move unused codebook "
                + "entries onto encoder outputs (0: never, as taming). Default: ${DEFAULT-VALUE}.")
        long codeRestart;

        @Option(names = "--validate-every", defaultValue = "250", description = "Default: ${DEFAULT-VALUE}.")
        long validateEvery;

        @Option(names = "--checkpoint-every", defaultValue = "250", description = "Default: ${DEFAULT-VALUE}.")
        long checkpointEvery;

        @Option(names = "--resume", description = "Continue from OUT/checkpoint.safetensors if it exists.")
        boolean resume;

        @Option(names = "--lpips-vgg", paramLabel = "FILE", description = "Add taming's perceptual loss (LPIPS): "
                + "torchvision's VGG-16 state dict (e.g. vgg16-397923af.pth; not shipped, not downloaded).")
        Path lpipsVgg;

        @Option(names = "--lpips-lin", paramLabel = "FILE", description = "LPIPS v0.1 linear layers for VGG "
                + "(vgg.pth); without it every channel weighs 1 (LPIPS's baseline variant). Needs --lpips-vgg.")
        Path lpipsLin;

        @Option(names = "--perceptual-weight", defaultValue = "1.0",
                description = "Weight of the LPIPS term (taming: 1.0). Default: ${DEFAULT-VALUE}.")
        double perceptualWeight;

        @Mixin
        PreprocessCommand.KernelOptions kernel;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            Manifest m = Manifest.read(manifest, dataRoot);
            VqConfig cfg = config != null ? VqConfig.read(config)
                    : new VqConfig(ch, 1, 1, crop, zChannels, resBlocks, embedDim, nEmbed, false, true, chMult,
                            List.of(), 0.0);
            Trainer.Options t = Trainer.Options.defaults().withLearningRate(lr)
                    .withDiscriminator(discStart, discChannels, 3, discWeight).withCodeRestart(codeRestart);
            if (lpipsLin != null && lpipsVgg == null) {
                throw new IllegalArgumentException("--lpips-lin needs --lpips-vgg (the VGG-16 weights)");
            }
            var perceptual = lpipsVgg == null ? null
                    : new AutoencoderTraining.PerceptualLoss(lpipsVgg, lpipsLin, perceptualWeight);
            var opts = new AutoencoderTraining.Options(cfg, PreprocessOptions.reference(), downscale, crop, batch, steps,
                    seed, t, validateEvery, checkpointEvery, perceptual);
            ProgressPrinter line = ProgressPrinter.of(spec, "train ae");
            line.println(String.format(Locale.ROOT, "training on %d volumes, validating on %d; %d steps of %d x %d^2 "
                    + "crops, seed %d", m.train().size(), m.validation().size(), steps, batch, crop, seed));
            try (line; Kernel k = kernel.open(); CancelOnExit exit = new CancelOnExit(k)) {
                var r = AutoencoderTraining.run(k, m, opts, out, resume, new AutoencoderTraining.Listener() {
                    double avg = Double.NaN;

                    @Override
                    public void step(Trainer.Stats s, long total, double sec) {
                        avg = Double.isNaN(avg) ? s.reconstruction() : 0.95 * avg + 0.05 * s.reconstruction();
                        Map<String, Object> fields = new LinkedHashMap<>();
                        fields.put("l1", s.reconstruction());
                        fields.put("l1_avg", avg);
                        if (perceptual != null) {
                            fields.put("lpips", s.perceptual());
                        }
                        fields.put("vq", s.codebook());
                        fields.put("codes", s.codesUsed());
                        if (s.discriminator() != 0) {
                            fields.put("g", s.generator());
                            fields.put("d", s.discriminator());
                        }
                        fields.put("s_per_step", sec);
                        line.step(s.step(), total, String.format(Locale.ROOT,
                                "L1 %.4f (avg %.4f)%s vq %.4f codes %d%s %.2f s/step", s.reconstruction(), avg,
                                perceptual == null ? "" : String.format(Locale.ROOT, " lpips %.4f", s.perceptual()),
                                s.codebook(), s.codesUsed(), s.discriminator() != 0 ? String.format(Locale.ROOT,
                                        " g %.3f d %.3f", s.generator(), s.discriminator()) : "", sec), 25, fields);
                    }

                    @Override
                    public void validated(long step, List<AutoencoderTraining.Named> results) {
                        for (var n : results) {
                            line.println(String.format(Locale.ROOT,
                                    "step %d validation %s: PSNR %.2f dB, SSIM %.4f, MAE %.1f HU", step, n.name(),
                                    n.quality().psnr(), n.quality().ssim(), n.quality().mae()));
                        }
                    }
                });
                line.close();
                line.println(String.format(Locale.ROOT, "wrote %s after %d steps (%.0f s); checkpoint %s", r.model(),
                        r.steps(), r.seconds(), r.checkpoint()));
            }
            return ExitCode.OK.code();
        }
    }

    static String join(List<?> l) {
        return Arrays.toString(l.toArray());
    }
}
