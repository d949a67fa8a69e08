package org.ctcf.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.ctcf.core.Affine;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.junit.jupiter.api.Test;

class LocalizerTest {
    /** 8 × 6 × 10 voxels of 1.5 × 1.5 × 3 mm; the finding at voxel (2, 3, 4). */
    private static final Geometry G = Geometry.of(8, 6, 10, 1.5, 1.5, 3, 0, 0, 0);

    private static float[] map() {
        float[] v = new float[8 * 6 * 10];
        v[(8 * 6 + 1 * 8) + 5] = -9f;            // slice 1: the largest |value|, far from the finding
        v[(4 * 6 * 8) + 3 * 8 + 3] = 4f;         // slice 4: one voxel from the finding
        v[(6 * 6 * 8) + 0 * 8 + 0] = 2f;         // slice 6
        return v;
    }

    @Test
    void thePeakIsTheLargestMagnitudeAndASliceRangeConfinesIt() {
        double[] world = Affine.apply(G.affine(), 2, 3, 4);
        try (Volume m = Volume.of(G, map())) {
            Evaluation.Localization all = Localizer.localize(G, m, 0, 5, new double[] {2, 3, 4}, world);
            double[] p1 = Affine.apply(G.affine(), 5, 1, 1);
            assertThat(all.hit()).isTrue();
            assertThat(all.peakMm()).isCloseTo(dist(p1, world), within(1e-9));
            // within slices [3, 8): the voxel next to the finding (1.5 mm), not the larger one in slice 1
            Evaluation.Localization chunk = Localizer.localize(G, map(), 3, 8, 3, 8, new double[] {2, 3, 4}, world);
            assertThat(chunk.hit()).isTrue();
            assertThat(chunk.peakMm()).isCloseTo(1.5, within(1e-9));
            // a range past the last slice is clamped; a range with no slice is an error
            assertThat(Localizer.localize(G, map(), 5, 12, 5, 12, new double[] {2, 3, 4}, world).hit()).isFalse();
            assertThatThrownBy(() -> Localizer.localize(G, map(), 0, 5, 10, 12, new double[] {2, 3, 4}, world))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    private static double dist(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < 3; i++) {
            s += (a[i] - b[i]) * (a[i] - b[i]);
        }
        return Math.sqrt(s);
    }
}
