package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;
import org.ctcf.core.CtcfException;
import org.ctcf.core.ErrorCode;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;

import org.ctcf.internal.NativeLib;
import org.ctcf.internal.NativeLib.H;

/**
 * Latent Shift (Cohen et al.) over a slice autoencoder, in the kernel: the counterfactual of a processed volume
 * for one chunk of slices ({@link #explain}) or for every chunk of a sweep ({@link #sweep}). Fast mode (default)
 * computes the published numbers with the exact identities of the design (one classifier backward, per-slice
 * vector–Jacobian products, chunk-only decoding, cached reconstruction); {@link ExplainOptions#referenceMode()}
 * runs the literal published algorithm, as a baseline and for proof of equality.
 *
 * <p>The autoencoder and the classifier must belong to the same {@link Kernel}. Calls may be cancelled from
 * another thread with {@link Kernel#cancel()} or by the progress listener returning false.
 */
public final class LatentShift {
    private LatentShift() {
    }

    /** Explains slices {@code [start, end)} of a processed volume. */
    public static Explanation explain(Volume x, SliceAutoencoder ae, Classifier clf, ExplainOptions o, int start,
            int end, Progress.Listener listener) {
        return run(x, ae, clf, o, listener, (ctx, aeh, w, ch, spec, vol, opts, cb, out, err) ->
                (int) H.EXPLAIN.invokeExact(ctx, aeh, w, ch, spec, vol, (long) start, (long) end, opts, cb,
                        MemorySegment.NULL, out, err), "explaining slices [" + start + ", " + end + ")",
                r -> toExplanation(r, x.geometry(), start, end));
    }

    /** Explains the whole volume as one chunk. */
    public static Explanation explain(Volume x, SliceAutoencoder ae, Classifier clf, ExplainOptions o) {
        return explain(x, ae, clf, o, 0, x.nz(), Progress.Listener.NONE);
    }

    /**
     * The chunk sweep. Frames per chunk come from {@code o.lambdaSweepSteps()} (the reference's sweep uses 2); with
     * {@code o.focusFrames() > 0} the result also holds the explanation of its rank-1 chunk.
     */
    public static SweepResult sweep(Volume x, SliceAutoencoder ae, Classifier clf, ExplainOptions o, ChunkSweep s,
            Progress.Listener listener) {
        return run(x, ae, clf, o, listener, (ctx, aeh, w, ch, spec, vol, opts, cb, out, err) ->
                (int) H.SWEEP.invokeExact(ctx, aeh, w, ch, spec, vol, (long) s.chunk(), (long) s.stride(),
                        (long) s.offset(), (long) s.first(), (long) s.last(), opts, cb, MemorySegment.NULL, out, err),
                "chunk sweep (chunk " + s.chunk() + ")", r -> toSweep(r, x.geometry()));
    }

    /**
     * Diagnostics: the latent gradient ∂p/∂z of slices {@code [start, end)} — computed the fast way (one
     * classifier backward, per-slice vector–Jacobian products) or, with {@code reference}, by joint autograd
     * through the chunk as published. Shape {@code [end − start, C, h, w]}.
     */
    public static Latents latentGradient(Volume x, SliceAutoencoder ae, Classifier clf, Target target, int start,
            int end, boolean reference) {
        Kernel kernel = clf.kernel();
        if (ae.kernel() != kernel) {
            throw new IllegalArgumentException("the autoencoder and the classifier must be loaded with the same Kernel");
        }
        try (var kl = kernel.lease(); var al = ae.lease(); var cl = clf.lease(); var vl = x.lease();
                Arena arena = Arena.ofConfined()) {
            MemorySegment vol = Kernel.describe(arena, x.segmentUnderLease(), x.geometry().dims(),
                    x.geometry().spacing());
            MemorySegment w = SliceAutoencoder.nativeWrapper(arena, ae.wrapper());
            MemorySegment spec = scoreSpec(arena, target);
            MemorySegment out = arena.allocate(ADDRESS);
            MemorySegment ctx = kernel.handle();
            MemorySegment aeh = ae.handle();
            MemorySegment ch = clf.handle();
            int ref = reference ? 1 : 0;
            long batch = ExplainOptions.defaults().gradientBatch();
            NativeLib.call("latent gradient", err -> (int) H.LATENT_GRADIENT.invokeExact(ctx, aeh, w, ch, spec, vol,
                    (long) start, (long) end, ref, batch, out, err));
            return new Latents(out.get(ADDRESS, 0));
        }
    }

    /** The reference's λ schedule from 0: {@code lb ← lb − step + floor(lb / 10)}, first {@code n} values. */
    public static double[] lambdaSchedule(int n, double step) {
        double[] v = new double[n];
        double lb = 0;
        for (int i = 0; i < n; i++) {
            v[i] = lb;
            lb = lb - step + Math.floor(lb / 10.0);
        }
        return v;
    }

