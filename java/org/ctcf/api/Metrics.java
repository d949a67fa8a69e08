package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;
import org.ctcf.core.Affine;


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
        long n = a.voxelCount();
        double abs = 0;
        double sq = 0;
        float[] ba = new float[(int) Math.min(n, 1 << 20)];
        float[] bb = new float[ba.length];
        for (long off = 0; off < n; off += ba.length) {  // in blocks: the voxels stay off the heap
            int len = (int) Math.min(ba.length, n - off);
            float[] xa = len == ba.length ? ba : new float[len];
            float[] xb = len == bb.length ? bb : new float[len];
            a.read(off, xa);
            b.read(off, xb);
            for (int i = 0; i < len; i++) {
                double x = Math.min(Math.max(xa[i], low), high);
                double y = Math.min(Math.max(xb[i], low), high);
                double d = x - y;
                abs += Math.abs(d);
                sq += d * d;
            }
        }
        double rmse = Math.sqrt(sq / n);
        double psnr = rmse == 0 ? Double.POSITIVE_INFINITY : 20 * Math.log10((high - low) / rmse);
        return new Errors(abs / n, rmse, psnr, n);
    }

    /** Heap copy of a volume's voxels (x fastest). */
    public static float[] toArray(Volume v) {
        return v.toArray();
    }

    /**
     * Errors and SSIM over the voxels where {@code mask} is set (null: all), both volumes clipped to
     * {@code [low, high]}; PSNR with data range {@code high − low}; SSIM per axial slice (Gaussian window σ = 1.5,
     * 11 × 11, K1 = 0.01, K2 = 0.03, data range {@code high − low}), averaged over the masked pixels.
     */
    public record Quality(double mae, double rmse, double psnr, double ssim, long voxels) {
    }

    public static Quality quality(Volume a, Volume b, boolean[] mask, double low, double high) {
        if (a.nx() != b.nx() || a.ny() != b.ny() || a.nz() != b.nz()) {
            throw new IllegalArgumentException("volumes differ in dims: " + a.geometry() + " vs " + b.geometry());
        }
        float[] x = toArray(a);
        float[] y = toArray(b);
        if (mask != null && mask.length != x.length) {
            throw new IllegalArgumentException("mask has " + mask.length + " voxels, volumes " + x.length);
        }
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.min(Math.max(x[i], low), high);
            y[i] = (float) Math.min(Math.max(y[i], low), high);
        }
        double abs = 0;
        double sq = 0;
        long n = 0;
        for (int i = 0; i < x.length; i++) {
            if (mask == null || mask[i]) {
                double d = x[i] - y[i];
                abs += Math.abs(d);
                sq += d * d;
                n++;
            }
        }
        if (n == 0) {
            throw new IllegalArgumentException("the mask selects no voxel");
        }
        double rmse = Math.sqrt(sq / n);
        double range = high - low;
        double psnr = rmse == 0 ? Double.POSITIVE_INFINITY : 20 * Math.log10(range / rmse);
        double ssim = ssim(x, y, mask, a.nx(), a.ny(), a.nz(), range);
        return new Quality(abs / n, rmse, psnr, ssim, n);
    }

    private static double ssim(float[] x, float[] y, boolean[] mask, int nx, int ny, int nz, double range) {
        double[] g = new double[11];
        double gs = 0;
        for (int i = 0; i < 11; i++) {
            g[i] = Math.exp(-((i - 5) * (i - 5)) / (2 * 1.5 * 1.5));
            gs += g[i];
        }
        for (int i = 0; i < 11; i++) {
            g[i] /= gs;
        }
        double c1 = Math.pow(0.01 * range, 2);
        double c2 = Math.pow(0.03 * range, 2);
        int plane = nx * ny;
        double[][] in = new double[5][plane];
        double[][] tmp = new double[5][plane];
        double[][] out = new double[5][plane];
        double sum = 0;
        long count = 0;
        for (int z = 0; z < nz; z++) {
            int base = z * plane;
            for (int i = 0; i < plane; i++) {
                double a = x[base + i];
                double b = y[base + i];
                in[0][i] = a;
                in[1][i] = b;
                in[2][i] = a * a;
                in[3][i] = b * b;
                in[4][i] = a * b;
            }
            for (int k = 0; k < 5; k++) {
                blur(in[k], tmp[k], out[k], nx, ny, g);
            }
            for (int i = 0; i < plane; i++) {
                if (mask != null && !mask[base + i]) {
                    continue;
                }
                double mx = out[0][i];
                double my = out[1][i];
                double vx = out[2][i] - mx * mx;
                double vy = out[3][i] - my * my;
                double cxy = out[4][i] - mx * my;
                sum += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
                count++;
            }
        }
        return sum / count;
    }

    /** Separable Gaussian blur with edge replication. */
    private static void blur(double[] src, double[] tmp, double[] dst, int nx, int ny, double[] g) {
        int r = g.length / 2;
        for (int j = 0; j < ny; j++) {
            for (int i = 0; i < nx; i++) {
                double s = 0;
                for (int k = -r; k <= r; k++) {
                    int ii = Math.min(Math.max(i + k, 0), nx - 1);
                    s += g[k + r] * src[j * nx + ii];
                }
                tmp[j * nx + i] = s;
            }
        }
        for (int j = 0; j < ny; j++) {
            for (int i = 0; i < nx; i++) {
                double s = 0;
                for (int k = -r; k <= r; k++) {
                    int jj = Math.min(Math.max(j + k, 0), ny - 1);
                    s += g[k + r] * tmp[jj * nx + i];
                }
                dst[j * nx + i] = s;
            }
        }
    }

    /** Voxels of {@code grid} whose centres lie inside the voxel box of {@code fov} (e.g. a processed grid). */
    public static boolean[] insideGrid(Geometry grid, Geometry fov) {
        double[] inv = Affine.inverse(fov.affine());
        double[] m = Affine.multiply(inv, grid.affine());
        boolean[] out = new boolean[(int) grid.voxelCount()];
        int i = 0;
        for (int z = 0; z < grid.nz(); z++) {
            for (int y = 0; y < grid.ny(); y++) {
                for (int x = 0; x < grid.nx(); x++) {
                    double[] p = Affine.apply(m, x, y, z);
                    out[i++] = p[0] >= -0.5 && p[1] >= -0.5 && p[2] >= -0.5 && p[0] <= fov.nx() - 0.5
                            && p[1] <= fov.ny() - 0.5 && p[2] <= fov.nz() - 0.5;
                }
            }
        }
        return out;
    }
}
