package org.ctcf.api;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import org.ctcf.core.CtcfException;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.ctcf.internal.KernelResult;
import org.ctcf.internal.Specs.ResultVolume;

/**
 * The Latent Shift explanation of one chunk: the sweep frames (frame 0 is the counterfactual at the λ bound, the
 * last the reconstruction at λ = 0) on the processed grid, their λs and predictions, the heatmap, the stop reason and
 * the search trace.
 *
 * <p>The voxels stay in the kernel's result until asked for, and cross once: a volume accessor copies that volume
 * into an off-heap {@link Volume} the first time (later calls return the same object), {@link #frameSlice} copies
 * one slice of one frame and nothing else. Thread-safe. Owns the result and the volumes it handed out: close it
 * (idempotent); the volumes are closed with it.
 */
public final class Explanation implements AutoCloseable {
    private final KernelResult result;
    private final Geometry geometry;
    private final Volume[] frames;
    private Volume heatmap;
    private Volume reconstruction;
    private final Volume sharedReconstruction;
    private boolean closed;
    private final double[] lambdas;
    private final double[] predictions;
    private final double[] searchLambdas;
    private final double[] searchPredictions;
    private final double p0;
    private final double bound;
    private final StopReason stopReason;
    private final int start;
    private final int end;
    private final Timings timings;

    /**
     * {@code sharedReconstruction}: x0 when another owner holds it already (a sweep's, for its focus explanation);
     * null to read it from {@code result} when asked.
     */
    Explanation(KernelResult result, Geometry geometry, int frameCount, Volume sharedReconstruction,
            double[] lambdas, double[] predictions, double[] searchLambdas, double[] searchPredictions, double p0,
            double bound, StopReason stopReason, int start, int end, Timings timings) {
        this.result = result;
        this.geometry = geometry;
        this.frames = new Volume[frameCount];
        this.sharedReconstruction = sharedReconstruction;
        this.lambdas = lambdas;
        this.predictions = predictions;
        this.searchLambdas = searchLambdas;
        this.searchPredictions = searchPredictions;
        this.p0 = p0;
        this.bound = bound;
        this.stopReason = stopReason;
        this.start = start;
        this.end = end;
        this.timings = timings;
    }

    /** Every sweep frame as a volume (each copied out of the kernel once). */
    public synchronized List<Volume> frames() {
        List<Volume> out = new ArrayList<>(frames.length);
        for (int i = 0; i < frames.length; i++) {
            out.add(frame(i));
        }
        return List.copyOf(out);
    }

    public int frameCount() {
        return frames.length;
    }

    /** Sweep frame {@code i} as a volume (copied out of the kernel once). */
    public synchronized Volume frame(int i) {
        Objects.checkIndex(i, frames.length);
        if (frames[i] == null) {
            frames[i] = copy(ResultVolume.FRAME, i);
        }
        return frames[i];
    }

    /** Axial slice {@code z} of frame {@code i}: {@code nx * ny} values, x fastest; only that slice is copied. */
    public synchronized float[] frameSlice(int i, int z) {
        Objects.checkIndex(i, frames.length);
        Objects.checkIndex(z, geometry.nz());
        open();
        return frames[i] != null ? frames[i].plane(z)
                : result.slice(ResultVolume.FRAME, i, z, geometry.nx(), geometry.ny());
    }

    /** Frame 0: the counterfactual at the λ bound. */
    public Volume counterfactual() {
        return frame(0);
    }

    public synchronized Volume heatmap() {
        if (heatmap == null) {
            heatmap = copy(ResultVolume.HEATMAP, 0);
        }
        return heatmap;
    }

    /** x0 = decode(encode(x)), the λ = 0 volume. */
    public synchronized Volume reconstruction() {
        if (sharedReconstruction != null) {
            return sharedReconstruction;
        }
        if (reconstruction == null) {
            reconstruction = copy(ResultVolume.RECONSTRUCTION, 0);
        }
        return reconstruction;
    }

    private Volume copy(ResultVolume which, int index) {
        open();
        Volume v = Volume.allocate(geometry);
        try {
            result.copyVolume(which, index, v);
            return v;
        } catch (RuntimeException e) {
            v.close();
            throw e;
        }
    }

    private void open() {
        if (closed) {
            throw new CtcfException.ResourceClosedException("the explanation of slices [" + start + ", " + end
                    + ") is closed");
        }
    }

    public double[] lambdas() {
        return lambdas.clone();
    }

    public double[] predictions() {
        return predictions.clone();
    }

    /** Every λ the search evaluated, in order, and the prediction at each. */
    public double[] searchLambdas() {
        return searchLambdas.clone();
    }

    public double[] searchPredictions() {
        return searchPredictions.clone();
    }

    /** The prediction on the reconstruction. */
    public double initialPrediction() {
        return p0;
    }

    /** The prediction on the counterfactual. */
    public double counterfactualPrediction() {
        return predictions[0];
    }

    public double bound() {
        return bound;
    }

    public StopReason stopReason() {
        return stopReason;
    }

    public int chunkStart() {
        return start;
    }

    public int chunkEnd() {
        return end;
    }

    public Timings timings() {
        return timings;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Volume v : frames) {
            if (v != null) {
                v.close();
            }
        }
        if (heatmap != null) {
            heatmap.close();
        }
        if (reconstruction != null) {
            reconstruction.close();
        }
        result.close();
    }
}