    @FunctionalInterface
    private interface NativeRun {
        int invoke(MemorySegment ctx, MemorySegment ae, MemorySegment wrapper, MemorySegment clf, MemorySegment spec,
                MemorySegment volume, MemorySegment opts, MemorySegment callback, MemorySegment out,
                MemorySegment err) throws Throwable;
    }

    @FunctionalInterface
    private interface Converter<T> {
        T convert(MemorySegment result);
    }

    /** Bridges the kernel's progress callback to a listener; never lets an exception reach native code. */
    static final class Upcall {
        private final Progress.Listener listener;
        Throwable failure;

        Upcall(Progress.Listener listener) {
            this.listener = listener;
        }

        @SuppressWarnings("unused") // called from native code through the upcall stub
        int onProgress(MemorySegment user, int phase, long chunk, long chunks, long step, double lambda,
                double prediction) {
            try {
                return listener.onProgress(new Progress(Progress.Phase.of(phase), chunk, chunks, step, lambda,
                        prediction)) ? 0 : 1;
            } catch (Throwable t) {
                failure = t;
                return 1;
            }
        }

        MemorySegment stub(Arena arena) {
            try {
                MethodHandle mh = MethodHandles.lookup().findVirtual(Upcall.class, "onProgress",
                        MethodType.methodType(int.class, MemorySegment.class, int.class, long.class, long.class,
                                long.class, double.class, double.class)).bindTo(this);
                return Linker.nativeLinker().upcallStub(mh, NativeLib.PROGRESS_FN, arena);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private static <T> T run(Volume x, SliceAutoencoder ae, Classifier clf, ExplainOptions o,
            Progress.Listener listener, NativeRun call, String what, Converter<T> convert) {
        Kernel kernel = clf.kernel();
        if (ae.kernel() != kernel) {
            throw new IllegalArgumentException("the autoencoder and the classifier must be loaded with the same Kernel");
        }
        Upcall upcall = new Upcall(listener == null ? Progress.Listener.NONE : listener);
        ProcessMemory.resetPeak();
        try (var kl = kernel.lease(); var al = ae.lease(); var cl = clf.lease(); var vl = x.lease();
                Arena arena = Arena.ofConfined()) {
            MemorySegment vol = Kernel.describe(arena, x.segmentUnderLease(), x.geometry().dims(),
                    x.geometry().spacing());
            MemorySegment w = SliceAutoencoder.nativeWrapper(arena, ae.wrapper());
            MemorySegment spec = scoreSpec(arena, o.target());
            MemorySegment opts = shiftOptions(arena, o);
            MemorySegment out = arena.allocate(ADDRESS);
            MemorySegment cb = upcall.stub(arena);
            MemorySegment ctx = kernel.handle();
            MemorySegment aeh = ae.handle();
            MemorySegment ch = clf.handle();
            try {
                NativeLib.call(what, err -> call.invoke(ctx, aeh, w, ch, spec, vol, opts, cb, out, err));
            } catch (CtcfException.CancelledException e) {
                if (upcall.failure != null) {
                    throw new CtcfException(ErrorCode.INTERNAL, "the progress listener failed: " + upcall.failure,
                            upcall.failure);
                }
                throw e;
            }
            return convertAndFree(out.get(ADDRESS, 0), convert);
        }
    }

    /** Converts a kernel result into Java objects, then frees it (whether the conversion worked or not). */
    private static <T> T convertAndFree(MemorySegment result, Converter<T> convert) {
        try {
            return convert.convert(result);
        } finally {
            try {
                H.RESULT_FREE.invokeExact(result);
            } catch (Throwable t) {
                throw new IllegalStateException("ctcf_result_free failed", t);
            }
        }
    }

    static MemorySegment scoreSpec(Arena arena, Target t) {
        MemorySegment s = arena.allocate(NativeLib.SCORE_SPEC);
        s.set(JAVA_LONG, NativeLib.offsetOf(NativeLib.SCORE_SPEC, "target"), t.index());
        s.set(JAVA_INT, NativeLib.offsetOf(NativeLib.SCORE_SPEC, "apply_sigmoid"), t.sigmoid() ? 1 : 0);
        s.set(JAVA_INT, NativeLib.offsetOf(NativeLib.SCORE_SPEC, "activation"), t.activation().code);
        s.set(JAVA_DOUBLE, NativeLib.offsetOf(NativeLib.SCORE_SPEC, "offset"), t.offset());
        s.set(JAVA_INT, NativeLib.offsetOf(NativeLib.SCORE_SPEC, "reducer"), t.reducer().code);
        return s;
    }

    private static MemorySegment shiftOptions(Arena arena, ExplainOptions o) {
        MemorySegment s = arena.allocate(NativeLib.SHIFT_OPTIONS);
        var L = NativeLib.SHIFT_OPTIONS;
        s.set(JAVA_DOUBLE, NativeLib.offsetOf(L, "search_pred_diff"), o.searchPredDiff());
        s.set(JAVA_DOUBLE, NativeLib.offsetOf(L, "search_step_size"), o.searchStepSize());
        s.set(JAVA_DOUBLE, NativeLib.offsetOf(L, "search_max_steps"), o.searchMaxSteps());
        s.set(JAVA_DOUBLE, NativeLib.offsetOf(L, "search_max_pixel_diff_pct"), o.searchMaxPixelDiffPct());
        s.set(JAVA_DOUBLE, NativeLib.offsetOf(L, "stop_below"), o.stopBelow());
        s.set(JAVA_DOUBLE, NativeLib.offsetOf(L, "fix_lb"), o.fixedRange() ? o.fixLow() : 0.0);
        s.set(JAVA_DOUBLE, NativeLib.offsetOf(L, "fix_rb"), o.fixedRange() ? o.fixHigh() : 0.0);
        s.set(JAVA_INT, NativeLib.offsetOf(L, "lambda_sweep_steps"), o.lambdaSweepSteps());
        s.set(JAVA_INT, NativeLib.offsetOf(L, "heatmap"), o.heatmap().code);
        s.set(JAVA_INT, NativeLib.offsetOf(L, "fix_range"), o.fixedRange() ? 1 : 0);
        s.set(JAVA_INT, NativeLib.offsetOf(L, "reference_mode"), o.referenceMode() ? 1 : 0);
        s.set(JAVA_LONG, NativeLib.offsetOf(L, "lambda_batch"), o.lambdaBatch());
        s.set(JAVA_LONG, NativeLib.offsetOf(L, "decoder_batch"), o.decoderBatch());
        s.set(JAVA_LONG, NativeLib.offsetOf(L, "gradient_batch"), o.gradientBatch());
        s.set(JAVA_INT, NativeLib.offsetOf(L, "focus_frames"), o.focusFrames());
        s.set(JAVA_INT, NativeLib.offsetOf(L, "autocast"), o.autocast().code());
        return s;
    }

    // ---- result conversion -------------------------------------------------------------------------------------

    private record Info(double p0, double bound, double stitched, double[] seconds, long frames, long lambdas,
            long slices, long calls, long gradientSlices, long chunks, int stopReason) {
    }

    private static Info info(MemorySegment r) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment i = arena.allocate(NativeLib.RESULT_INFO);
            NativeLib.call("result info", err -> (int) H.RESULT_INFO_GET.invokeExact(r, i, err));
            var L = NativeLib.RESULT_INFO;
            double[] sec = new double[6];
            for (int k = 0; k < 6; k++) {
                sec[k] = i.get(JAVA_DOUBLE, NativeLib.offsetOf(L, "seconds") + 8L * k);
            }
            return new Info(i.get(JAVA_DOUBLE, NativeLib.offsetOf(L, "p0")),
                    i.get(JAVA_DOUBLE, NativeLib.offsetOf(L, "bound")),
                    i.get(JAVA_DOUBLE, NativeLib.offsetOf(L, "stitched_prediction")), sec,
                    i.get(JAVA_LONG, NativeLib.offsetOf(L, "frames")),
                    i.get(JAVA_LONG, NativeLib.offsetOf(L, "lambdas_evaluated")),
                    i.get(JAVA_LONG, NativeLib.offsetOf(L, "slices_decoded")),
                    i.get(JAVA_LONG, NativeLib.offsetOf(L, "classifier_calls")),
                    i.get(JAVA_LONG, NativeLib.offsetOf(L, "gradient_slices")),
                    i.get(JAVA_LONG, NativeLib.offsetOf(L, "chunks")),
                    i.get(JAVA_INT, NativeLib.offsetOf(L, "stop_reason")));
        }
    }

