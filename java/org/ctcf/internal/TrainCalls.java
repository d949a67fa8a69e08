package org.ctcf.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Training in the kernel (ctcf_trainer_*, ctcf_manual_seed). The caller holds leases on the objects it passes. */
public final class TrainCalls {
    private TrainCalls() {
    }

    public static void manualSeed(long seed) {
        NativeLib.call("seeding", err -> (int) NativeLib.H.MANUAL_SEED.invokeExact(seed, err));
    }

    public static NativeObject autoencoderTrainer(NativeObject ctx, NativeObject ae, Specs.Wrapper wrapper,
            Specs.Train options) {
        MemorySegment c = ctx.handle();
        MemorySegment a = ae.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = Structs.wrapper(arena, wrapper);
            MemorySegment o = Structs.train(arena, options);
            MemorySegment out = arena.allocate(ADDRESS);
            NativeLib.call("creating the autoencoder trainer",
                    err -> (int) NativeLib.H.TRAINER_AE.invokeExact(c, a, w, o, out, err));
            return trainer(out);
        }
    }

    public static NativeObject classifierTrainer(NativeObject ctx, NativeObject clf, Specs.Train options) {
        MemorySegment c = ctx.handle();
        MemorySegment k = clf.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment o = Structs.train(arena, options);
            MemorySegment out = arena.allocate(ADDRESS);
            NativeLib.call("creating the classifier trainer",
                    err -> (int) NativeLib.H.TRAINER_CLF.invokeExact(c, k, o, out, err));
            return trainer(out);
        }
    }

    private static NativeObject trainer(MemorySegment out) {
        return new NativeObject("trainer", NativeObject.Kind.TRAINER, out.get(ADDRESS, 0));
    }

    /** Adds weight * LPIPS to the reconstruction term; {@code perceptual} null removes it. */
    public static void setPerceptual(NativeObject trainer, NativeObject perceptual, double weight) {
        MemorySegment t = trainer.handle();
        MemorySegment p = perceptual == null ? MemorySegment.NULL : perceptual.handle();
        NativeLib.call("setting the perceptual loss",
                err -> (int) NativeLib.H.TRAINER_SET_PERCEPTUAL.invokeExact(t, p, weight, err));
    }

    /** One optimisation step on x (shape xShape) with targets y (null for the autoencoder). */
    public static Specs.TrainStats step(NativeObject ctx, NativeObject trainer, float[] x, long[] xShape, float[] y,
            long[] yShape) {
        MemorySegment c = ctx.handle();
        MemorySegment t = trainer.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment xs = arena.allocateFrom(JAVA_FLOAT, x);
            MemorySegment xsh = arena.allocateFrom(JAVA_LONG, xShape);
            MemorySegment ys = y == null ? MemorySegment.NULL : arena.allocateFrom(JAVA_FLOAT, y);
            MemorySegment ysh = yShape == null ? MemorySegment.NULL : arena.allocateFrom(JAVA_LONG, yShape);
            int xn = xShape.length;
            int yn = yShape == null ? 0 : yShape.length;
            MemorySegment st = arena.allocate(NativeLib.TRAIN_STATS);
            NativeLib.call("training step", err -> (int) NativeLib.H.TRAINER_STEP.invokeExact(c, t, xs, xn, xsh, ys,
                    yn, ysh, st, err));
            return Structs.trainStats(st);
        }
    }
}
