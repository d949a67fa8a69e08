package org.ctcf.api;

import java.util.ArrayList;
import java.util.List;

import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.ctcf.internal.KernelResult;
import org.ctcf.internal.ProgressSink;
import org.ctcf.internal.ShiftCalls;
import org.ctcf.internal.Specs;
import org.ctcf.internal.Specs.ResultArray;
import org.ctcf.internal.Specs.ResultVolume;
import org.ctcf.internal.Specs.Timer;

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
        return run(x, ae, clf, o.target(), (m, sink) -> ShiftCalls.explain(m, x, start, end, shift(o), sink),
                listener, r -> toExplanation(r.moved(), x.geometry(), start, end, null));
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
        return run(x, ae, clf, o.target(), (m, sink) -> ShiftCalls.sweep(m, x, s.chunk(), s.stride(), s.offset(),
                s.first(), s.last(), shift(o), sink), listener, r -> toSweep(r, x.geometry(), o.stitch()));
    }

    /**
     * Diagnostics: the latent gradient ∂p/∂z of slices {@code [start, end)} — computed the fast way (one
     * classifier backward, per-slice vector–Jacobian products) or, with {@code reference}, by joint autograd
     * through the chunk as published. Shape {@code [end − start, C, h, w]}.
     */
    public static Latents latentGradient(Volume x, SliceAutoencoder ae, Classifier clf, Target target, int start,
            int end, boolean reference) {
        Kernel kernel = sameKernel(ae, clf);
        try (var kl = kernel.lease(); var al = ae.lease(); var cl = clf.lease(); var vl = x.lease()) {
            return new Latents(ShiftCalls.latentGradient(models(kernel, ae, clf, target), x, start, end, reference,
                    ExplainOptions.defaults().gradientBatch()));
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
    private interface Call {
        KernelResult run(ShiftCalls.Models models, ProgressSink sink);
    }

    @FunctionalInterface
    private interface Converter<T> {
        T convert(KernelResult result);
    }

    private static Kernel sameKernel(SliceAutoencoder ae, Classifier clf) {
        Kernel kernel = clf.kernel();
        if (ae.kernel() != kernel) {
            throw new IllegalArgumentException("the autoencoder and the classifier must be loaded with the same Kernel");
        }
        return kernel;
    }

    private static ShiftCalls.Models models(Kernel kernel, SliceAutoencoder ae, Classifier clf, Target target) {
        return new ShiftCalls.Models(kernel.object(), ae.object(), ae.wrapper().spec(), clf.object(), target.spec());
    }

    /** Bridges the kernel's progress reports to a listener. */
    static ProgressSink sink(Progress.Listener listener) {
        Progress.Listener l = listener == null ? Progress.Listener.NONE : listener;
        return (phase, chunk, chunks, step, lambda, prediction) -> l.onProgress(new Progress(Progress.Phase.of(phase),
                chunk, chunks, step, lambda, prediction));
    }

    private static <T> T run(Volume x, SliceAutoencoder ae, Classifier clf, Target target, Call call,
            Progress.Listener listener, Converter<T> convert) {
        Kernel kernel = sameKernel(ae, clf);
        ProcessMemory.resetPeak();
        try (var kl = kernel.lease(); var al = ae.lease(); var cl = clf.lease(); var vl = x.lease();
                KernelResult r = call.run(models(kernel, ae, clf, target), sink(listener))) {
            return convert.convert(r);
        }
    }

    private static Specs.Shift shift(ExplainOptions o) {
        return new Specs.Shift(o.searchPredDiff(), o.searchStepSize(), o.searchMaxSteps(), o.searchMaxPixelDiffPct(),
                o.stopBelow(), o.fixedRange(), o.fixedRange() ? o.fixLow() : 0.0, o.fixedRange() ? o.fixHigh() : 0.0,
                o.lambdaSweepSteps(), o.heatmap().code,
                o.referenceMode(), o.lambdaBatch(), o.decoderBatch(), o.gradientBatch(), o.focusFrames(),
                o.autocast().code(), o.stitch().code());
    }

    // ---- result conversion -------------------------------------------------------------------------------------

    /** Copies a kernel-owned result volume into a new off-heap Volume on {@code g} (no heap copy). */
    private static Volume volume(KernelResult r, ResultVolume which, long index, Geometry g) {
        Volume v = Volume.allocate(g);
        try {
            r.copyVolume(which, index, v);
            return v;
        } catch (RuntimeException e) {
            v.close();
            throw e;
        }
    }

    private static Timings timings(Specs.ResultInfo i) {
        return new Timings(i.seconds(Timer.ENCODE_DECODE), i.seconds(Timer.GRADIENT), i.seconds(Timer.SEARCH),
                i.seconds(Timer.SWEEP_FRAMES), i.seconds(Timer.STITCHING), i.seconds(Timer.TOTAL), i.lambdasEvaluated(),
                i.slicesDecoded(), i.classifierCalls(), i.gradientSlices(), ProcessMemory.peakMiB());
    }

    /** An explanation that owns {@code r} (its volumes are read from it when asked); r is closed on failure. */
    private static Explanation toExplanation(KernelResult r, Geometry g, int start, int end, Volume sharedX0) {
        try {
            Specs.ResultInfo i = r.info();
            return new Explanation(r, g, Math.toIntExact(i.frames()), sharedX0, r.array(ResultArray.LAMBDAS),
                    r.array(ResultArray.PREDICTIONS), r.array(ResultArray.SEARCH_LAMBDAS),
                    r.array(ResultArray.SEARCH_PREDICTIONS), i.p0(), i.bound(), StopReason.fromCode(i.stopReason()),
                    start, end, timings(i));
        } catch (RuntimeException e) {
            r.close();
            throw e;
        }
    }

    private static SweepResult toSweep(KernelResult r, Geometry g, ExplainOptions.Stitch stitch) {
        Specs.ResultInfo i = r.info();
        List<SweepResult.Chunk> chunks = new ArrayList<>();
        for (Specs.ChunkRow row : r.chunks(i.chunks())) {
            chunks.add(new SweepResult.Chunk((int) row.start(), (int) row.end(), row.minPrediction(), row.bound(),
                    StopReason.fromCode(row.stopReason()), row.pixelChange(), row.rank()));
        }
        double[] in = r.array(ResultArray.COUNTERFACTUAL_CHUNKS);
        int[] included = new int[in.length];
        for (int k = 0; k < in.length; k++) {
            included[k] = (int) in[k];
        }
        Volume[] v = new Volume[5];
        Explanation focus = null;
        try {
            ResultVolume[] kinds = {ResultVolume.COUNTERFACTUAL, ResultVolume.HEATMAP, ResultVolume.STITCHED,
                ResultVolume.STITCHED_HEATMAP, ResultVolume.RECONSTRUCTION};
            for (int k = 0; k < kinds.length; k++) {
                v[k] = volume(r, kinds[k], 0, g);
            }
            focus = takeFocus(r, g, v[4]);
            return new SweepResult(chunks, r.array(ResultArray.SLICE_PREDICTION), r.array(ResultArray.SLICE_CHANGE),
                    r.array(ResultArray.SLICE_CHANGE_SQUARED), new SweepResult.Volumes(v[0], v[1], v[2], v[3], v[4]),
                    i.p0(), i.stitchedPrediction(), i.counterfactualPrediction(), included, stitch, timings(i), focus);
        } catch (RuntimeException e) {
            for (AutoCloseable c : new AutoCloseable[] {v[0], v[1], v[2], v[3], v[4], focus}) {
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

    /** The sweep's focus explanation (sharing the sweep's reconstruction {@code x0}), or null. */
    private static Explanation takeFocus(KernelResult r, Geometry g, Volume x0) {
        KernelResult.Focus f = r.takeFocus();
        if (f == null) {
            return null;
        }
        return toExplanation(f.result(), g, f.start(), f.end(), x0);
    }
}
