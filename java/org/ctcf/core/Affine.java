package org.ctcf.core;

/** Small 4×4 row-major affine algebra for voxel-to-world matrices (double precision). */
public final class Affine {
    private Affine() {
    }

    public static double[] identity() {
        return new double[] {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    }

    public static double[] multiply(double[] a, double[] b) {
        double[] r = new double[16];
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                double s = 0;
                for (int k = 0; k < 4; k++) {
                    s += a[i * 4 + k] * b[k * 4 + j];
                }
                r[i * 4 + j] = s;
            }
        }
        return r;
    }

    /** Maps a voxel index (x, y, z) to world coordinates. */
    public static double[] apply(double[] a, double x, double y, double z) {
        return new double[] {
            a[0] * x + a[1] * y + a[2] * z + a[3],
            a[4] * x + a[5] * y + a[6] * z + a[7],
            a[8] * x + a[9] * y + a[10] * z + a[11]};
    }

    /** Inverse of an affine 4×4 (last row 0 0 0 1). Throws for a singular matrix. */
    public static double[] inverse(double[] a) {
        double det = det3(a);
        if (det == 0.0 || !Double.isFinite(det)) {
            throw new IllegalArgumentException("singular affine:\n" + format(a));
        }
        double[] r = new double[16];
        r[0] = (a[5] * a[10] - a[6] * a[9]) / det;
        r[1] = (a[2] * a[9] - a[1] * a[10]) / det;
        r[2] = (a[1] * a[6] - a[2] * a[5]) / det;
        r[4] = (a[6] * a[8] - a[4] * a[10]) / det;
        r[5] = (a[0] * a[10] - a[2] * a[8]) / det;
        r[6] = (a[2] * a[4] - a[0] * a[6]) / det;
        r[8] = (a[4] * a[9] - a[5] * a[8]) / det;
        r[9] = (a[1] * a[8] - a[0] * a[9]) / det;
        r[10] = (a[0] * a[5] - a[1] * a[4]) / det;
        for (int i = 0; i < 3; i++) {
            r[i * 4 + 3] = -(r[i * 4] * a[3] + r[i * 4 + 1] * a[7] + r[i * 4 + 2] * a[11]);
        }
        r[15] = 1;
        return r;
    }

    /** Determinant of the upper-left 3×3 block. */
    public static double det3(double[] a) {
        return a[0] * (a[5] * a[10] - a[6] * a[9]) - a[1] * (a[4] * a[10] - a[6] * a[8])
                + a[2] * (a[4] * a[9] - a[5] * a[8]);
    }

    /** Euclidean norm of column {@code c} (0..2) of the 3×3 block: the voxel size along that axis. */
    public static double columnNorm(double[] a, int c) {
        return Math.sqrt(a[c] * a[c] + a[4 + c] * a[4 + c] + a[8 + c] * a[8 + c]);
    }

    public static boolean isFinite(double[] a) {
        for (double v : a) {
            if (!Double.isFinite(v)) {
                return false;
            }
        }
        return true;
    }

    /** Row-major text, one row per line, for messages and {@code ctcf info}. */
    public static String format(double[] a) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            sb.append(String.format(java.util.Locale.ROOT, "[%12.6f %12.6f %12.6f %12.6f]", a[i * 4], a[i * 4 + 1],
                    a[i * 4 + 2], a[i * 4 + 3]));
            if (i < 3) {
                sb.append('\n');
            }
        }
        return sb.toString();
    }
}
