package org.ctcf.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.ctcf.api.Device;
import org.ctcf.api.Kernel;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ctcf preprocess}: the reference preprocessing of one volume, written as NIfTI. */
@Command(mixinStandardHelpOptions = true, name = "preprocess", description = {
    "Preprocess a CT volume as the reference does.",
    "Reorient to RAS, resample (trilinear), HU window -> [0,1], in-plane pad/centre-crop; writes NIfTI with the "
            + "processed grid's affine."})
final class PreprocessCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    SeriesOption seriesOption = new SeriesOption();

    @Parameters(index = "0", paramLabel = "INPUT", description = "Volume to preprocess (.nii, .nii.gz, .mha, .mhd).")
    Path input;

    @Parameters(index = "1", paramLabel = "OUTPUT", description = "Output .nii.gz (or .nii).")
    Path output;

    @Option(names = "--spacing", split = ",", paramLabel = "X,Y,Z", defaultValue = "1.5,1.5,3",
            description = "Target spacing in mm (0 keeps an axis). Default: ${DEFAULT-VALUE}.")
    double[] spacing;

    @Option(names = "--window", split = ",", paramLabel = "LOW,HIGH", defaultValue = "-1000,1000",
            description = "HU window mapped to [0,1]; LOW >= HIGH disables it. Default: ${DEFAULT-VALUE}.")
    double[] window;

    @Option(names = "--size", split = ",", paramLabel = "X,Y", defaultValue = "224,224",
            description = "In-plane size after pad/centre-crop (0 keeps an axis). Default: ${DEFAULT-VALUE}.")
    int[] size;

    @Option(names = "--pad-value", defaultValue = "0", paramLabel = "V",
            description = "Value of padded voxels (after windowing; 0 = -1000 HU). Default: ${DEFAULT-VALUE}.")
    double padValue;

    @Option(names = "--restore", paramLabel = "FILE",
            description = "Also map the processed volume back onto the input grid (HU) and write it here.")
    Path restore;

    @Mixin
    KernelOptions kernel;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (spacing.length != 3 || window.length != 2 || size.length != 2) {
            throw new IllegalArgumentException("--spacing takes 3 values, --window 2, --size 2");
        }
        PreprocessOptions options = new PreprocessOptions(spacing[0], spacing[1], spacing[2], window[0], window[1],
                size[0], size[1], padValue);
        var out = spec.commandLine().getOut();
        long t0 = System.nanoTime();
        try (Volume in = VolumeIO.read(input, seriesOption.readOptions()); Kernel k = kernel.open(); Volume processed = k.preprocess(in, options)) {
            VolumeIO.write(processed, output);
            if (!isQuiet()) {
                out.printf(Locale.ROOT, "%s: %s -> %s%n", input, in.geometry(), processed.geometry());
                out.printf(Locale.ROOT, "wrote %s%n", output);
            }
            if (restore != null) {
                try (Volume back = k.restore(processed, in.geometry(), options, true)) {
                    VolumeIO.write(back, restore);
                    if (!isQuiet()) {
                        out.printf(Locale.ROOT, "wrote %s (back on the input grid, %s)%n", restore, back.geometry());
                    }
                }
            }
        }
        if (!isQuiet()) {
            out.printf(Locale.ROOT, "done in %.2f s%n", (System.nanoTime() - t0) / 1e9);
        }
        out.flush();
        return ExitCode.OK.code();
    }

    private boolean isQuiet() {
        Object root = spec.root().userObject();
        return root instanceof Main m && m.global.quiet;
    }

    /** Device and thread options shared by commands that run the kernel. */
    static final class KernelOptions {
        @Option(names = "--device", defaultValue = "cpu", paramLabel = "DEV",
                description = "cpu, cuda or cuda:N. Default: ${DEFAULT-VALUE}.")
        String device;

        @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
                description = "LibTorch intra-op threads (0 = every available processor).")
        int threads;

        Kernel open() {
            if (threads < 0) {
                throw new IllegalArgumentException("--threads must be >= 0");
            }
            return Kernel.open(Device.parse(device), threads == 0 ? Runtime.getRuntime().availableProcessors() : threads);
        }
    }
}
