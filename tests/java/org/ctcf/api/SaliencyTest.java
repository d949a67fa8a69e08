package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;
import org.ctcf.core.CtcfException;

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
        assertThatThrownBy(() -> Saliency.Method.parse("guided")).hasMessageContaining("guided-backprop")
                .hasMessageContaining("integrated-gradients");
        assertThatThrownBy(() -> Saliency.Options.defaults().withSteps(0)).isInstanceOf(IllegalArgumentException.class);
    }

    /** Two slabs of ReLU units, the second with negative weight: score = 0.5 (Σ_{z<4} act - Σ_{z≥4} act). */
    static String slabs(String act) {
        return "def forward(self, x):\n" + act
                + "    return ((h[:, :, :4].sum(dim=[1, 2, 3, 4]) - h[:, :, 4:].sum(dim=[1, 2, 3, 4])) * 0.5)"
                + ".unsqueeze(1)\n";
    }

    @Test
    void guidedBackpropPassesOnlyPositiveGradientsThroughEachKindOfReLU() {
        String[] acts = {
            "    h = torch.relu(x - 0.5)\n",
            "    h = x - 0.5\n    h.relu_()\n",  // in place: the later reads of h see the activated values
            "    h = torch.leaky_relu(x - 0.5, 0.1)\n"};
        double[] slopes = {0, 0, 0.1};
        for (int k = 0; k < acts.length; k++) {
            try (Classifier c = Classifier.define(slabs(acts[k]), Classifier.Layout.BCDHW, 0, kernel);
                    Saliency.Map guided = Saliency.compute(volume, c, Target.raw(0), Saliency.Method.GUIDED_BACKPROP,
                            Saliency.Options.defaults(), null);
                    Saliency.Map plain = Saliency.compute(volume, c, Target.raw(0), Saliency.Method.GRADIENT,
                            Saliency.Options.defaults(), null)) {
                for (int z = 0; z < 8; z++) {
                    for (int y = 0; y < 8; y++) {
                        for (int x = 0; x < 8; x++) {
                            double d = volume.get(x, y, z) > 0.5 ? 1 : slopes[k];  // the activation's derivative
                            double sign = z < 4 ? 1 : -1;
                            assertThat(plain.values().get(x, y, z)).as("plain %d at %d %d %d", k, x, y, z)
                                    .isCloseTo((float) (0.5 * sign * d), within(1e-6f));
                            // guided: the negative upstream gradient of the second slab is stopped
                            assertThat(guided.values().get(x, y, z)).as("guided %d at %d %d %d", k, x, y, z)
                                    .isCloseTo((float) (z < 4 ? 0.5 * d : 0), within(1e-6f));
                        }
                    }
                }
                assertThat(guided.score()).isCloseTo(plain.score(), within(1e-9));
            }
        }
        try (Classifier c = classifier(LINEAR)) {
            assertThatThrownBy(() -> Saliency.compute(volume, c, Target.raw(0), Saliency.Method.GUIDED_BACKPROP,
                    Saliency.Options.defaults(), null)).hasMessageContaining("has none").hasMessageContaining("relu");
        }
    }

    static final String TWO_CHANNELS = "def forward(self, x):\n"
            + "    return torch.cat([x * 2.0 - 0.5, 0.25 - x], 1)\n";
    static final String POOLED = "def forward(self, x):\n"
            + "    return torch.cat([torch.avg_pool3d(x, [2, 2, 2]), torch.avg_pool3d(x * x, [2, 2, 2])], 1)\n";

    /** score = w0 · mean(A_0) − w1 · mean(A_1) of the layer {@code features}. */
    static Classifier camModel(String features, double w0, double w1, Classifier.Layout layout) {
        String src = "def forward(self, x):\n    a = self.features.forward(x)\n"
                + "    return (a[:, 0].mean(dim=[1, 2, 3]) * " + w0 + " - a[:, 1].mean(dim=[1, 2, 3]) * " + w1
                + ").unsqueeze(1)\n";
        return Classifier.define(src, java.util.Map.of("features", features), layout, 0, kernel);
    }

    @Test
    void gradCamOfALayerOnTheInputGridIsTheHandComputedMap() {
        // A_0 = 2x - 0.5, A_1 = 0.25 - x; d score / d A = 3/N and -1/N everywhere (N = 512 voxels), so
        // alpha = (3/N, -1/N) and the map is ReLU((3 (2x - 0.5) - (0.25 - x)) / N) = ReLU((7x - 1.75) / N).
        try (Classifier c = camModel(TWO_CHANNELS, 3.0, 1.0, Classifier.Layout.BCDHW);
                Saliency.Map m = Saliency.compute(volume, c, Target.raw(0), Saliency.Method.GRAD_CAM,
                        Saliency.Options.defaults().withLayer("features"), null)) {
            int zeros = 0;
            for (int z = 0; z < 8; z++) {
                for (int y = 0; y < 8; y++) {
                    for (int x = 0; x < 8; x++) {
                        double expected = Math.max(0, (7 * volume.get(x, y, z) - 1.75) / 512);
                        zeros += expected == 0 ? 1 : 0;
                        assertThat(m.values().get(x, y, z)).as("%d %d %d", x, y, z)
                                .isCloseTo((float) expected, within(1e-7f));
                    }
                }
            }
            assertThat(zeros).as("the ReLU clips some voxels").isBetween(1, 511);
        }
    }

    /** PyTorch's linear resampling weights (align_corners = false) from n to 2n samples. */
    static double[][] upWeights(int n) {
        double[][] w = new double[2 * n][n];
        for (int o = 0; o < 2 * n; o++) {
            double src = Math.max(0, (o + 0.5) * 0.5 - 0.5);
            int i0 = (int) Math.floor(src);
            int i1 = Math.min(i0 + 1, n - 1);
            double l1 = src - i0;
            w[o][i0] += 1 - l1;
            w[o][i1] += l1;
        }
        return w;
    }

    @Test
    void gradCamOfAPooledLayerIsResizedTrilinearlyInBothLayouts() {
        // A_0 = 2x2x2 means of x, A_1 = means of x^2 (a 4^3 grid, n = 64 cells): alpha = (2/64, -3/64).
        double[][][] cam = new double[4][4][4];
        for (int z = 0; z < 4; z++) {
            for (int y = 0; y < 4; y++) {
                for (int x = 0; x < 4; x++) {
                    double m = 0;
                    double q = 0;
                    for (int i = 0; i < 8; i++) {
                        double v = volume.get(2 * x + (i & 1), 2 * y + (i >> 1 & 1), 2 * z + (i >> 2));
                        m += v / 8;
                        q += v * v / 8;
                    }
                    cam[z][y][x] = Math.max(0, (2 * m - 3 * q) / 64);
                }
            }
        }
        double[][] u = upWeights(4);
        for (Classifier.Layout layout : Classifier.Layout.values()) {
            try (Classifier c = camModel(POOLED, 2.0, 3.0, layout);
                    Saliency.Map m = Saliency.compute(volume, c, Target.raw(0), Saliency.Method.GRAD_CAM,
                            Saliency.Options.defaults().withLayer("features"), null)) {
                for (int z = 0; z < 8; z++) {
                    for (int y = 0; y < 8; y++) {
                        for (int x = 0; x < 8; x++) {
                            double e = 0;
                            for (int a = 0; a < 4; a++) {
                                for (int b = 0; b < 4; b++) {
                                    for (int d = 0; d < 4; d++) {
                                        e += u[z][a] * u[y][b] * u[x][d] * cam[a][b][d];
                                    }
                                }
                            }
                            assertThat(m.values().get(x, y, z)).as("%s %d %d %d", layout, x, y, z)
                                    .isCloseTo((float) e, within(1e-7f));
                        }
                    }
                }
            }
        }
    }

    @Test
    void gradCamNamesTheLayersItCanUse() {
        try (Classifier plain = classifier(LINEAR);
                Classifier nested = camModel(TWO_CHANNELS, 1.0, 1.0, Classifier.Layout.BCDHW)) {
            assertThatThrownBy(() -> Saliency.compute(volume, plain, Target.raw(0), Saliency.Method.GRAD_CAM,
                    Saliency.Options.defaults(), null)).hasMessageContaining("needs a layer");
            assertThatThrownBy(() -> Saliency.compute(volume, nested, Target.raw(0), Saliency.Method.GRAD_CAM,
                    Saliency.Options.defaults().withLayer("head"), null)).hasMessageContaining("'head'")
                    .hasMessageContaining("submodules: features");
        }
        assertThatThrownBy(() -> Classifier.define(LINEAR, java.util.Map.of("a.b", TWO_CHANNELS),
                Classifier.Layout.BCDHW, 0, kernel)).hasMessageContaining("no parent 'a'");
    }

    @Test
    void builtInsHaveGuidedReLUsAndGradCamLayers() {
        try (Classifier c = Classifier.builtin("ctcf-nodule3d", 1, Classifier.Layout.BCDHW, 0, kernel);
                Saliency.Map head = Saliency.compute(volume, c, Target.raw(0), Saliency.Method.GRAD_CAM,
                        Saliency.Options.defaults().withLayer("head"), null);
                Saliency.Map features = Saliency.compute(volume, c, Target.raw(0), Saliency.Method.GRAD_CAM,
                        Saliency.Options.defaults(), null);
                Saliency.Map guided = Saliency.compute(volume, c, Target.raw(0), Saliency.Method.GUIDED_BACKPROP,
                        Saliency.Options.defaults(), null);
                Saliency.Map plain = Saliency.compute(volume, c, Target.raw(0), Saliency.Method.GRADIENT,
                        Saliency.Options.defaults(), null)) {
            // The head's output is the 2^3 logit map L whose maximum is the score: d score / d L is one-hot, so
            // alpha = 1/8 and the map is ReLU(L) / 8; resized 2 -> 8, each corner voxel takes a cell's value
            // exactly, so the map's maximum is ReLU(score) / 8.
            float max = Float.NEGATIVE_INFINITY;
            for (float f : Metrics.toArray(head.values())) {
                assertThat(f).isGreaterThanOrEqualTo(0f);
                max = Math.max(max, f);
            }
            assertThat((double) max).isCloseTo(Math.max(0, head.score()) / 8, within(1e-6));
            for (float f : Metrics.toArray(features.values())) {
                assertThat(f).isFinite().isGreaterThanOrEqualTo(0f);
            }
            // leaky ReLUs with the guided rule: another map, same score
            float[] g = Metrics.toArray(guided.values());
            float[] p = Metrics.toArray(plain.values());
            assertThat(g).isNotEqualTo(p);
            assertThat(guided.score()).isCloseTo(plain.score(), within(1e-9));
            assertThatThrownBy(() -> Saliency.compute(volume, c, Target.raw(0), Saliency.Method.GRAD_CAM,
                    Saliency.Options.defaults().withLayer("layer9"), null)).hasMessageContaining("features")
                    .hasMessageContaining("head");
        }
    }
}
