package org.ctcf.core;

import java.util.Arrays;
import java.util.Objects;

/**
 * Where a volume's voxels are: its dims and the 4×4 voxel-to-world affine (row-major, world = RAS+ millimetres,
 * the NIfTI convention). Spacing, origin and direction are derived from the affine. Immutable.
 *
 * <p>{@code sourceHint} is an opaque record a reader may attach (e.g. the NIfTI qform/sform fields as stored)
 * so that a writer can reproduce the input's header exactly; it does not take part in equality.
 */
public final class Geometry {
    private final int nx;
    private final int ny;
    private final int nz;
    private final double[] affine;
    private final Object sourceHint;

    public Geometry(int nx, int ny, int nz, double[] affine, Object sourceHint) {
        if (nx < 1 || ny < 1 || nz < 1) {
            throw new IllegalArgumentException("dims must be >= 1, got " + nx + "x" + ny + "x" + nz);
        }
        Objects.requireNonNull(affine, "affine");
        if (affine.length != 16) {
            throw new IllegalArgumentException("affine must have 16 entries, got " + affine.length);
        }
        if (!Affine.isFinite(affine)) {
            throw new IllegalArgumentException("affine has a non-finite entry:\n" + Affine.format(affine));
        }
        if (Affine.det3(affine) == 0.0) {
            throw new IllegalArgumentException("affine is singular:\n" + Affine.format(affine));
        }
        this.nx = nx;
        this.ny = ny;
        this.nz = nz;
        this.affine = affine.clone();
        this.sourceHint = sourceHint;
    }

    public Geometry(int nx, int ny, int nz, double[] affine) {
        this(nx, ny, nz, affine, null);
    }

    /** An axis-aligned geometry: diagonal spacing, given origin (world position of voxel 0), RAS+ axes. */
    public static Geometry of(int nx, int ny, int nz, double sx, double sy, double sz, double ox, double oy,
            double oz) {
        return new Geometry(nx, ny, nz, new double[] {sx, 0, 0, ox, 0, sy, 0, oy, 0, 0, sz, oz, 0, 0, 0, 1});
    }

    public int nx() {
        return nx;
    }

    public int ny() {
        return ny;
    }

    public int nz() {
        return nz;
    }

    public int[] dims() {
        return new int[] {nx, ny, nz};
    }

    public long voxelCount() {
        return (long) nx * ny * nz;
    }

    public double[] affine() {
        return affine.clone();
    }

    /** Voxel size in mm along x, y, z (column norms of the affine). */
    public double[] spacing() {
        return new double[] {Affine.columnNorm(affine, 0), Affine.columnNorm(affine, 1), Affine.columnNorm(affine, 2)};
    }

    /** World position (mm, RAS+) of voxel (0, 0, 0). */
    public double[] origin() {
        return new double[] {affine[3], affine[7], affine[11]};
    }

    /** Unit direction of each voxel axis in RAS+ world: {@code direction()[axis]} = {x, y, z}. */
    public double[][] direction() {
        double[][] d = new double[3][3];
        for (int c = 0; c < 3; c++) {
            double n = Affine.columnNorm(affine, c);
            for (int r = 0; r < 3; r++) {
                d[c][r] = affine[r * 4 + c] / n;
            }
        }
        return d;
    }

    /**
     * The three-letter orientation code (nibabel's convention): for each voxel axis, the world direction it points
     * to, R/L, A/P, S/I. NIfTI files written from DICOM are usually "LPS"; the processed volumes are "RAS".
     */
    public String orientationCode() {
        int[] axis = dominantWorldAxes();
        StringBuilder sb = new StringBuilder();
        for (int c = 0; c < 3; c++) {
            int w = axis[c];
            boolean positive = affine[w * 4 + c] > 0;
            sb.append(switch (w) {
                case 0 -> positive ? 'R' : 'L';
                case 1 -> positive ? 'A' : 'P';
                default -> positive ? 'S' : 'I';
            });
        }
        return sb.toString();
    }

    /**
     * How far the voxel axes are from the world axes they are taken for ({@link #dominantWorldAxes}): the largest
     * angle, in degrees, between a voxel axis and its world axis; 0 for an axis-aligned grid.
     */
    public double obliquityDegrees() {
        double[][] d = direction();
        int[] w = dominantWorldAxes();
        double worst = 0;
        for (int c = 0; c < 3; c++) {
            double cos = Math.min(1, Math.abs(d[c][w[c]]));
            worst = Math.max(worst, Math.toDegrees(Math.acos(cos)));
        }
        return worst;
    }

    /**
     * For each voxel axis the world axis (0 = x/R, 1 = y/A, 2 = z/S) it runs closest to; always a permutation
     * (greedy on the largest remaining |cosine|, so 45° ties still give a valid assignment).
     */
    public int[] dominantWorldAxes() {
        double[][] d = direction();
        int[] result = {-1, -1, -1};
        boolean[] usedAxis = new boolean[3];
        boolean[] usedWorld = new boolean[3];
        for (int step = 0; step < 3; step++) {
            double best = -1;
            int bc = -1;
            int bw = -1;
            for (int c = 0; c < 3; c++) {
                for (int w = 0; w < 3; w++) {
                    if (!usedAxis[c] && !usedWorld[w] && Math.abs(d[c][w]) > best) {
                        best = Math.abs(d[c][w]);
                        bc = c;
                        bw = w;
                    }
                }
            }
            result[bc] = bw;
            usedAxis[bc] = true;
            usedWorld[bw] = true;
        }
        return result;
    }

    public Object sourceHint() {
        return sourceHint;
    }

    public Geometry withSourceHint(Object hint) {
        return new Geometry(nx, ny, nz, affine, hint);
    }

    /** Same dims and an affine equal to within {@code tol} in every entry. */
    public boolean sameGrid(Geometry o, double tol) {
        if (o.nx != nx || o.ny != ny || o.nz != nz) {
            return false;
        }
        for (int i = 0; i < 16; i++) {
            if (Math.abs(o.affine[i] - affine[i]) > tol) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Geometry g && g.nx == nx && g.ny == ny && g.nz == nz && Arrays.equals(g.affine, affine);
    }

    @Override
    public int hashCode() {
        return Objects.hash(nx, ny, nz, Arrays.hashCode(affine));
    }

    @Override
    public String toString() {
        double[] s = spacing();
        return String.format(java.util.Locale.ROOT, "%dx%dx%d @ %.4gx%.4gx%.4g mm %s", nx, ny, nz, s[0], s[1], s[2],
                orientationCode());
    }
}
