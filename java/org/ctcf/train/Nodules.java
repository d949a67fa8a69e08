package org.ctcf.train;

import java.util.SplittableRandom;

import org.ctcf.core.Affine;

/**
 * Synthetic lung nodules: soft-tissue ellipsoids with a smooth (logistic) edge and Gaussian noise, written into a
 * CT volume in world coordinates (mm). Positions and sizes come from a seeded generator, so a test set is
 * reproducible and its nodule positions are ground truth for localization.
 */
public final class Nodules {
    private Nodules() {
    }

    /**
     * One nodule: centre (world mm), semi-axes (mm, along world x, y, z), density (HU), noise σ (HU), edge width (mm).
     */
    public record Nodule(double x, double y, double z, double ax, double ay, double az, double hu, double noise,
            double edge) {
        /** Equivalent diameter (mm): 2 · (ax · ay · az)^(1/3). */
        public double diameter() {
            return 2 * Math.cbrt(ax * ay * az);
        }
    }

    /** A random nodule at world position (x, y, z): diameter 5–20 mm, axes ±20 %, 0–80 HU, noise 15 HU, edge 1 mm. */
    public static Nodule random(SplittableRandom r, double x, double y, double z) {
        double radius = 0.5 * (5 + 15 * r.nextDouble());
        return new Nodule(x, y, z, radius * (0.8 + 0.4 * r.nextDouble()), radius * (0.8 + 0.4 * r.nextDouble()),
                radius * (0.8 + 0.4 * r.nextDouble()), 80 * r.nextDouble(), 15, 1.0);
    }

    /**
     * Writes {@code n} into {@code data} ([nz][ny][nx], x fastest, voxel → world by {@code affine}), whose values
     * are {@code HU · scale + offset} (1, 0 for HU; 1/2000, 0.5 for the window [−1000, 1000]). Returns the number of
     * voxels changed.
     */
    public static int insert(float[] data, int nx, int ny, int nz, double[] affine, Nodule n, double scale,
            double offset, SplittableRandom noise) {
        double[] inv = Affine.inverse(affine);
        double[] c = Affine.apply(inv, n.x(), n.y(), n.z());
        double reach = Math.max(n.ax(), Math.max(n.ay(), n.az())) + 4 * n.edge();
        int[] lo = new int[3];
        int[] hi = new int[3];
        int[] dims = {nx, ny, nz};
        for (int a = 0; a < 3; a++) {
            double sp = Math.sqrt(affine[a] * affine[a] + affine[4 + a] * affine[4 + a] + affine[8 + a] * affine[8 + a]);
            int ext = (int) Math.ceil(reach / sp) + 1;
            lo[a] = Math.max(0, (int) Math.floor(c[a]) - ext);
            hi[a] = Math.min(dims[a] - 1, (int) Math.ceil(c[a]) + ext);
        }
        int changed = 0;
        double rMean = Math.cbrt(n.ax() * n.ay() * n.az());
        for (int z = lo[2]; z <= hi[2]; z++) {
            for (int y = lo[1]; y <= hi[1]; y++) {
                for (int x = lo[0]; x <= hi[0]; x++) {
                    double[] w = Affine.apply(affine, x, y, z);
                    double dx = (w[0] - n.x()) / n.ax();
                    double dy = (w[1] - n.y()) / n.ay();
                    double dz = (w[2] - n.z()) / n.az();
                    double rho = Math.sqrt(dx * dx + dy * dy + dz * dz);
                    double dist = (1 - rho) * rMean;  // ~ signed distance to the surface in mm
                    double weight = 1 / (1 + Math.exp(-dist / n.edge()));
                    if (weight < 1e-3) {
                        continue;
                    }
                    int i = x + nx * (y + ny * z);
                    double hu = (data[i] - offset) / scale;
                    double target = n.hu() + n.noise() * noise.nextGaussian();
                    double v = (1 - weight) * hu + weight * Math.max(hu, target);
                    data[i] = (float) (v * scale + offset);
                    changed++;
                }
            }
        }
        return changed;
    }

    /** Sets {@code out} to 1 where a voxel centre lies inside the nodule's ellipsoid (same grid as {@link #insert}). */
    public static void mask(float[] out, int nx, int ny, int nz, double[] affine, Nodule n) {
        for (int z = 0; z < nz; z++) {
            for (int y = 0; y < ny; y++) {
                for (int x = 0; x < nx; x++) {
                    double[] w = Affine.apply(affine, x, y, z);
                    double dx = (w[0] - n.x()) / n.ax();
                    double dy = (w[1] - n.y()) / n.ay();
                    double dz = (w[2] - n.z()) / n.az();
                    if (dx * dx + dy * dy + dz * dz <= 1) {
                        out[x + nx * (y + ny * z)] = 1f;
                    }
                }
            }
        }
    }

    /** Area under the ROC curve of scores for positives vs negatives (ties count one half). */
    public static double auc(double[] positives, double[] negatives) {
        if (positives.length == 0 || negatives.length == 0) {
            throw new IllegalArgumentException("AUC needs positives and negatives");
        }
        double s = 0;
        for (double p : positives) {
            for (double q : negatives) {
                s += p > q ? 1 : p == q ? 0.5 : 0;
            }
        }
        return s / ((double) positives.length * negatives.length);
    }
}
