package org.ctcf.api;

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
}
