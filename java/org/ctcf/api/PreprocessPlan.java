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

    /**
     * The most voxels preprocessing {@code input} holds at once: the input, each resampling stage (in float64) and the
     * output. Computed before anything is allocated.
     */
    public long peakVoxels(Geometry input) {
        int[] in = input.dims();
        long[] d = new long[3];
        for (int ax = 0; ax < 3; ax++) {
            d[ax] = in[axisPerm[ax]];
        }
        long peak = d[0] * d[1] * d[2];
        for (int ax = 0; ax < 3; ax++) {
            d[ax] = resampledDims[ax];
            peak = Math.max(peak, saturatingProduct(d));
        }
        return Math.max(peak, saturatingProduct(new long[] {output.nx(), output.ny(), output.nz()}));
    }

    private static long saturatingProduct(long[] d) {
        double p = (double) d[0] * d[1] * d[2];
        return p >= Long.MAX_VALUE ? Long.MAX_VALUE : d[0] * d[1] * d[2];
    }

    /**
     * Refuses, before any allocation, a preprocessing that would hold more than {@code limit} voxels at once (an
     * input with an absurd spacing: 2 voxels of 5 m resampled to 1.5 mm), naming the sizes, the spacings and the
     * override.
     */
    public void checkSize(Geometry input, PreprocessOptions options, long limit) {
        java.util.Optional<String> problem = sizeProblem(input, options, limit);
        if (problem.isPresent()) {
            throw new org.ctcf.core.CtcfException.InvalidArgumentException(problem.get());
        }
    }

    /** What {@link #checkSize} refuses, said in one line, or empty when the preprocessing fits the limit. */
    public java.util.Optional<String> sizeProblem(Geometry input, PreprocessOptions options, long limit) {
        long peak = peakVoxels(input);
        if (peak <= limit) {
            return java.util.Optional.empty();
        }
        double[] sp = input.spacing();
        double[] t = options.spacing();
        return java.util.Optional.of(String.format(java.util.Locale.ROOT,
                "preprocessing a %d x %d x %d volume of spacing %.4g x %.4g x %.4g mm to %s mm makes %d x %d x %d "
                        + "voxels (%,d at once, %.1f GB while resampling in float64), more than the limit of %,d; "
                        + "the input's spacing is likely wrong (check its header), or raise the limit with "
                        + "--max-voxels N", input.nx(), input.ny(), input.nz(), sp[0], sp[1], sp[2],
                java.util.Arrays.toString(t), resampledDims[0], resampledDims[1], resampledDims[2], peak,
                peak * 16.0 / 1e9, limit));
    }
}
