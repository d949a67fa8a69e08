package org.ctcf.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.ctcf.api.Kernel;
import org.ctcf.api.Latents;
import org.ctcf.api.Metrics;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.SliceWrapper;
import org.ctcf.api.Volume;
import org.ctcf.api.VqConfig;
import org.ctcf.io.VolumeIO;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ctcf ae}: slice autoencoder tools. */
@Command(mixinStandardHelpOptions = true, name = "ae", description = "Slice autoencoder tools.", subcommands = {AeCommand.Roundtrip.class})
final class AeCommand implements Runnable {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Options naming an autoencoder: weights, config, slice wrapper. */
    static final class AutoencoderOptions {
        @Option(names = "--autoencoder", required = true, paramLabel = "FILE",
                description = "Weights: Lightning .ckpt, .pth (zip or legacy) or .safetensors.")
        Path weights;

        @Option(names = "--config", paramLabel = "YAML",
                description = "taming config (model.params.ddconfig); default: from the file's metadata or inferred.")
        Path config;

        @Option(names = "--wrapper", defaultValue = "reference", paramLabel = "NAME",
                description = "Slice wrapper: reference, reference-symmetric, plain, identity. Default: ${DEFAULT-VALUE}.")
        String wrapper;

        @Option(names = "--resize", paramLabel = "N",
                description = "Override the wrapper's slice size (0 = slices at their own size).")
        Integer resize;

        @Option(names = "--batch", defaultValue = "16", paramLabel = "N",
                description = "Slices per encoder/decoder batch. Default: ${DEFAULT-VALUE}.")
        int batch;

        SliceAutoencoder load(Kernel k) throws java.io.IOException {
            VqConfig c = config == null ? null : VqConfig.read(config);
            SliceWrapper w = SliceWrapper.named(wrapper);
            if (resize != null) {
                w = new SliceWrapper(w.inScale(), w.inShift(), w.outScale(), w.outShift(), resize, w.transpose(),
                        w.referenceOrientation());
            }
            return SliceAutoencoder.load(weights, c, k).withWrapper(w).withBatchSize(batch);
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "roundtrip", description = {
        "Encode and decode a CT volume through the slice autoencoder; print PSNR and MAE in HU.",
        "Runs after the reference preprocessing, writes the reconstruction on the input grid, and measures",
        "inside [-1000, 1000] HU."})
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
                    o.printf(Locale.ROOT, "model:        %s, %,d parameters, wrapper %s%n", ae.weights.getFileName(),
                            model.parameterCount(), ae.wrapper);
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
}
