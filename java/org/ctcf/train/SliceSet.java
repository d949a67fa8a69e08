package org.ctcf.train;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.ctcf.api.Kernel;
import org.ctcf.api.Metrics;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;

/**
 * Training slices for the autoencoder: every axial slice of the listed volumes after the preprocessing (values in
 * [0, 1] window units), optionally downscaled by 2 (2 × 2 means, the same as a bilinear half-size resize), and
 * random square crops of them. Slices smaller than a crop are padded with 0 (air).
 */
final class SliceSet {
    private final List<float[]> slices = new ArrayList<>();
    private final List<int[]> dims = new ArrayList<>();

    static SliceSet load(Kernel k, List<Manifest.Entry> entries, PreprocessOptions pre, int downscale)
            throws IOException {
        if (downscale != 1 && downscale != 2) {
            throw new IllegalArgumentException("downscale must be 1 or 2");
        }
        SliceSet set = new SliceSet();
        for (Manifest.Entry e : entries) {
            try (Volume ct = VolumeIO.read(e.volume()); Volume x = k.preprocess(ct, pre)) {
                float[] v = Metrics.toArray(x);
                int nx = x.nx();
                int ny = x.ny();
                for (int z = 0; z < x.nz(); z++) {
                    float[] s = new float[nx * ny];
                    System.arraycopy(v, z * nx * ny, s, 0, nx * ny);
                    if (downscale == 2) {
                        set.add(half(s, nx, ny), nx / 2, ny / 2);
                    } else {
                        set.add(s, nx, ny);
                    }
                }
            }
        }
        return set;
    }

    private void add(float[] s, int nx, int ny) {
        slices.add(s);
        dims.add(new int[] {nx, ny});
    }

    static float[] half(float[] s, int nx, int ny) {
        int hx = nx / 2;
        int hy = ny / 2;
        float[] out = new float[hx * hy];
        for (int y = 0; y < hy; y++) {
            for (int x = 0; x < hx; x++) {
                int i = 2 * y * nx + 2 * x;
                out[y * hx + x] = 0.25f * (s[i] + s[i + 1] + s[i + nx] + s[i + nx + 1]);
            }
        }
        return out;
    }

    int size() {
        return slices.size();
    }

    /**
     * {@code batch} random crops of {@code crop × crop} (C order [batch, crop, crop]) drawn with {@code rnd}: a
     * random slice, a random position, a random left-right flip.
     */
    float[] batch(SplittableRandom rnd, int batch, int crop) {
        float[] out = new float[batch * crop * crop];
        for (int b = 0; b < batch; b++) {
            int i = rnd.nextInt(slices.size());
            float[] s = slices.get(i);
            int nx = dims.get(i)[0];
            int ny = dims.get(i)[1];
            int x0 = nx > crop ? rnd.nextInt(nx - crop + 1) : -(crop - nx) / 2;
            int y0 = ny > crop ? rnd.nextInt(ny - crop + 1) : -(crop - ny) / 2;
            boolean flip = rnd.nextBoolean();
            int base = b * crop * crop;
            for (int y = 0; y < crop; y++) {
                int sy = y0 + y;
                for (int x = 0; x < crop; x++) {
                    int sx = x0 + (flip ? crop - 1 - x : x);
                    out[base + y * crop + x] = sx >= 0 && sy >= 0 && sx < nx && sy < ny ? s[sy * nx + sx] : 0f;
                }
            }
        }
        return out;
    }
}
