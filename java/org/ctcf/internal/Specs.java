package org.ctcf.internal;

/**
 * The plain values the kernel's C structs carry, one record per struct of {@code ctcf.h} that the Java side fills
 * or reads. The api layer translates its domain types (options, cards, targets) into these; {@link Structs} writes
 * them into native memory and reads results back. Enum-valued fields hold the C enum's value.
 */
public final class Specs {
    private Specs() {
    }

    /** ctcf_preprocess_params. */
    public record Preprocess(int[] axisPerm, boolean[] axisFlip, double[] targetSpacing, double windowLow,
            double windowHigh, long inPlaneX, long inPlaneY, double padValue) {
    }

    /** ctcf_slice_wrapper. */
    public record Wrapper(double inScale, double inShift, double outScale, double outShift, long resize,
            boolean transpose, boolean referenceOrientation, boolean antialias) {
    }

    /** ctcf_vq_config. */
    public record Vq(long ch, long outCh, long inChannels, long resolution, long zChannels, long numResBlocks,
            long embedDim, long nEmbed, boolean doubleZ, boolean resampWithConv, long[] chMult,
            long[] attnResolutions, double dropout) {
    }

    /** ctcf_score_spec; activation and reducer are ctcf_activation / ctcf_reducer values. */
    public record Score(long target, boolean sigmoid, int activation, double offset, int reducer) {
    }

    /** ctcf_shift_options; heatmap and autocast are ctcf_heatmap / ctcf_autocast values; fixLow/fixHigh count
     * only with fixRange. */
    public record Shift(double searchPredDiff, double searchStepSize, double searchMaxSteps,
            double searchMaxPixelDiffPct, double stopBelow, boolean fixRange, double fixLow, double fixHigh,
            int lambdaSweepSteps, int heatmap, boolean referenceMode, long lambdaBatch, long decoderBatch,
            long gradientBatch, int focusFrames, int autocast, int stitch) {
    }

    /** ctcf_saliency_options; layer null = the built-in's default. */
    public record Saliency(int steps, double baseline, long[] window, long[] stride, double fill, long batch,
            String layer) {
    }

    /** ctcf_train_options. */
    public record Train(double learningRate, double beta1, double beta2, double weightDecay, double codebookWeight,
            double commitment, double discWeight, double discLearningRate, long discStart, long discChannels,
            int discLayers, long codeRestartEvery, double labelSmoothing) {
    }

    /** ctcf_train_stats. */
    public record TrainStats(long step, double loss, double reconstruction, double codebook, double generator,
            double discriminator, double adaptiveWeight, long codesUsed, double perceptual) {
    }

    /** ctcf_result_info; seconds are indexed by {@link Timer}. */
    public record ResultInfo(double p0, double bound, double stitchedPrediction, double counterfactualPrediction,
            double[] seconds, long frames, long lambdasEvaluated, long slicesDecoded, long classifierCalls,
            long gradientSlices, long chunks, int stopReason, int counterfactualChunks) {
        public double seconds(Timer t) {
            return seconds[t.code];
        }
    }

    /** ctcf_chunk_row; stopReason is a ctcf_stop_reason value. */
    public record ChunkRow(long start, long end, double minPrediction, double bound, double pixelChange,
            int stopReason, int rank) {
    }

    /** ctcf_timer: the slots of ctcf_result_info.seconds. */
    public enum Timer {
        ENCODE_DECODE(0), GRADIENT(1), SEARCH(2), SWEEP_FRAMES(3), STITCHING(4), TOTAL(5);

        /** CTCF_TIMER_COUNT. */
        public static final int COUNT = 6;
        public final int code;

        Timer(int code) {
            this.code = code;
        }
    }

    /** ctcf_result_array: the arrays a result holds. */
    public enum ResultArray {
        LAMBDAS(0), PREDICTIONS(1), SEARCH_LAMBDAS(2), SEARCH_PREDICTIONS(3), SLICE_PREDICTION(4), SLICE_CHANGE(5),
        SLICE_CHANGE_SQUARED(6), COUNTERFACTUAL_CHUNKS(7);

        public final int code;

        ResultArray(int code) {
            this.code = code;
        }
    }

    /** ctcf_result_volume_kind: the volumes a result holds. */
    public enum ResultVolume {
        FRAME(0), HEATMAP(1), RECONSTRUCTION(2), COUNTERFACTUAL(3), STITCHED(4), STITCHED_HEATMAP(5);

        public final int code;

        ResultVolume(int code) {
            this.code = code;
        }
    }

    /** ctcf_context_flags (a bit set). */
    public enum ContextFlag {
        TENSOR_OPS_ONLY(1);

        public final int bit;

        ContextFlag(int bit) {
            this.bit = bit;
        }
    }

    /** ctcf_orientation. */
    public enum Orientation {
        RAS(0), DISPLAY(1);

        public final int code;

        Orientation(int code) {
            this.code = code;
        }
    }

    /** ctcf_progress_phase. */
    public enum Phase {
        ENCODE_DECODE(0), GRADIENT(1), SEARCH_STEP(2), SWEEP_FRAME(3), CHUNK_DONE(4), SALIENCY(5);

        public final int code;

        Phase(int code) {
            this.code = code;
        }

        /** The phase of a C value; an unknown value is a broken kernel, not a user error. */
        public static Phase of(int code) {
            for (Phase p : values()) {
                if (p.code == code) {
                    return p;
                }
            }
            throw new IllegalStateException("the kernel reported an unknown progress phase " + code);
        }
    }
}
