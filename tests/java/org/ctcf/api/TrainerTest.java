package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;
import org.ctcf.core.CtcfException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.ctcf.io.checkpoint.SafeTensors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Training in the kernel: the VQ-GAN objective, the classifiers' BCE, determinism, exact resume, errors. */
class TrainerTest {
    static final VqConfig TINY = new VqConfig(32, 1, 1, 16, 16, 1, 4, 32, false, true, List.of(1, 1), List.of(), 0.0);
    private static Kernel kernel;

    @TempDir
    Path tmp;

    @BeforeAll
    static void open() {
        kernel = Kernel.open(Device.CPU, 2);
    }

    @AfterAll
    static void close() {
        kernel.close();
    }

    /** Smooth random blobs in [0, 1], a function of (seed, step). */
    static float[] slices(long seed, long step, int n, int size) {
        SplittableRandom r = new SplittableRandom(seed * 1000 + step);
        float[] out = new float[n * size * size];
        for (int b = 0; b < n; b++) {
            double cx = r.nextDouble(size);
            double cy = r.nextDouble(size);
            double rad = 2 + r.nextDouble(size / 3.0);
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    double d = Math.hypot(x - cx, y - cy);
                    out[(b * size + y) * size + x] = (float) (0.2 + 0.6 / (1 + Math.exp((d - rad) / 1.5)));
                }
            }
        }
        return out;
    }

    static List<Trainer.Stats> trainAe(SliceAutoencoder ae, Trainer t, long from, long to) {
        List<Trainer.Stats> s = new ArrayList<>();
        for (long i = from; i < to; i++) {
            s.add(t.stepAutoencoder(slices(7, i, 4, 16), 4, 16, 16));
        }
        return s;
    }

    @Test
    void autoencoderLossFallsAndRunsAreReproducible() {
        float[] first;
        double early;
        double late;
        Trainer.manualSeed(11);
        try (SliceAutoencoder ae = SliceAutoencoder.create(TINY, kernel);
                Trainer t = Trainer.forAutoencoder(ae, SliceWrapper.plain(),
                        Trainer.Options.defaults().withLearningRate(2e-3).withCodeRestart(10))) {
            List<Trainer.Stats> s = trainAe(ae, t, 0, 60);
            early = s.subList(0, 5).stream().mapToDouble(Trainer.Stats::reconstruction).average().orElseThrow();
            late = s.subList(55, 60).stream().mapToDouble(Trainer.Stats::reconstruction).average().orElseThrow();
            assertThat(s.get(59).step()).isEqualTo(60);
            assertThat(t.steps()).isEqualTo(60);
            assertThat(s).allSatisfy(x -> assertThat(x.codesUsed()).isBetween(1L, 32L));
            first = ae.parameter("decoder.conv_out.weight");
        }
        assertThat(late).isLessThan(0.6 * early);
        Trainer.manualSeed(11);
        try (SliceAutoencoder ae = SliceAutoencoder.create(TINY, kernel);
                Trainer t = Trainer.forAutoencoder(ae, SliceWrapper.plain(),
                        Trainer.Options.defaults().withLearningRate(2e-3).withCodeRestart(10))) {
            trainAe(ae, t, 0, 60);
            assertThat(ae.parameter("decoder.conv_out.weight")).containsExactly(first);
        }
    }

    @Test
    void resumeFromACheckpointContinuesExactly() throws IOException {
        Trainer.Options o = Trainer.Options.defaults().withLearningRate(1e-3).withCodeRestart(5);
        float[] straight;
        Trainer.manualSeed(3);
        try (SliceAutoencoder ae = SliceAutoencoder.create(TINY, kernel);
                Trainer t = Trainer.forAutoencoder(ae, SliceWrapper.plain(), o)) {
            trainAe(ae, t, 0, 16);
            straight = ae.parameter("encoder.conv_in.weight");
        }
        Path ck = tmp.resolve("ck.safetensors");
        Trainer.manualSeed(3);
        try (SliceAutoencoder ae = SliceAutoencoder.create(TINY, kernel);
                Trainer t = Trainer.forAutoencoder(ae, SliceWrapper.plain(), o)) {
            trainAe(ae, t, 0, 8);
            ae.save(ck, t.stateTensors(SliceAutoencoder.TRAINER_PREFIX), Map.of());
        }
        Trainer.manualSeed(999);  // a different seed must not matter after a resume
        try (SliceAutoencoder ae = SliceAutoencoder.load(ck, null, kernel);
                Trainer t = Trainer.forAutoencoder(ae, SliceWrapper.plain(), o)) {
            t.loadState(ck);
            assertThat(t.steps()).isEqualTo(8);
            trainAe(ae, t, 8, 16);
            assertThat(ae.parameter("encoder.conv_in.weight")).containsExactly(straight);
        }
    }

    @Test
    void thePatchGanSwitchesOnAtItsStartStep() {
        Trainer.manualSeed(5);
        try (SliceAutoencoder ae = SliceAutoencoder.create(TINY, kernel);
                Trainer t = Trainer.forAutoencoder(ae, SliceWrapper.plain(),
                        Trainer.Options.defaults().withDiscriminator(3, 16, 2, 0.8))) {
            List<Trainer.Stats> s = trainAe(ae, t, 0, 6);
            assertThat(s.subList(0, 3)).allSatisfy(x -> assertThat(x.discriminator()).isZero());
            assertThat(s.subList(3, 6)).allSatisfy(x -> {
                assertThat(x.discriminator()).isPositive().isFinite();
                assertThat(x.adaptiveWeight()).isPositive().isFinite();
            });
            assertThat(t.stateTensors("").stream().map(SafeTensors.FloatTensor::name))
                    .anyMatch(n -> n.startsWith("disc.main.")).anyMatch(n -> n.startsWith("disc_adam.m."));
        }
    }

    @Test
    void theNoduleNetLearnsBrightSpheresAndTheLungNetLearnsMaps() {
        Trainer.manualSeed(1);
        try (Classifier c = Classifier.builtin("ctcf-nodule3d", 1, Classifier.Layout.BCDHW, 0, kernel);
                Trainer t = Trainer.forClassifier(c, Trainer.Options.defaults().withLearningRate(3e-3)
                        .withBetas(0.9, 0.999))) {
            double first = 0;
            double last = 0;
            for (int s = 0; s < 40; s++) {
                SplittableRandom r = new SplittableRandom(s);
                int b = 4;
                int n = 12;
                float[] x = new float[b * n * n * n];
                float[] y = new float[b];
                for (int i = 0; i < b; i++) {
                    boolean pos = i % 2 == 0;
                    y[i] = pos ? 1 : 0;
                    int cx = 3 + r.nextInt(6);
                    for (int v = 0; v < n * n * n; v++) {
                        int vx = v % n;
                        int vy = (v / n) % n;
                        int vz = v / (n * n);
                        double d = Math.sqrt((vx - cx) * (vx - cx) + (vy - 6) * (vy - 6) + (vz - 6) * (vz - 6));
                        x[i * n * n * n + v] = (float) (0.1 + 0.02 * r.nextGaussian() + (pos && d < 2.5 ? 0.5 : 0));
                    }
                }
                double l = t.stepClassifier(x, new long[] {b, n, n, n}, y, new long[] {b, 1}).loss();
                if (s < 5) {
                    first += l / 5;
                }
                if (s >= 35) {
                    last += l / 5;
                }
            }
            assertThat(last).isLessThan(0.5 * first);
        }
        try (Classifier c = Classifier.builtin("ctcf-lungseg", 1, Classifier.Layout.BCDHW, 0, kernel);
                Trainer t = Trainer.forClassifier(c, Trainer.Options.defaults().withLearningRate(3e-3))) {
            float[] x = new float[2 * 3 * 20 * 20];
            float[] y = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                boolean lung = (i % 20) > 4 && (i % 20) < 12;
                x[i] = lung ? 0.1f : 0.55f;
                y[i] = lung ? 1f : 0f;
            }
            double l0 = t.stepClassifier(x, new long[] {2, 3, 20, 20}, y, new long[] {2, 3, 20, 20}).loss();
            double l = l0;
            for (int s = 0; s < 30; s++) {
                l = t.stepClassifier(x, new long[] {2, 3, 20, 20}, y, new long[] {2, 3, 20, 20}).loss();
            }
            assertThat(l).isLessThan(0.5 * l0);
        }
    }

    @Test
    void labelSmoothingMovesTheBceTargetsTowardsOneHalf() {
        for (double e : new double[] {0, 0.2}) {
            Trainer.manualSeed(3);
            try (Classifier c = Classifier.builtin("ctcf-nodule3d", 1, Classifier.Layout.BCDHW, 0, kernel);
                    Trainer t = Trainer.forClassifier(c, Trainer.Options.defaults().withLabelSmoothing(e))) {
                int n = 8;
                float[] x = new float[2 * n * n * n];
                SplittableRandom r = new SplittableRandom(4);
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) r.nextDouble();
                }
                float[] y = {1, 0};
                double expected = 0;
                for (int b = 0; b < 2; b++) {
                    float[] one = java.util.Arrays.copyOfRange(x, b * n * n * n, (b + 1) * n * n * n);
                    try (Volume v = Volume.of(Geometry.of(n, n, n, 1, 1, 1, 0, 0, 0), one)) {
                        double z = c.outputs(v).values()[0];
                        double target = y[b] * (1 - e) + e / 2;
                        // BCE with logits, worked out here: log(1 + e^z) - t z
                        expected += (Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - target * z) / 2;
                    }
                }
                double loss = t.stepClassifier(x, new long[] {2, n, n, n}, y, new long[] {2, 1}).loss();
                assertThat(loss).isCloseTo(expected, org.assertj.core.api.Assertions.within(1e-5));
            }
        }
        try (Classifier c = Classifier.builtin("ctcf-nodule3d", 1, Classifier.Layout.BCDHW, 0, kernel)) {
            assertThatThrownBy(() -> Trainer.forClassifier(c, Trainer.Options.defaults().withLabelSmoothing(1)))
                    .hasMessageContaining("label_smoothing");
        }
    }

    @Test
    void badInputsAreClearErrors() {
        try (Classifier c = Classifier.builtin("ctcf-nodule3d", 1, Classifier.Layout.BCDHW, 0, kernel);
                Trainer t = Trainer.forClassifier(c, Trainer.Options.defaults())) {
            float[] x = new float[2 * 8 * 8 * 8];
            assertThatThrownBy(() -> t.stepClassifier(x, new long[] {2, 8, 8, 8}, new float[3], new long[] {3, 1}))
                    .isInstanceOf(CtcfException.class).hasMessageContaining("targets must be [B, classes]");
            assertThatThrownBy(() -> t.stepClassifier(x, new long[] {2, 8, 8, 8}, new float[] {2, 0},
                    new long[] {2, 1})).hasMessageContaining("[0, 1]");
            assertThatThrownBy(() -> t.stepClassifier(x, new long[] {2, 8, 8, 9}, new float[2], new long[] {2, 1}))
                    .isInstanceOf(IllegalArgumentException.class);
        }
        try (Classifier c = Classifier.define("def forward(self, x):\n    return x.mean(dim=[1, 2, 3, 4]).unsqueeze(1)\n", Classifier.Layout.BCDHW,
                0, kernel)) {
            assertThatThrownBy(() -> Trainer.forClassifier(c, Trainer.Options.defaults()))
                    .hasMessageContaining("only built-in classifiers can be trained");
        }
        try (SliceAutoencoder ae = SliceAutoencoder.create(TINY, kernel)) {
            assertThatThrownBy(() -> Trainer.forAutoencoder(ae, SliceWrapper.plain(),
                    Trainer.Options.defaults().withLearningRate(-1))).hasMessageContaining("learning rates");
            try (Trainer t = Trainer.forAutoencoder(ae, SliceWrapper.plain(), Trainer.Options.defaults())) {
                float[] bad = slices(1, 1, 1, 16);
                bad[3] = Float.NaN;
                assertThatThrownBy(() -> t.stepAutoencoder(bad, 1, 16, 16)).hasMessageContaining("NaN");
                assertThat(t.stepAutoencoder(slices(1, 1, 1, 16), 1, 16, 16).step()).isEqualTo(1);
            }
        }
    }

    @Test
    void aTrainedClassifierExplainsAgainAfterItsTrainerCloses() {
        try (Classifier c = Classifier.builtin("ctcf-nodule3d", 1, Classifier.Layout.BCDHW, 0, kernel)) {
            try (Trainer t = Trainer.forClassifier(c, Trainer.Options.defaults())) {
                t.stepClassifier(new float[2 * 8 * 8 * 8], new long[] {2, 8, 8, 8}, new float[] {1, 0},
                        new long[] {2, 1});
            }
            try (Volume v = Volume.allocate(Geometry.of(8, 8, 8, 1, 1, 1, 0, 0, 0))) {
                double a = c.score(v, Target.raw(0));
                assertThat(a).isFinite();
            }
            assertThat(c.parameterTensors("")).isNotEmpty();
        }
    }

    @Test
    void theNoduleDetectorsWidthIsPartOfItsArchitectureName() {
        for (int w : new int[] {8, 16}) {
            String arch = w == 8 ? "ctcf-nodule3d" : "ctcf-nodule3d-w" + w;
            try (Classifier c = Classifier.builtin(arch, 1, Classifier.Layout.BCDHW, 0, kernel)) {
                Map<String, long[]> shapes = new java.util.HashMap<>();
                c.parameterTensors("").forEach(t -> shapes.put(t.name(), t.shape()));
                assertThat(shapes.get("features.0.weight")).containsExactly(w, 1, 3, 3, 3);
                assertThat(shapes.get("features.6.weight")).containsExactly(4L * w, 2L * w, 3, 3, 3);
                assertThat(shapes.get("head.weight")).containsExactly(1, 4L * w, 1, 1, 1);
                try (Volume v = Volume.allocate(Geometry.of(8, 8, 8, 1, 1, 1, 0, 0, 0))) {
                    assertThat(c.score(v, Target.raw(0))).isFinite();
                }
            }
        }
        for (String bad : new String[] {"ctcf-nodule3d-w3", "ctcf-nodule3d-w65", "ctcf-nodule3d-w", "ctcf-nodule3d-wx",
            "ctcf-nodule3d-w160"}) {
            assertThatThrownBy(() -> Classifier.builtin(bad, 1, Classifier.Layout.BCDHW, 0, kernel))
                    .isInstanceOf(CtcfException.InvalidArgumentException.class).hasMessageContaining(bad);
        }
    }
}
