package org.ctcf.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;

import org.ctcf.api.Geometry;
import org.ctcf.api.Kernel;
import org.ctcf.api.Latents;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.SliceWrapper;
import org.ctcf.api.Volume;
import org.ctcf.api.VqConfig;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ctcf bench}: throughput and memory benchmarks (never part of the tests). */
@Command(name = "bench", description = "Benchmarks.", subcommands = {BenchCommand.Ae.class})
final class BenchCommand implements Runnable {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Peak resident memory of this process (VmHWM), reset by writing 5 to /proc/self/clear_refs (Linux). */
    static final class PeakMemory {
        static void reset() {
            try {
                Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            } catch (IOException | UnsupportedOperationException e) {
                // not Linux or not permitted: peaks then include earlier work
            }
        }

        static long peakKiB() {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                    if (line.startsWith("VmHWM:")) {
                        return Long.parseLong(line.replaceAll("[^0-9]", ""));
                    }
                }
            } catch (IOException | NumberFormatException e) {
                return -1;
            }
            return -1;
        }
    }

    @Command(name = "ae", description = {
        "Encode + decode throughput (slices/s) and peak resident memory of the slice autoencoder on random",
        "slices, for taming's standard config and a paper-shaped config (256x256 -> 256x4x4 latent)."})
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
                Random r = new Random(1);
                for (int z = 0; z < slices; z++) {
                    for (int y = 0; y < size; y++) {
                        for (int x = 0; x < size; x++) {
                            v.set(x, y, z, r.nextFloat());
                        }
                    }
                }
                for (String name : configs) {
                    VqConfig c = named(name.trim());
                    PeakMemory.reset();
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
                                        PeakMemory.peakKiB() / 1024.0);
                            }
                        }
                    }
                }
            }
            o.printf(Locale.ROOT, "(%d random %dx%d slices per config, batch %d; CPU numbers depend on the thread count)%n",
                    slices, size, size, Math.min(slices, 16));
            o.flush();
            return ExitCode.OK.code();
        }
    }
}
