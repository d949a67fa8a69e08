package org.ctcf.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The saliency baselines on tiny TorchScript classifiers whose maps are known by hand. */
class SaliencyTest {
    static Kernel kernel;
    static Volume volume;  // 8 x 8 x 8, values in [0.2, 0.8]

    /** Half the sum of slices 2 and 3 (layout [B, 1, D, H, W]): gradient 0.5 there, 0 elsewhere. */
    static final String LINEAR = "return (x[:, :, 2:4].sum(dim=[1, 2, 3, 4]) * 0.5).unsqueeze(1)";

    @BeforeAll
    static void setUp() {
        kernel = Kernel.open();
        volume = Volume.allocate(Geometry.of(8, 8, 8, 1, 1, 1, 0, 0, 0));
        Random r = new Random(5);
        for (int z = 0; z < 8; z++) {
            for (int y = 0; y < 8; y++) {
                for (int x = 0; x < 8; x++) {
                    volume.set(x, y, z, 0.2f + 0.6f * r.nextFloat());
                }
            }
        }
    }

    @AfterAll
    static void tearDown() {
        volume.close();
        kernel.close();
    }

    static Classifier classifier(String body) {
        return Classifier.define("def forward(self, x):\n    " + body + "\n", Classifier.Layout.BCDHW, 0, kernel);
    }

    static double sum(Volume v) {
        double s = 0;
        for (float f : Metrics.toArray(v)) {
            s += f;
        }
        return s;
    }

    @Test
    void gradientAndGradientTimesInputOfALinearScoreAreItsWeights() {
        try (Classifier c = classifier(LINEAR);
                Saliency.Map g = Saliency.compute(volume, c, Target.raw(0), Saliency.Method.GRADIENT,
                        Saliency.Options.defaults(), null);
                Saliency.Map gx = Saliency.compute(volume, c, Target.raw(0), Saliency.Method.GRADIENT_X_INPUT,
                        Saliency.Options.defaults(), null)) {
            for (int z = 0; z < 8; z++) {
                float w = z == 2 || z == 3 ? 0.5f : 0f;
                assertThat(g.values().get(3, 4, z)).isEqualTo(w);
                assertThat(gx.values().get(5, 1, z)).isCloseTo(w * volume.get(5, 1, z), within(1e-6f));
            }
            double expected = 0;
            for (int z = 2; z < 4; z++) {
                for (int y = 0; y < 8; y++) {
                    for (int x = 0; x < 8; x++) {
                        expected += 0.5 * volume.get(x, y, z);
                    }
                }
            }
            assertThat(g.score()).isCloseTo(expected, within(1e-4));
            // a linear score with a zero baseline: gradient x input sums to the score
            assertThat(sum(gx.values())).isCloseTo(expected, within(1e-4));
        }
    }

    @Test
    void integratedGradientsSatisfyCompleteness() {
        try (Classifier c = classifier("return torch.tanh((x * x).mean(dim=[1, 2, 3, 4]) * 3.0 - 0.5).unsqueeze(1)");
                Volume zero = Volume.filled(volume.geometry(), 0f)) {
            double fx = c.score(volume, Target.raw(0));
            double f0 = c.score(zero, Target.raw(0));
            for (double b : new double[] {0.0, 0.1}) {
                try (Volume base = Volume.filled(volume.geometry(), (float) b);
                        Saliency.Map ig = Saliency.compute(volume, c, Target.raw(0),
                                Saliency.Method.INTEGRATED_GRADIENTS, Saliency.Options.defaults().withSteps(64)
                                        .withBaseline(b), null)) {
                    double fb = b == 0 ? f0 : c.score(base, Target.raw(0));
                    assertThat(sum(ig.values())).as("baseline %s", b).isCloseTo(fx - fb, within(2e-3));
                    assertThat(ig.score()).isCloseTo(fx, within(1e-6));
                }
            }
            // fewer points, a coarser sum: the error shrinks as the path is sampled more finely
            try (Saliency.Map coarse = Saliency.compute(volume, c, Target.raw(0), Saliency.Method.INTEGRATED_GRADIENTS,
                    Saliency.Options.defaults().withSteps(1), null)) {
                assertThat(Math.abs(sum(coarse.values()) - (fx - f0))).isGreaterThan(2e-3);
            }
        }
    }

    @Test
    void occlusionOfALinearScoreIsTheDropOfEachWindow() {
        try (Classifier c = classifier(LINEAR);
                Saliency.Map m = Saliency.compute(volume, c, Target.raw(0), Saliency.Method.OCCLUSION,
                        Saliency.Options.defaults().withOcclusion(new int[] {2, 8, 4}, new int[] {2, 8, 4}, 0.0),
                        null)) {
            // windows of slices [2, 4) x all rows x 4 columns: drop = 0.5 * their sum; other windows drop nothing
            for (int x0 : new int[] {0, 4}) {
                double drop = 0;
                for (int z = 2; z < 4; z++) {
                    for (int y = 0; y < 8; y++) {
                        for (int x = x0; x < x0 + 4; x++) {
                            drop += 0.5 * volume.get(x, y, z);
                        }
                    }
                }
                assertThat(m.values().get(x0 + 1, 6, 3)).isCloseTo((float) drop, within(1e-4f));
                assertThat(m.values().get(x0 + 3, 0, 2)).isCloseTo((float) drop, within(1e-4f));
            }
            assertThat(m.values().get(2, 2, 1)).isZero();
            assertThat(m.values().get(2, 2, 7)).isZero();
        }
    }

    @Test
    void listenersSeeProgressAndCanCancelAndBadInputIsRefused() {
        try (Classifier c = classifier(LINEAR)) {
            int[] calls = {0};
            try (Saliency.Map m = Saliency.compute(volume, c, Target.raw(0), Saliency.Method.INTEGRATED_GRADIENTS,
                    Saliency.Options.defaults().withSteps(8), p -> {
                        assertThat(p.phase()).isEqualTo(Progress.Phase.SALIENCY);
                        calls[0]++;
                        return true;
                    })) {
                assertThat(calls[0]).isEqualTo(2);  // 8 points in batches of 4
            }
            assertThatThrownBy(() -> Saliency.compute(volume, c, Target.raw(0), Saliency.Method.OCCLUSION,
                    Saliency.Options.defaults(), p -> false)).isInstanceOf(CtcfException.CancelledException.class);
        }
        try (Classifier nan = classifier("return (x.sum(dim=[1, 2, 3, 4]) * float('nan')).unsqueeze(1)")) {
            assertThatThrownBy(() -> Saliency.compute(volume, nan, Target.raw(0), Saliency.Method.GRADIENT,
                    Saliency.Options.defaults(), null)).hasMessageContaining("non-finite");
        }
        assertThatThrownBy(() -> Saliency.Method.parse("guided-backprop")).hasMessageContaining("guided-backprop")
                .hasMessageContaining("integrated-gradients");
        assertThatThrownBy(() -> Saliency.Options.defaults().withSteps(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
