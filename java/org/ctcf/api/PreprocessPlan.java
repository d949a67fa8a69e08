package org.ctcf.api;

import org.ctcf.core.Geometry;
import org.ctcf.core.Affine;

/**
 * The geometry of preprocessing one grid: how voxel axes are permuted and flipped onto RAS, the sizes after
 * resampling and after the in-plane pad/crop, and the processed volume's affine. Computed in Java so that
 * the processed volume carries an exact geometry; the kernel checks that its own sizes agree.
 *
 * @param axisPerm output axis a takes input axis {@code axisPerm[a]}
 * @param axisFlip whether output axis a runs against input axis {@code axisPerm[a]}
 * @param resampledDims sizes after reorientation and resampling, before the in-plane pad/crop
 * @param output the processed volume's geometry (RAS, target spacing)
 */
public record PreprocessPlan(int[] axisPerm, boolean[] axisFlip, int[] resampledDims, Geometry output) {

    /** The plan for preprocessing a volume on {@code input} with {@code options}. */
    public static PreprocessPlan of(Geometry input, PreprocessOptions options) {
        int[] worldOf = input.dominantWorldAxes(); // voxel axis -> world axis
        double[] a = input.affine();
        int[] perm = new int[3];
        boolean[] flip = new boolean[3];
        boolean lps = "LPS".equals(options.orientation());
        for (int c = 0; c < 3; c++) {
            perm[worldOf[c]] = c;
            boolean positive = a[worldOf[c] * 4 + c] > 0;
            // RAS: every axis runs toward +world; LPS: x and y run toward -world (left, posterior).
            boolean wantPositive = !(lps && worldOf[c] < 2);
            flip[worldOf[c]] = positive != wantPositive;
        }
        int[] inDims = input.dims();
        double[] inSpacing = input.spacing();
        double[] target = options.spacing();
        int[] inPlane = options.inPlane();

        // Index maps as 4x4 matrices on homogeneous voxel indices: original <- reoriented <- resampled <- output.
        double[] reorient = new double[16];
        reorient[15] = 1;
        double[] resample = Affine.identity();
        double[] shift = Affine.identity();
        int[] resampled = new int[3];
        int[] out = new int[3];
        for (int ax = 0; ax < 3; ax++) {
            int src = perm[ax];
            reorient[src * 4 + ax] = flip[ax] ? -1 : 1;
            reorient[src * 4 + 3] = flip[ax] ? inDims[src] - 1 : 0;
            double sp = inSpacing[src];
            int n = inDims[src];
            if (target[ax] > 0) {
                double size = Math.rint((n - 1) * sp / target[ax]) + 1; // numpy's round: half to even
                if (size > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("resampling to " + target[ax] + " mm gives " + size
                            + " voxels along axis " + ax);
                }
                n = (int) size;
                resample[ax * 4 + ax] = target[ax] / sp;
            }
            resampled[ax] = n;
            out[ax] = n;
            if (ax < 2 && inPlane[ax] > 0) {
                int size = inPlane[ax];
                // pad: resampled = output - before; crop: resampled = output + start
                shift[ax * 4 + 3] = n < size ? -((size - n) / 2) : (n - size) / 2;
                out[ax] = size;
            }
        }
        double[] affine = Affine.multiply(a, Affine.multiply(reorient, Affine.multiply(resample, shift)));
        return new PreprocessPlan(perm, flip, resampled, new Geometry(out[0], out[1], out[2], affine));
    }
}
