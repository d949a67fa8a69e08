package org.ctcf.api;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/** Image-quality measures between two volumes on the same grid, computed over the off-heap voxels. */
public final class Metrics {
    private Metrics() {
    }

    /**
     * Errors after clipping both volumes to {@code [low, high]} (e.g. the HU window).
     *
     * @param mae mean absolute error
     * @param rmse root mean squared error
     * @param psnr 20·log10((high − low) / rmse), in dB (data range = the window)
     */
    public record Errors(double mae, double rmse, double psnr, long voxels) {
    }

    public static Errors compare(Volume a, Volume b, double low, double high) {
        if (a.nx() != b.nx() || a.ny() != b.ny() || a.nz() != b.nz()) {
            throw new IllegalArgumentException("volumes differ in dims: " + a.geometry() + " vs " + b.geometry());
        }
        return a.withSegment(sa -> b.withSegment(sb -> {
            long n = a.voxelCount();
            double abs = 0;
            double sq = 0;
            for (long i = 0; i < n; i++) {
                double x = Math.min(Math.max(sa.getAtIndex(JAVA_FLOAT, i), low), high);
                double y = Math.min(Math.max(sb.getAtIndex(JAVA_FLOAT, i), low), high);
                double d = x - y;
                abs += Math.abs(d);
                sq += d * d;
            }
            double rmse = Math.sqrt(sq / n);
            double psnr = rmse == 0 ? Double.POSITIVE_INFINITY : 20 * Math.log10((high - low) / rmse);
            return new Errors(abs / n, rmse, psnr, n);
        }));
    }
}
