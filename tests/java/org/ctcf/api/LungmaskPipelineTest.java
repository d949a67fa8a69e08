package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;

import static org.assertj.core.api.Assertions.assertThat;

import org.ctcf.SharedKernel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** lungmask's own preprocessing around the U-Net, on synthetic bodies in two voxel orders. */
class LungmaskPipelineTest {
    @RegisterExtension
    static final SharedKernel KERNEL = new SharedKernel();


    /** An elliptic body (40 HU) with two air-filled "lungs" (-850 HU) in -1000 HU air; LPS voxel order. */
    static Volume body(int n, int slices, boolean rasOrder) {
        double[] affine = rasOrder ? new double[] {1, 0, 0, -(n - 1), 0, 1, 0, -(n - 1), 0, 0, 2, 0, 0, 0, 0, 1}
                : new double[] {-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1};
        Volume v = Volume.allocate(new Geometry(n, n, slices, affine));
        for (int z = 0; z < slices; z++) {
            for (int y = 0; y < n; y++) {
                for (int x = 0; x < n; x++) {
                    // LPS indices (x: right -> left, y: anterior -> posterior)
                    int lx = rasOrder ? n - 1 - x : x;
                    int ly = rasOrder ? n - 1 - y : y;
                    double ex = (lx - n * 0.5) / (n * 0.38);
                    double ey = (ly - n * 0.55) / (n * 0.28);
                    float hu = -1000;
                    if (ex * ex + ey * ey < 1) {
                        hu = 40;
                        double l1 = Math.hypot((lx - n * 0.33) / (n * 0.1), (ly - n * 0.55) / (n * 0.15));
                        double l2 = Math.hypot((lx - n * 0.67) / (n * 0.1), (ly - n * 0.55) / (n * 0.15));
                        if (l1 < 1 || l2 < 1) {
                            hu = -850;
                        }
                    }
                    v.set(x, y, z, hu);
                }
            }
        }
        return v;
    }

    @Test
    void slicesAreCroppedToTheBodyResizedAndNormalised() {
        int n = 96;
        try (Volume ct = body(n, 3, false); LungmaskPipeline.Prepared p = LungmaskPipeline.prepare(ct, KERNEL.get())) {
            assertThat(p.slices().geometry().dims()).containsExactly(256, 256, 3);
            long[] b = p.boxes();
            // The body spans columns 0.12n..0.88n and rows 0.27n..0.83n; the mask is built at 128 x 128 and
            // dilated, so the box may be a few pixels larger.
            for (int z = 0; z < 3; z++) {
                assertThat(b[4 * z]).isBetween((long) (0.27 * n) - 6, (long) (0.27 * n) + 1);
                assertThat(b[4 * z + 1]).isBetween((long) (0.12 * n) - 6, (long) (0.12 * n) + 1);
                assertThat(b[4 * z + 2]).isBetween((long) (0.83 * n), (long) (0.83 * n) + 7);
                assertThat(b[4 * z + 3]).isBetween((long) (0.88 * n), (long) (0.88 * n) + 7);
            }
            Volume.VoxelStats st = p.slices().stats();
            assertThat(st.min()).isGreaterThanOrEqualTo(0.0);
            assertThat(st.max()).isLessThanOrEqualTo(1.0);
            // The crop's centre is body tissue: (40 + 1024) / 1624.
            assertThat((double) p.slices().get(128, 40, 1)).isCloseTo(1064.0 / 1624, org.assertj.core.api.Assertions
                    .within(1e-4));
        }
    }

    @Test
    void labelsComeBackOntoTheInputGridWhateverItsVoxelOrder() {
        int n = 64;
        try (Classifier unet = Classifier.builtin("lungmask-unet", 3, Classifier.Layout.BCDHW, 0, KERNEL.get());
                Volume lps = body(n, 2, false); Volume ras = body(n, 2, true);
                Volume a = LungmaskPipeline.segment(lps, unet, KERNEL.get());
                Volume b = LungmaskPipeline.segment(ras, unet, KERNEL.get())) {
            assertThat(a.geometry()).isEqualTo(lps.geometry());
            assertThat(b.geometry()).isEqualTo(ras.geometry());
            long[] counts = new long[3];
            for (int z = 0; z < 2; z++) {
                for (int y = 0; y < n; y++) {
                    for (int x = 0; x < n; x++) {
                        float la = a.get(x, y, z);
                        assertThat(la).isIn(0f, 1f, 2f);
                        counts[(int) la]++;
                        // the same physical voxel in the RAS-ordered volume
                        assertThat(b.get(n - 1 - x, n - 1 - y, z)).isEqualTo(la);
                    }
                }
            }
            // Outside the body box every label is background.
            assertThat(a.get(0, 0, 0)).isZero();
            assertThat(a.get(n - 1, n - 1, 1)).isZero();
            assertThat(counts[0]).isGreaterThan(0);
        }
    }
}
