package org.ctcf.train;

import java.io.IOException;
import java.nio.file.Path;

import org.ctcf.api.Kernel;
import org.ctcf.api.Metrics;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;

/**
 * Lung labels on a processed grid: a shipped mask resampled like the CT (trilinear, then ≥ 0.5), or, where a scan
 * has none, a pseudo-label: voxels below −500 HU that are not connected (4-neighbourhood, per axial slice) to the
 * slice border, i.e. air inside the body.
 */
public final class LungLabels {
    private LungLabels() {
    }

    /** The mask file preprocessed onto the CT's processed grid (window off, pad 0), thresholded at 0.5. */
    public static float[] fromMask(Kernel k, Path mask, PreprocessOptions pre, Volume processedCt) throws IOException {
        PreprocessOptions noWindow = pre.withWindow(0, 0).withPadValue(0);
        try (Volume m = VolumeIO.read(mask); Volume x = k.preprocess(m, noWindow)) {
            if (x.nx() != processedCt.nx() || x.ny() != processedCt.ny() || x.nz() != processedCt.nz()) {
                throw new IOException(mask + ": the mask's grid " + m.geometry() + " does not match its CT's");
            }
            float[] v = Metrics.toArray(x);
            for (int i = 0; i < v.length; i++) {
                v[i] = v[i] >= 0.5f ? 1f : 0f;
            }
            return v;
        }
    }

    /**
     * Pseudo-label of a processed CT (window units; {@code threshold} in the same units, e.g. (−500 + 1000) / 2000).
     */
    public static float[] threshold(float[] ct, int nx, int ny, int nz, float threshold) {
        float[] out = new float[ct.length];
        int plane = nx * ny;
        int[] stack = new int[plane];
        boolean[] outside = new boolean[plane];
        for (int z = 0; z < nz; z++) {
            int base = z * plane;
            java.util.Arrays.fill(outside, false);
            int sp = 0;
            for (int x = 0; x < nx; x++) {
                sp = seed(ct, base, x, 0, nx, threshold, outside, stack, sp);
                sp = seed(ct, base, x, ny - 1, nx, threshold, outside, stack, sp);
            }
            for (int y = 0; y < ny; y++) {
                sp = seed(ct, base, 0, y, nx, threshold, outside, stack, sp);
                sp = seed(ct, base, nx - 1, y, nx, threshold, outside, stack, sp);
            }
            while (sp > 0) {
                int p = stack[--sp];
                int x = p % nx;
                int y = p / nx;
                if (x > 0) {
                    sp = seed(ct, base, x - 1, y, nx, threshold, outside, stack, sp);
                }
                if (x < nx - 1) {
                    sp = seed(ct, base, x + 1, y, nx, threshold, outside, stack, sp);
                }
                if (y > 0) {
                    sp = seed(ct, base, x, y - 1, nx, threshold, outside, stack, sp);
                }
                if (y < ny - 1) {
                    sp = seed(ct, base, x, y + 1, nx, threshold, outside, stack, sp);
                }
            }
            for (int i = 0; i < plane; i++) {
                out[base + i] = ct[base + i] < threshold && !outside[i] ? 1f : 0f;
            }
        }
        return out;
    }

    private static int seed(float[] ct, int base, int x, int y, int nx, float t, boolean[] outside, int[] stack,
            int sp) {
        int p = y * nx + x;
        if (!outside[p] && ct[base + p] < t) {
            outside[p] = true;
            stack[sp++] = p;
        }
        return sp;
    }

    /** Dice of two binary maps (values ≥ 0.5 count as set). */
    public static double dice(float[] a, float[] b) {
        long inter = 0;
        long sa = 0;
        long sb = 0;
        for (int i = 0; i < a.length; i++) {
            boolean x = a[i] >= 0.5f;
            boolean y = b[i] >= 0.5f;
            if (x) {
                sa++;
            }
            if (y) {
                sb++;
            }
            if (x && y) {
                inter++;
            }
        }
        return sa + sb == 0 ? 1.0 : 2.0 * inter / (sa + sb);
    }
}
