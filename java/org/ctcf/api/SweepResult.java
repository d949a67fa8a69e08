package org.ctcf.api;

import org.ctcf.core.Volume;

import java.util.Comparator;
import java.util.List;

/**
 * A chunk sweep over a volume (the paper's Fig. 3B / Fig. 5): per chunk the minimum prediction, λ bound, stop
 * reason, pixel change and rank; per slice the prediction curve and the change curve; the stitched
 * counterfactual and heatmap, and the classifier's prediction on the stitched volume (which the reference never
 * computes). Owns its volumes: close it.
 */
public final class SweepResult implements AutoCloseable {
    /**
     * One chunk [start, end).
     *
     * @param rank 1 = the chunk whose counterfactual lowers the prediction most
     */
    public record Chunk(int start, int end, double minPrediction, double bound, StopReason stopReason,
            double pixelChange, int rank) {
    }

    private final List<Chunk> chunks;
    private final double[] slicePrediction;
    private final double[] sliceChange;
    private final Volume counterfactual;
    private final Volume heatmap;
    private final Volume reconstruction;
    private final double p0;
    private final double stitchedPrediction;
    private final Timings timings;
    private final Explanation focus;

    SweepResult(List<Chunk> chunks, double[] slicePrediction, double[] sliceChange, Volume counterfactual,
            Volume heatmap, Volume reconstruction, double p0, double stitchedPrediction, Timings timings,
            Explanation focus) {
        this.chunks = List.copyOf(chunks);
        this.slicePrediction = slicePrediction;
        this.sliceChange = sliceChange;
        this.counterfactual = counterfactual;
        this.heatmap = heatmap;
        this.reconstruction = reconstruction;
        this.p0 = p0;
        this.stitchedPrediction = stitchedPrediction;
        this.timings = timings;
        this.focus = focus;
    }

    /**
     * The explanation of the rank-1 chunk when the sweep ran with {@link ExplainOptions#focusFrames()} &gt; 0 (owned
     * by this result: closed with it).
     */
    public java.util.Optional<Explanation> focus() {
        return java.util.Optional.ofNullable(focus);
    }

    /** Chunks in slice order. */
    public List<Chunk> chunks() {
        return chunks;
    }

    /** Chunks from the one that lowers the prediction most. */
    public List<Chunk> ranked() {
        return chunks.stream().sorted(Comparator.comparingInt(Chunk::rank)).toList();
    }

    /** Per slice: the minimum prediction of the chunk(s) covering it (NaN outside the swept range). */
    public double[] slicePrediction() {
        return slicePrediction.clone();
    }

    /** Per slice: Σ|h| of the stitched heatmap (as the reference's per-slice plot sums it). */
    public double[] sliceChange() {
        return sliceChange.clone();
    }

    public Volume counterfactual() {
        return counterfactual;
    }

    public Volume heatmap() {
        return heatmap;
    }

    public Volume reconstruction() {
        return reconstruction;
    }

    public double initialPrediction() {
        return p0;
    }

    /** The classifier on the stitched counterfactual. */
    public double stitchedPrediction() {
        return stitchedPrediction;
    }

    public double minimumPrediction() {
        return chunks.stream().mapToDouble(Chunk::minPrediction).min().orElse(Double.NaN);
    }

    public Timings timings() {
        return timings;
    }

    @Override
    public void close() {
        counterfactual.close();
        heatmap.close();
        reconstruction.close();
        if (focus != null) {
            focus.close();
        }
    }
}
