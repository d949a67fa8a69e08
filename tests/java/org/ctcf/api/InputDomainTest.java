package org.ctcf.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.Random;

import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.ctcf.train.LungLabels;
import org.junit.jupiter.api.Test;

/** The lung fraction of a processed CT: air (below −500 HU) inside the body, per axial slice. */
class InputDomainTest {
    private static final PreprocessOptions PRE = PreprocessOptions.reference();  // window [-1000, 1000]
    private static final float T = InputDomain.airThreshold(PRE);

    /** HU to the window units of [-1000, 1000]. */
    private static float w(double hu) {
        return (float) ((Math.min(1000, Math.max(-1000, hu)) + 1000) / 2000);
    }

    private static boolean inEllipse(int x, int y, double cx, double cy, double ax, double ay) {
        double dx = (x - cx) / ax;
        double dy = (y - cy) / ay;
        return dx * dx + dy * dy <= 1;
    }

    /** A 0 HU body ellipse with two −800 HU lungs inside it and −1000 HU air around it; counts the lung voxels. */
    private static float[] chest(int nx, int ny, int nz, long[] lungVoxels) {
        float[] v = new float[nx * ny * nz];
        long lungs = 0;
        for (int z = 0; z < nz; z++) {
            for (int y = 0; y < ny; y++) {
                for (int x = 0; x < nx; x++) {
                    double hu = -1000;
                    if (inEllipse(x, y, nx / 2.0, ny / 2.0, nx * 0.42, ny * 0.32)) {
                        hu = 0;
                        // the lungs shrink towards the last slice, so that slices differ
                        double s = 1.0 - 0.15 * z;
                        if (inEllipse(x, y, nx * 0.33, ny / 2.0, nx * 0.12 * s, ny * 0.2 * s)
                                || inEllipse(x, y, nx * 0.67, ny / 2.0, nx * 0.12 * s, ny * 0.2 * s)) {
                            hu = -800;
                            lungs++;
                        }
                    }
                    v[(z * ny + y) * nx + x] = w(hu);
                }
            }
        }
        lungVoxels[0] = lungs;
        return v;
    }

