package org.ctcf.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.ctcf.core.Volume;

/**
 * Latent Shift in the kernel (ctcf_explain, ctcf_sweep, ctcf_latent_gradient) and the saliency baselines
 * (ctcf_saliency): the score spec, the options, the progress upcall and the result. The caller holds leases on
 * every object and volume it passes.
 */
public final class ShiftCalls {
    private ShiftCalls() {
    }

    /** The models and the scored target of one explanation. */
    public record Models(NativeObject ctx, NativeObject autoencoder, Specs.Wrapper wrapper, NativeObject classifier,
            Specs.Score score) {
    }

    /** Latent Shift of slices [start, end) of {@code x}. */
    public static KernelResult explain(Models m, Volume x, long start, long end, Specs.Shift options,
            ProgressSink progress) {
        return run("explaining slices [" + start + ", " + end + ")", m, x, options, progress,
                (c, a, w, k, s, v, o, cb, out, err) -> (int) NativeLib.H.EXPLAIN.invokeExact(c, a, w, k, s, v, start,
                        end, o, cb, MemorySegment.NULL, out, err));
    }

    /** The chunk sweep over slices [first, last) (last <= 0: all). */
    public static KernelResult sweep(Models m, Volume x, long chunk, long stride, long offset, long first, long last,
            Specs.Shift options, ProgressSink progress) {
        return run("chunk sweep (chunk " + chunk + ")", m, x, options, progress,
                (c, a, w, k, s, v, o, cb, out, err) -> (int) NativeLib.H.SWEEP.invokeExact(c, a, w, k, s, v, chunk,
                        stride, offset, first, last, o, cb, MemorySegment.NULL, out, err));
    }

    /** The latent gradient dp/dz of slices [start, end), as a new tensor [end - start, C, h, w]. */
    public static NativeObject latentGradient(Models m, Volume x, long start, long end, boolean reference,
            long gradientBatch) {
        MemorySegment c = m.ctx().handle();
        MemorySegment a = m.autoencoder().handle();
        MemorySegment k = m.classifier().handle();
        int ref = reference ? 1 : 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = Structs.volume(arena, x);
            MemorySegment w = Structs.wrapper(arena, m.wrapper());
            MemorySegment s = Structs.score(arena, m.score());
            MemorySegment out = arena.allocate(ADDRESS);
            NativeLib.call("latent gradient", err -> (int) NativeLib.H.LATENT_GRADIENT.invokeExact(c, a, w, k, s, v,
                    start, end, ref, gradientBatch, out, err));
            return new NativeObject("latent gradient", NativeObject.Kind.TENSOR, out.get(ADDRESS, 0));
        }
    }

    /**
     * A saliency map of {@code x} (method: a ctcf_saliency_method value) written into {@code map}; returns the
     * score of x.
     */
    public static double saliency(NativeObject ctx, NativeObject clf, Specs.Score score, Volume x, int method,
            Specs.Saliency options, String what, ProgressSink progress, Volume map) {
        MemorySegment c = ctx.handle();
        MemorySegment k = clf.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = Structs.volume(arena, x);
            MemorySegment s = Structs.score(arena, score);
            MemorySegment o = Structs.saliency(arena, options);
            MemorySegment value = arena.allocate(JAVA_DOUBLE);
            MemorySegment dst = map.segmentUnderLease();
            ProgressSink.during(what, progress, (cb, err) -> (int) NativeLib.H.SALIENCY.invokeExact(c, k, s, v,
                    method, o, cb, MemorySegment.NULL, dst, value, err));
            return value.get(JAVA_DOUBLE, 0);
        }
    }

    @FunctionalInterface
    private interface Run {
        int invoke(MemorySegment ctx, MemorySegment ae, MemorySegment wrapper, MemorySegment clf, MemorySegment spec,
                MemorySegment volume, MemorySegment opts, MemorySegment callback, MemorySegment out,
                MemorySegment err) throws Throwable;
    }

    private static KernelResult run(String what, Models m, Volume x, Specs.Shift options, ProgressSink progress,
            Run call) {
        MemorySegment c = m.ctx().handle();
        MemorySegment a = m.autoencoder().handle();
        MemorySegment k = m.classifier().handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = Structs.volume(arena, x);
            MemorySegment w = Structs.wrapper(arena, m.wrapper());
            MemorySegment s = Structs.score(arena, m.score());
            MemorySegment o = Structs.shift(arena, options);
            MemorySegment out = arena.allocate(ADDRESS);
            ProgressSink.during(what, progress, (cb, err) -> call.invoke(c, a, w, k, s, v, o, cb, out, err));
            return new KernelResult(out.get(ADDRESS, 0));
        }
    }
}
