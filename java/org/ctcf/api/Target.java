package org.ctcf.api;

/**
 * The number Latent Shift explains: {@code output[:, index] + offset}, then a sigmoid if {@code sigmoid}
 * (the reference's {@code adjustment(f(x))[:, target]} followed by {@code apply_sigmoid}).
 */
public record Target(int index, boolean sigmoid, double offset) {
    public Target {
        if (index < 0) {
            throw new IllegalArgumentException("target index must be >= 0");
        }
        if (!Double.isFinite(offset)) {
            throw new IllegalArgumentException("target offset must be finite");
        }
    }

    /** Output {@code index} through a sigmoid (the reference's default {@code apply_sigmoid=True}). */
    public static Target sigmoidOf(int index) {
        return new Target(index, true, 0.0);
    }

    /** Output {@code index} as it is. */
    public static Target raw(int index) {
        return new Target(index, false, 0.0);
    }

    public Target withOffset(double o) {
        return new Target(index, sigmoid, o);
    }
}
