package org.ctcf.api;

/**
 * Latent Shift options. {@link #defaults()} are the reference's ({@code LatentShift.attribute}: search options,
 * the stop floor, sweep steps, heatmap "int", sigmoid on output 0, no fixed range) in fast mode; the {@link Builder}'s
 * initial values are their one source (the CLI's help and defaults read them from there).
 *
 * @param fixLow with {@code fixHigh}: a fixed λ range (no search); both null for the search
 * @param referenceMode run the literal published algorithm (every step re-decodes every slice)
 * @param lambdaBatch fast mode: λ candidates decoded and classified per batch (same bound as sequential)
 * @param decoderBatch slices per no-grad decoder batch
 * @param gradientBatch slices per vector–Jacobian micro-batch (bounds the memory of the gradient; default 1: a
 *     decoder backward saves several full-size activations per slice, so on CPU one slice at a time is both the
 *     smallest and not slower; a GPU may gain from more)
 * @param focusFrames chunk sweeps only, 0 = none: after the sweep, the rank-1 chunk is explained with this many λ
 *     steps ({@link SweepResult#focus()}); in fast mode it reuses the sweep's latents, gradients and search
 * @param autocast the decoder and the classifier in bfloat16 or float16 (default {@link Autocast#OFF}: float32);
 *     the encoder, the codebook and the search stay float32
 * @param stitch chunk sweeps only: what the sweep's counterfactual is (default {@link Stitch#BEST}, the paper's)
 */
