package org.ctcf.train;

import java.io.IOException;
import java.nio.file.Path;

import org.ctcf.api.InputDomain;
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
     * Pseudo-label of a processed CT (window units; {@code threshold} in the same units, e.g. (−500 + 1000) / 2000):
     * {@link InputDomain#insideAir}, the rule the classifier's input-domain check counts too.
     */
    public static float[] threshold(float[] ct, int nx, int ny, int nz, float threshold) {
        return InputDomain.insideAir(ct, nx, ny, nz, threshold);
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
