package org.ctcf.api;

import org.ctcf.internal.Specs;

/**
 * The number Latent Shift explains (the kernel's {@code ctcf_score_spec}): the classifier's output, through
 * {@code activation} over the class axis, column {@code index} (or, for segmentation maps, channel {@code index}
 * reduced over its voxels by {@code reducer}), plus {@code offset}, then a sigmoid if {@code sigmoid} — the
 * reference's {@code adjustment(f(x))[:, target]} followed by {@code apply_sigmoid}.
 */
public record Target(int index, Activation activation, Reducer reducer, double offset, boolean sigmoid) {
    /** Codes mirror {@code ctcf_activation}. */
    public enum Activation {
        NONE(0), SIGMOID(1), SOFTMAX(2), EXP(3);

        final int code;

        Activation(int code) {
            this.code = code;
        }

        /** From a card's name: none, sigmoid, softmax, exp. */
        public static Activation parse(String name) {
            return switch (name) {
                case "none" -> NONE;
                case "sigmoid" -> SIGMOID;
                case "softmax" -> SOFTMAX;
                case "exp" -> EXP;
                default -> throw new IllegalArgumentException("unknown activation '" + name
                        + "' (none, sigmoid, softmax, exp)");
            };
        }
    }

    /** Codes mirror {@code ctcf_reducer}. */
    public enum Reducer {
        NONE(0), ONE_MINUS_MEAN(1), MEAN(2), SUM(3);

        final int code;

        Reducer(int code) {
            this.code = code;
        }

        /** From a card's name: none, one_minus_mean, mean, sum. */
        public static Reducer parse(String name) {
            return switch (name) {
                case "none" -> NONE;
                case "one_minus_mean" -> ONE_MINUS_MEAN;
                case "mean" -> MEAN;
                case "sum" -> SUM;
                default -> throw new IllegalArgumentException("unknown reducer '" + name
                        + "' (none, one_minus_mean, mean, sum)");
            };
        }
    }

    public Target {
        if (index < 0) {
            throw new IllegalArgumentException("target index must be >= 0");
        }
        if (!Double.isFinite(offset)) {
            throw new IllegalArgumentException("target offset must be finite");
        }
        if (activation == null || reducer == null) {
            throw new IllegalArgumentException("activation and reducer are required");
        }
    }

    /** Output {@code index} through a final sigmoid (the reference's default {@code apply_sigmoid=True}). */
    public static Target sigmoidOf(int index) {
        return new Target(index, Activation.NONE, Reducer.NONE, 0.0, true);
    }

    /** Output {@code index} as it is. */
    public static Target raw(int index) {
        return new Target(index, Activation.NONE, Reducer.NONE, 0.0, false);
    }

    public Target withOffset(double o) {
        return new Target(index, activation, reducer, o, sigmoid);
    }

    public Target withIndex(int i) {
        return new Target(i, activation, reducer, offset, sigmoid);
    }

    /** The kernel's ctcf_score_spec for this target. */
    Specs.Score spec() {
        return new Specs.Score(index, sigmoid, activation.code, offset, reducer.code);
    }
}
