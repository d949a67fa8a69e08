package org.ctcf.api;

import org.ctcf.core.Volume;

import java.util.Comparator;
import java.util.List;

/**
 * A chunk sweep over a volume (the paper's Fig. 3B / Fig. 5): per chunk the minimum prediction, λ bound, stop
 * reason, pixel change and rank; per slice the prediction curve and the change curves; the sweep's
 * {@linkplain #counterfactual() counterfactual}, which is the best chunk's own (the paper's minimum over chunks;
 * {@link ExplainOptions.Stitch}), or none when no chunk lowered the prediction; and the reference's display
 * mosaic of every chunk's frame ({@link #stitched()}) with the classifier's prediction on it, which the reference
 * never computes and which is not a counterfactual of the method. Owns its volumes: close it.
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
    private final double[] sliceChangeSquared;
    private final Volumes volumes;
    private final double p0;
    private final double stitchedPrediction;
    private final double counterfactualPrediction;
    private final List<Chunk> counterfactualChunks;
    private final ExplainOptions.Stitch stitch;
    private final Timings timings;
    private final Explanation focus;

    /** The sweep's volumes (processed grid). */
    record Volumes(Volume counterfactual, Volume heatmap, Volume stitched, Volume stitchedHeatmap,
            Volume reconstruction) implements AutoCloseable {
        @Override
        public void close() {
            for (Volume v : new Volume[] {counterfactual, heatmap, stitched, stitchedHeatmap, reconstruction}) {
                if (v != null) {
                    v.close();
                }
            }
        }
    }

    SweepResult(List<Chunk> chunks, double[] slicePrediction, double[] sliceChange, double[] sliceChangeSquared,
            Volumes volumes, double p0, double stitchedPrediction, double counterfactualPrediction,
            int[] counterfactualChunks, ExplainOptions.Stitch stitch, Timings timings, Explanation focus) {
        this.chunks = List.copyOf(chunks);
        this.slicePrediction = slicePrediction;
        this.sliceChange = sliceChange;
        this.sliceChangeSquared = sliceChangeSquared;
        this.volumes = volumes;
        this.p0 = p0;
        this.stitchedPrediction = stitchedPrediction;
        this.counterfactualPrediction = counterfactualPrediction;
        List<Chunk> in = new java.util.ArrayList<>();
        for (int i : counterfactualChunks) {
            in.add(this.chunks.get(i));
        }
        this.counterfactualChunks = List.copyOf(in);
        this.stitch = stitch;
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

    /**
     * Per slice, the change of the mosaic's heatmap ({@link #stitchedHeatmap()}): Σh² (the measure of the
     * reference's chunk-sweep notebooks, which plot it smoothed by a 5-tap moving average, {@link #movingAverage}),
     * or Σ|h| with {@code squared} false (its single-chunk notebook's).
     */
    public double[] sliceChange(boolean squared) {
        return (squared ? sliceChangeSquared : sliceChange).clone();
    }

    /**
     * The centred moving average over {@code taps} (odd) values, the missing ones beyond the ends counted as 0: the
     * values of numpy's {@code convolve(v, ones(taps) / taps, mode='full')} (what the reference plots), aligned to
     * the slices ({@code mode='same'}) instead of shifted by {@code taps / 2}.
     */
    public static double[] movingAverage(double[] v, int taps) {
        if (taps < 1 || taps % 2 == 0) {
            throw new IllegalArgumentException("taps must be odd and >= 1, not " + taps);
        }
        double[] out = new double[v.length];
        int half = taps / 2;
        for (int i = 0; i < v.length; i++) {
            double sum = 0;
            for (int k = Math.max(0, i - half); k <= Math.min(v.length - 1, i + half); k++) {
                sum += v[k];
            }
            out[i] = sum / taps;
        }
        return out;
    }

    /**
     * The sweep's counterfactual: the reconstruction with the slices of {@link #counterfactualChunks()} taken from
     * each one's lowest-scoring frame; the reconstruction itself when no chunk lowered the prediction.
     */
    public Volume counterfactual() {
        return volumes.counterfactual();
    }

    /** The heatmap of the counterfactual: its chunks' heatmaps on their slices, 0 elsewhere. */
    public Volume heatmap() {
        return volumes.heatmap();
    }

    /**
     * The reference's display mosaic: every chunk's frame 0 (its λ bound) on its own slices. Each chunk was shifted
     * on its own, so this composite is not one the method scored: for display only.
     */
    public Volume stitched() {
        return volumes.stitched();
    }

    /** Every chunk's heatmap on its own slices (the mosaic's, which the per-slice change sums). */
    public Volume stitchedHeatmap() {
        return volumes.stitchedHeatmap();
    }

    public Volume reconstruction() {
        return volumes.reconstruction();
    }

    public double initialPrediction() {
        return p0;
    }

    /** The classifier on the display mosaic ({@link #stitched()}); not the method's result. */
    public double stitchedPrediction() {
        return stitchedPrediction;
    }

    /** The lowest prediction over chunks: the paper's result (Table 1, Fig. 5A). */
    public double minimumPrediction() {
        return chunks.stream().mapToDouble(Chunk::minPrediction).min().orElse(Double.NaN);
    }

    /**
     * The classifier on {@link #counterfactual()}: the best chunk's minimum ({@link ExplainOptions.Stitch#BEST}),
     * the greedy composite's score ({@link ExplainOptions.Stitch#GREEDY}, never above it), or the initial prediction
     * when nothing was found.
     */
    public double counterfactualPrediction() {
        return counterfactualPrediction;
    }

    /** True when some chunk lowered the prediction below the initial one. */
    public boolean found() {
        return !counterfactualChunks.isEmpty();
    }

    /** The chunks that make the counterfactual, in the order added (empty when none lowered the prediction). */
    public List<Chunk> counterfactualChunks() {
        return counterfactualChunks;
    }

    /** How the counterfactual was built. */
    public ExplainOptions.Stitch stitch() {
        return stitch;
    }

    public Timings timings() {
        return timings;
    }

    @Override
    public void close() {
        volumes.close();
        if (focus != null) {
            focus.close();
        }
    }
}
