package org.ctcf.api;

/**
 * Parameters of the reference volume preprocessing ({@code reference-algorithm.md} §1): reorient to RAS (or LPS),
 * resample to {@code spacing} (trilinear), HU window {@code [windowLow, windowHigh]} → [0, 1] (clipped),
 * in-plane pad with {@code padValue} then centre-crop to {@code inPlaneX × inPlaneY}; the slice axis keeps all
 * slices. A spacing of 0 keeps the input's spacing on that axis; an in-plane size of 0 keeps that size;
 * {@code windowLow >= windowHigh} disables windowing.
 */
public record PreprocessOptions(double spacingX, double spacingY, double spacingZ, double windowLow,
        double windowHigh, int inPlaneX, int inPlaneY, double padValue, String orientation) {

    /** The reference's orientation, RAS. */
    public PreprocessOptions(double spacingX, double spacingY, double spacingZ, double windowLow, double windowHigh,
            int inPlaneX, int inPlaneY, double padValue) {
        this(spacingX, spacingY, spacingZ, windowLow, windowHigh, inPlaneX, inPlaneY, padValue, "RAS");
    }

    public PreprocessOptions {
        if (!"RAS".equals(orientation) && !"LPS".equals(orientation)) {
            throw new IllegalArgumentException("orientation must be RAS or LPS, got " + orientation);
        }
        for (double s : new double[] {spacingX, spacingY, spacingZ}) {
            if (!(s >= 0) || Double.isInfinite(s)) {
                throw new IllegalArgumentException("target spacing must be finite and >= 0, got " + s);
            }
        }
        if (!Double.isFinite(windowLow) || !Double.isFinite(windowHigh)) {
            throw new IllegalArgumentException("HU window must be finite");
        }
        if (inPlaneX < 0 || inPlaneY < 0) {
            throw new IllegalArgumentException("in-plane size must be >= 0");
        }
        if (!Double.isFinite(padValue)) {
            throw new IllegalArgumentException("pad value must be finite");
        }
    }

    /** The reference's values: 1.5 × 1.5 × 3 mm, [−1000, 1000] HU, 224 × 224, pad 0 (= −1000 HU). */
    public static PreprocessOptions reference() {
        return new PreprocessOptions(1.5, 1.5, 3.0, -1000, 1000, 224, 224, 0.0);
    }

    /** No resampling, no window, no crop: only the reorientation (to RAS or LPS), which is exact. */
    public static PreprocessOptions reorientOnly(String orientation) {
        return new PreprocessOptions(0, 0, 0, 0, 0, 0, 0, 0, orientation);
    }

    public PreprocessOptions withSpacing(double x, double y, double z) {
        return new PreprocessOptions(x, y, z, windowLow, windowHigh, inPlaneX, inPlaneY, padValue, orientation);
    }

    public PreprocessOptions withWindow(double low, double high) {
        return new PreprocessOptions(spacingX, spacingY, spacingZ, low, high, inPlaneX, inPlaneY, padValue,
                orientation);
    }

    public PreprocessOptions withInPlaneSize(int x, int y) {
        return new PreprocessOptions(spacingX, spacingY, spacingZ, windowLow, windowHigh, x, y, padValue,
                orientation);
    }

    public PreprocessOptions withPadValue(double v) {
        return new PreprocessOptions(spacingX, spacingY, spacingZ, windowLow, windowHigh, inPlaneX, inPlaneY, v,
                orientation);
    }

    public PreprocessOptions withOrientation(String o) {
        return new PreprocessOptions(spacingX, spacingY, spacingZ, windowLow, windowHigh, inPlaneX, inPlaneY,
                padValue, o);
    }

    public boolean windowEnabled() {
        return windowLow < windowHigh;
    }

    double[] spacing() {
        return new double[] {spacingX, spacingY, spacingZ};
    }

    int[] inPlane() {
        return new int[] {inPlaneX, inPlaneY};
    }
}