    @Test
    void theAirThresholdIsMinus500HuInTheCardsWindowUnits() {
        assertThat(T).isEqualTo(0.25f);
        assertThat(InputDomain.airThreshold(PRE.withWindow(-1350, 150))).isCloseTo(850f / 1500f, within(1e-7f));
        assertThatThrownBy(() -> InputDomain.airThreshold(PRE.withWindow(0, 0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("window");
    }

    @Test
    void aChestPhantomsLungFractionIsItsLungsShareOfTheVoxels() {
        int nx = 48;
        int ny = 40;
        int nz = 3;
        long[] lungs = new long[1];
        float[] ct = chest(nx, ny, nz, lungs);
        assertThat(lungs[0]).isGreaterThan(100);
        double expected = (double) lungs[0] / (nx * ny * nz);
        assertThat(InputDomain.lungFraction(ct, nx, ny, nz, T)).isEqualTo(expected);
        float[] mask = InputDomain.insideAir(ct, nx, ny, nz, T);
        for (int i = 0; i < ct.length; i++) {
            assertThat(mask[i]).as("voxel %d", i).isEqualTo(ct[i] == w(-800) ? 1f : 0f);
        }
        try (Volume v = Volume.of(Geometry.of(nx, ny, nz, 1.5, 1.5, 3, 0, 0, 0), ct)) {
            assertThat(InputDomain.lungFraction(v, PRE)).isEqualTo(expected);
        }
    }

    @Test
    void airOpenToTheSliceBorderIsNotLung() {
        int n = 32;
        long[] lungs = new long[1];
        float[] ct = chest(n, n, 1, lungs);
        double closed = InputDomain.lungFraction(ct, n, n, 1, T);
        // a −1000 HU channel from the left lung's centre to the left border: that lung is now outside air
        for (int x = 0; x <= (int) (n * 0.33); x++) {
            ct[(n / 2) * n + x] = 0f;
        }
        double open = InputDomain.lungFraction(ct, n, n, 1, T);
        assertThat(open).isGreaterThan(0).isLessThan(closed * 0.6);
    }

    @Test
    void aBlankVolumeAndAllSoftTissueHaveNoLungs() {
        int n = 24;
        float[] blank = new float[n * n * 4];
        Arrays.fill(blank, w(-1000));
        assertThat(InputDomain.lungFraction(blank, n, n, 4, T)).isZero();
        float[] tissue = new float[n * n * 4];
        Arrays.fill(tissue, w(40));
        assertThat(InputDomain.lungFraction(tissue, n, n, 4, T)).isZero();
        // the same tissue block with one enclosed air voxel per slice counts exactly those
        for (int z = 0; z < 4; z++) {
            tissue[(z * n + 5) * n + 7] = w(-900);
        }
        assertThat(InputDomain.lungFraction(tissue, n, n, 4, T)).isEqualTo(4.0 / (n * n * 4));
    }

    @Test
    void theCheckComparesWithTheCardsBound() {
        var in = new InputDomain.Check(0.128, 0.02, true);
        var out = new InputDomain.Check(0.004, 0.02, false);
        assertThat(in.describe()).isEqualTo("lung fraction 0.128 (domain ≥ 0.020)");
        assertThat(out.describe()).startsWith("lung fraction 0.004 — below the detector's training domain (≥ 0.020)")
                .contains("not meaningful");
        assertThatThrownBy(() -> new InputDomain.Bounds(1.0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new InputDomain.Bounds(0.0)).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * LungLabels.threshold (training's pseudo-labels) and insideAir agree with an independent definition of "air not
     * connected to the slice border": a fixed-point relaxation instead of a flood fill.
     */
    @Test
    void lungLabelsThresholdDelegatesAndMatchesAnIndependentDefinition() {
        Random r = new Random(7);
        for (int round = 0; round < 20; round++) {
            int nx = 1 + r.nextInt(40);
            int ny = 1 + r.nextInt(40);
            int nz = 1 + r.nextInt(4);
            float[] ct = new float[nx * ny * nz];
            long[] unused = new long[1];
            if (round % 2 == 0 && nx > 8 && ny > 8) {
                ct = chest(nx, ny, nz, unused);
            }
            for (int i = 0; i < ct.length; i++) {
                ct[i] = Math.max(0f, Math.min(1f, ct[i] + (float) (r.nextGaussian() * 0.2)));
            }
            float t = round == 3 ? 0.5f : T;
            float[] expected = relaxation(ct, nx, ny, nz, t);
            assertThat(LungLabels.threshold(ct, nx, ny, nz, t)).as("round %d", round).containsExactly(expected);
            assertThat(InputDomain.insideAir(ct, nx, ny, nz, t)).containsExactly(expected);
        }
    }

    /**
     * Outside = below the threshold and on the border or next (4-neighbourhood) to an outside voxel of the same
     * slice, iterated until nothing changes; the label is below the threshold and not outside.
     */
    private static float[] relaxation(float[] ct, int nx, int ny, int nz, float t) {
        float[] out = new float[ct.length];
        for (int z = 0; z < nz; z++) {
            boolean[][] o = new boolean[ny][nx];
            boolean changed = true;
            while (changed) {
                changed = false;
                for (int y = 0; y < ny; y++) {
                    for (int x = 0; x < nx; x++) {
                        if (o[y][x] || ct[(z * ny + y) * nx + x] >= t) {
                            continue;
                        }
                        boolean border = x == 0 || y == 0 || x == nx - 1 || y == ny - 1;
                        boolean next = border || o[y][x - 1] || o[y][x + 1] || o[y - 1][x] || o[y + 1][x];
                        if (next) {
                            o[y][x] = true;
                            changed = true;
                        }
                    }
                }
            }
            for (int y = 0; y < ny; y++) {
                for (int x = 0; x < nx; x++) {
                    int i = (z * ny + y) * nx + x;
                    out[i] = ct[i] < t && !o[y][x] ? 1f : 0f;
                }
            }
        }
        return out;
    }
}