public record ExplainOptions(Target target, double searchPredDiff, double searchStepSize, double searchMaxSteps,
        double searchMaxPixelDiffPct, double stopBelow, int lambdaSweepSteps, HeatmapMethod heatmap, Double fixLow,
        Double fixHigh, boolean referenceMode, int lambdaBatch, int decoderBatch, int gradientBatch,
        int focusFrames, Autocast autocast, Stitch stitch) {

    /**
     * A chunk sweep's counterfactual (codes as {@code ctcf_stitch}). Each chunk is shifted on its own, so the
     * reference's mosaic of every chunk's frame (kept for display, {@link SweepResult#stitched()}) is a volume the
     * method never scored; the paper reports the minimum over chunks.
     */
    public enum Stitch {
        /** The rank-1 chunk's own counterfactual: its lowest-scoring frame on the reconstruction (the paper's). */
        BEST(0),
        /**
         * ctcf's extension: from the best chunk, chunks added in rank order while the re-scored composite strictly
         * drops (so never above the best chunk).
         */
        GREEDY(1);

        private final int code;

        Stitch(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }

        /** best or greedy. */
        public static Stitch parse(String name) {
            return switch (name.toLowerCase(java.util.Locale.ROOT)) {
                case "best", "none" -> BEST;
                case "greedy" -> GREEDY;
                default -> throw new IllegalArgumentException("unknown stitch '" + name + "' (best, greedy)");
            };
        }
    }

    /** Lower-precision autocast of the decoder and classifier (codes as {@code ctcf_autocast}). */
    public enum Autocast {
        OFF(0), BF16(1), FP16(2);

        private final int code;

        Autocast(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }

        /** off, bf16 or fp16. */
        public static Autocast parse(String name) {
            return switch (name.toLowerCase(java.util.Locale.ROOT)) {
                case "off", "fp32" -> OFF;
                case "bf16", "bfloat16" -> BF16;
                case "fp16", "float16", "half" -> FP16;
                default -> throw new IllegalArgumentException("unknown autocast '" + name + "' (off, bf16, fp16)");
            };
        }
    }

    public ExplainOptions {
        if (target == null || heatmap == null || autocast == null || stitch == null) {
            throw new IllegalArgumentException("target and heatmap are required");
        }
        if (!(searchStepSize > 0) || searchPredDiff < 0 || searchMaxSteps < 0 || searchMaxPixelDiffPct < 0) {
            throw new IllegalArgumentException("search options must be >= 0 (step size > 0)");
        }
        if (lambdaSweepSteps < 2 || lambdaSweepSteps > 1000) {
            throw new IllegalArgumentException("lambda_sweep_steps must be in 2..1000 (the sweep runs from the bound "
                    + "to 0, as the reference asserts), not " + lambdaSweepSteps);
        }
        if (lambdaBatch < 1 || decoderBatch < 1 || gradientBatch < 1) {
            throw new IllegalArgumentException("the batch sizes must be >= 1");
        }
        if ((fixLow == null) != (fixHigh == null)) {
            throw new IllegalArgumentException("a fixed range needs both bounds");
        }
        if (referenceMode && autocast != Autocast.OFF) {
            throw new IllegalArgumentException("--reference runs the published algorithm, which is float32: it takes "
                    + "no --autocast " + autocast.name().toLowerCase(java.util.Locale.ROOT) + " (autocast is a fast-mode "
                    + "option)");
        }
        if (focusFrames < 0 || focusFrames == 1 || focusFrames > 1000) {
            throw new IllegalArgumentException("focus frames must be 0 (none) or in 2..1000, not " + focusFrames);
        }
    }

    public static ExplainOptions defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.target = target;
        b.searchPredDiff = searchPredDiff;
        b.searchStepSize = searchStepSize;
        b.searchMaxSteps = searchMaxSteps;
        b.searchMaxPixelDiffPct = searchMaxPixelDiffPct;
        b.stopBelow = stopBelow;
        b.lambdaSweepSteps = lambdaSweepSteps;
        b.heatmap = heatmap;
        b.fixLow = fixLow;
        b.fixHigh = fixHigh;
        b.referenceMode = referenceMode;
        b.lambdaBatch = lambdaBatch;
        b.decoderBatch = decoderBatch;
        b.gradientBatch = gradientBatch;
        b.focusFrames = focusFrames;
        b.autocast = autocast;
        b.stitch = stitch;
        return b;
    }

    public boolean fixedRange() {
        return fixLow != null;
    }

    /** Builder with the reference defaults. */
    public static final class Builder {
        private Target target = Target.sigmoidOf(0);
        private double searchPredDiff = 0.8;
        private double searchStepSize = 10.0;
        private double searchMaxSteps = 3000;
        private double searchMaxPixelDiffPct = 0.05;
        private double stopBelow = 0.05;
        private int lambdaSweepSteps = 10;
        private HeatmapMethod heatmap = HeatmapMethod.INT;
        private Double fixLow;
        private Double fixHigh;
        private boolean referenceMode;
        private int lambdaBatch = 1;
        private int decoderBatch = 16;
        private int gradientBatch = 1;
        private int focusFrames;
        private Autocast autocast = Autocast.OFF;
        private Stitch stitch = Stitch.BEST;

        public Builder target(Target t) {
            this.target = t;
            return this;
        }

        public Builder searchPredDiff(double v) {
            this.searchPredDiff = v;
            return this;
        }

        public Builder searchStepSize(double v) {
            this.searchStepSize = v;
            return this;
        }

        public Builder searchMaxSteps(double v) {
            this.searchMaxSteps = v;
            return this;
        }

        public Builder searchMaxPixelDiffPct(double v) {
            this.searchMaxPixelDiffPct = v;
            return this;
        }

        public Builder stopBelow(double v) {
            this.stopBelow = v;
            return this;
        }

        public Builder lambdaSweepSteps(int v) {
            this.lambdaSweepSteps = v;
            return this;
        }

        public Builder heatmap(HeatmapMethod v) {
            this.heatmap = v;
            return this;
        }

        public Builder fixRange(double low, double high) {
            this.fixLow = low;
            this.fixHigh = high;
            return this;
        }

        public Builder referenceMode(boolean v) {
            this.referenceMode = v;
            return this;
        }

        public Builder lambdaBatch(int v) {
            this.lambdaBatch = v;
            return this;
        }

        public Builder decoderBatch(int v) {
            this.decoderBatch = v;
            return this;
        }

        public Builder gradientBatch(int v) {
            this.gradientBatch = v;
            return this;
        }

        /** Chunk sweeps: explain the rank-1 chunk with {@code v} λ steps afterwards (0 = no focus). */
        public Builder focusFrames(int v) {
            this.focusFrames = v;
            return this;
        }

        public Builder stitch(Stitch v) {
            this.stitch = v;
            return this;
        }

        public Builder autocast(Autocast v) {
            this.autocast = v;
            return this;
        }

        public ExplainOptions build() {
            return new ExplainOptions(target, searchPredDiff, searchStepSize, searchMaxSteps, searchMaxPixelDiffPct,
                    stopBelow, lambdaSweepSteps, heatmap, fixLow, fixHigh, referenceMode, lambdaBatch, decoderBatch,
                    gradientBatch, focusFrames, autocast, stitch);
        }
    }
}