    private static double[] array(MemorySegment r, int which) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(ADDRESS);
            MemorySegment n = arena.allocate(JAVA_LONG);
            NativeLib.call("result array", err -> (int) H.RESULT_ARRAY_GET.invokeExact(r, which, data, n, err));
            long count = n.get(JAVA_LONG, 0);
            if (count == 0) {
                return new double[0];
            }
            return data.get(ADDRESS, 0).reinterpret(8 * count).toArray(JAVA_DOUBLE);
        }
    }

    /** Copies a kernel-owned result volume into a new off-heap Volume on {@code g} (no heap copy). */
    private static Volume volume(MemorySegment r, int which, long index, Geometry g) {
        Volume v = Volume.allocate(g);
        try (Arena arena = Arena.ofConfined(); var vl = v.lease()) {
            MemorySegment data = arena.allocate(ADDRESS);
            NativeLib.call("result volume", err -> (int) H.RESULT_VOLUME_GET.invokeExact(r, which, index, data, err));
            MemorySegment src = data.get(ADDRESS, 0).reinterpret(4 * g.voxelCount());
            v.segmentUnderLease().copyFrom(src);
            return v;
        } catch (RuntimeException e) {
            v.close();
            throw e;
        }
    }

    private static Timings timings(Info i) {
        return new Timings(i.seconds()[0], i.seconds()[1], i.seconds()[2], i.seconds()[3], i.seconds()[4],
                i.seconds()[5], i.lambdas(), i.slices(), i.calls(), i.gradientSlices(), ProcessMemory.peakMiB());
    }

    private static Explanation toExplanation(MemorySegment r, Geometry g, int start, int end) {
        Info i = info(r);
        List<Volume> frames = new ArrayList<>();
        Volume heat = null;
        Volume rec = null;
        try {
            for (long f = 0; f < i.frames(); f++) {
                frames.add(volume(r, 0, f, g));
            }
            heat = volume(r, 1, 0, g);
            rec = volume(r, 2, 0, g);
            return new Explanation(frames, heat, rec, array(r, 0), array(r, 1), array(r, 2), array(r, 3), i.p0(),
                    i.bound(), StopReason.fromCode(i.stopReason()), start, end, timings(i));
        } catch (RuntimeException e) {
            frames.forEach(Volume::close);
            if (heat != null) {
                heat.close();
            }
            if (rec != null) {
                rec.close();
            }
            throw e;
        }
    }

    private static SweepResult toSweep(MemorySegment r, Geometry g) {
        Info i = info(r);
        List<SweepResult.Chunk> chunks = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment rows = arena.allocate(NativeLib.CHUNK_ROW, Math.max(1, i.chunks()));
            MemorySegment n = arena.allocate(JAVA_LONG);
            long cap = i.chunks();
            NativeLib.call("result chunks", err -> (int) H.RESULT_CHUNKS_GET.invokeExact(r, rows, cap, n, err));
            var L = NativeLib.CHUNK_ROW;
            for (long k = 0; k < n.get(JAVA_LONG, 0); k++) {
                MemorySegment row = rows.asSlice(k * L.byteSize(), L.byteSize());
                chunks.add(new SweepResult.Chunk((int) row.get(JAVA_LONG, NativeLib.offsetOf(L, "start")),
                        (int) row.get(JAVA_LONG, NativeLib.offsetOf(L, "end")),
                        row.get(JAVA_DOUBLE, NativeLib.offsetOf(L, "min_prediction")),
                        row.get(JAVA_DOUBLE, NativeLib.offsetOf(L, "bound")),
                        StopReason.fromCode(row.get(JAVA_INT, NativeLib.offsetOf(L, "stop_reason"))),
                        row.get(JAVA_DOUBLE, NativeLib.offsetOf(L, "pixel_change")),
                        row.get(JAVA_INT, NativeLib.offsetOf(L, "rank"))));
            }
        }
        Explanation focus = takeFocus(r, g);
        Volume cf = null;
        Volume heat = null;
        try {
            cf = volume(r, 3, 0, g);
            heat = volume(r, 1, 0, g);
            Volume rec = volume(r, 2, 0, g);
            return new SweepResult(chunks, array(r, 4), array(r, 5), cf, heat, rec, i.p0(), i.stitched(), timings(i),
                    focus);
        } catch (RuntimeException e) {
            for (AutoCloseable c : new AutoCloseable[] {cf, heat, focus}) {
                if (c != null) {
                    try {
                        c.close();
                    } catch (Exception suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
            }
            throw e;
        }
    }

    /** The sweep's focus explanation, or null; the native focus result is freed here either way. */
    private static Explanation takeFocus(MemorySegment r, Geometry g) {
        MemorySegment f;
        int start;
        int end;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            MemorySegment s = arena.allocate(JAVA_LONG);
            MemorySegment e = arena.allocate(JAVA_LONG);
            NativeLib.call("sweep focus", err -> (int) H.RESULT_TAKE_FOCUS.invokeExact(r, out, s, e, err));
            f = out.get(ADDRESS, 0);
            start = (int) s.get(JAVA_LONG, 0);
            end = (int) e.get(JAVA_LONG, 0);
        }
        if (f.equals(MemorySegment.NULL)) {
            return null;
        }
        return convertAndFree(f, res -> toExplanation(res, g, start, end));
    }
}
