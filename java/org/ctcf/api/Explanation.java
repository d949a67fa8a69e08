package org.ctcf.api;

import org.ctcf.core.Volume;

import java.util.List;

/**
 * The Latent Shift explanation of one chunk: the sweep frames (frame 0 is the counterfactual at the λ bound, the
 * last the reconstruction at λ = 0) as off-heap volumes on the processed grid, their λs and predictions, the
 * heatmap, the stop reason and the search trace. Owns its volumes: close it.
 */
public final class Explanation implements AutoCloseable {
    private final List<Volume> frames;
    private final Volume heatmap;
    private final Volume reconstruction;
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

    Explanation(List<Volume> frames, Volume heatmap, Volume reconstruction, double[] lambdas, double[] predictions,
            double[] searchLambdas, double[] searchPredictions, double p0, double bound, StopReason stopReason,
            int start, int end, Timings timings) {
        this.frames = List.copyOf(frames);
        this.heatmap = heatmap;
        this.reconstruction = reconstruction;
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

    public List<Volume> frames() {
        return frames;
    }

    /** Frame 0: the counterfactual at the λ bound. */
    public Volume counterfactual() {
        return frames.get(0);
    }

    public Volume heatmap() {
        return heatmap;
    }

    /** x0 = decode(encode(x)), the λ = 0 volume. */
    public Volume reconstruction() {
        return reconstruction;
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
    public void close() {
        for (Volume v : frames) {
            v.close();
        }
        heatmap.close();
        reconstruction.close();
    }
}
