package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class MetricsTest {
    @Test
    void errorsAreComputedAfterClippingToTheWindow() {
        Geometry g = Geometry.of(2, 1, 1, 1, 1, 1, 0, 0, 0);
        try (Volume a = Volume.allocate(g); Volume b = Volume.allocate(g)) {
            a.set(0, 0, 0, 100f);
            b.set(0, 0, 0, 300f);   // |d| = 200
            a.set(1, 0, 0, -3000f); // clipped to -1000
            b.set(1, 0, 0, -1000f); // |d| = 0
            Metrics.Errors e = Metrics.compare(a, b, -1000, 1000);
            assertThat(e.mae()).isCloseTo(100.0, within(1e-9));
            assertThat(e.rmse()).isCloseTo(Math.sqrt(200.0 * 200.0 / 2), within(1e-9));
            assertThat(e.psnr()).isCloseTo(20 * Math.log10(2000 / Math.sqrt(20000.0)), within(1e-9));
            assertThat(Metrics.compare(a, a, -1000, 1000).psnr()).isInfinite();
        }
    }

    @Test
    void qualityHasSsimAndHonoursTheMask() {
        Geometry g = Geometry.of(20, 20, 2, 1, 1, 1, 0, 0, 0);
        java.util.Random r = new java.util.Random(1);
        try (Volume a = Volume.allocate(g); Volume b = Volume.allocate(g)) {
            for (int z = 0; z < 2; z++) {
                for (int y = 0; y < 20; y++) {
                    for (int x = 0; x < 20; x++) {
                        float v = (float) (400 * Math.sin(x * 0.5) * Math.cos(y * 0.3));
                        a.set(x, y, z, v);
                        b.set(x, y, z, x < 10 ? v : v + (float) (200 * r.nextGaussian()));
                    }
                }
            }
            Metrics.Quality same = Metrics.quality(a, a, null, -1000, 1000);
            assertThat(same.ssim()).isCloseTo(1.0, within(1e-9));
            assertThat(same.psnr()).isInfinite();
            Metrics.Quality noisy = Metrics.quality(a, b, null, -1000, 1000);
            assertThat(noisy.ssim()).isLessThan(0.9);
            assertThat(noisy.voxels()).isEqualTo(800);
            boolean[] left = new boolean[800];
            for (int i = 0; i < 800; i++) {
                left[i] = i % 20 < 4;  // far from the noisy half: SSIM's window does not reach it
            }
            Metrics.Quality masked = Metrics.quality(a, b, left, -1000, 1000);
            assertThat(masked.voxels()).isEqualTo(160);
            assertThat(masked.mae()).isZero();
            assertThat(masked.ssim()).isCloseTo(1.0, within(1e-6));
            // the processed grid's field of view, mapped back: a grid inside itself is all true
            assertThat(Metrics.insideGrid(g, g)).containsOnly(true);
            assertThat(Metrics.insideGrid(g, Geometry.of(10, 20, 2, 1, 1, 1, 0, 0, 0))[15]).isFalse();
        }
    }
}
