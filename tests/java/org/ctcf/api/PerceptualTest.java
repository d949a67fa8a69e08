package org.ctcf.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.ctcf.io.checkpoint.ModelFormatException;
import org.ctcf.io.checkpoint.SafeTensors;
import org.ctcf.io.checkpoint.TorchZipWriter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LPIPS over VGG-16: architecture, loading torchvision / LPIPS weights, a hand-computed distance, training. */
class PerceptualTest {
    static Kernel kernel;

    @TempDir
    Path tmp;

    @BeforeAll
    static void setUp() {
        kernel = Kernel.open();
    }

    @AfterAll
    static void tearDown() {
        kernel.close();
    }

    @Test
    void theNetworkIsTorchvisionsVgg16FeaturesPlusLpipsLinearLayers() {
        try (Perceptual p = Perceptual.create(kernel)) {
            // VGG-16 "D" conv layers: 3x3 kernels, channels 64,64 | 128,128 | 256 x3 | 512 x3 | 512 x3
            int[] ch = {3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512};
            long expected = 0;
            for (int i = 1; i < ch.length; i++) {
                expected += (long) ch[i - 1] * ch[i] * 9 + ch[i];
            }
            long lin = 64 + 128 + 256 + 512 + 512;
            assertThat(expected).isEqualTo(14_714_688L);  // torchvision's vgg16().features, as published
            assertThat(p.parameterCount()).isEqualTo(expected + lin);
            List<String> names = p.parameters().stream().map(SliceAutoencoder.Parameter::name).toList();
            assertThat(names).contains("features.0.weight", "features.28.bias", "lin0.model.1.weight",
                    "lin4.model.1.weight").doesNotContain("features.30.weight");
            assertThat(p.parameters().stream().filter(q -> q.name().equals("features.10.weight")).findFirst()
                    .orElseThrow().shape()).containsExactly(256, 128, 3, 3);
            assertThat(p.parameter("lin2.model.1.weight")).hasSize(256).containsOnly(1f);  // baseline weights
        }
    }

    @Test
    void distancesAreZeroForEqualImagesSymmetricAndPositiveOtherwise() {
        try (Perceptual p = Perceptual.create(kernel)) {
            int n = 2;
            int s = 24;
            float[] a = image(n, 1, s, (i, y, x) -> (float) Math.sin(0.3 * x + i) * 0.8f);
            float[] b = image(n, 1, s, (i, y, x) -> (float) Math.cos(0.2 * y - i) * 0.7f);
            double[] same = p.distance(a, a, n, 1, s, s);
            double[] ab = p.distance(a, b, n, 1, s, s);
            double[] ba = p.distance(b, a, n, 1, s, s);
            assertThat(same).containsOnly(0.0);
            assertThat(ab[0]).isPositive();
            assertThat(ab[1]).isPositive();
            assertThat(ab).containsExactly(ba, within(1e-9));
            // one channel is the same as three equal channels
            float[] a3 = image(n, 3, s, (i, y, x) -> (float) Math.sin(0.3 * x + i) * 0.8f);
            float[] b3 = image(n, 3, s, (i, y, x) -> (float) Math.cos(0.2 * y - i) * 0.7f);
            assertThat(p.distance(a3, b3, n, 3, s, s)).containsExactly(ab, within(1e-6));
            assertThatThrownBy(() -> p.distance(a, b, n, 1, s, s + 1)).isInstanceOf(IllegalArgumentException.class);
            float[] small = new float[8 * 8];
            assertThatThrownBy(() -> p.distance(small, small, 1, 1, 8, 8)).hasMessageContaining("16 x 16");
        }
    }

    /**
     * Weights built so that LPIPS can be worked out by hand: relu1_2 = [relu(s), relu(−s), 0, …] with s the
     * scaled first channel (x + 0.030) / 0.458, only lin0 non-zero (weights 1). Normalised over channels a pixel
     * is e0 when s &gt; 0 and e1 when s &lt; 0, so a pixel whose sign differs adds |e0 − e1|² = 2, and LPIPS = 2 ×
     * the fraction of such pixels.
     */
    @Test
    void aHandBuiltNetworkGivesTheHandComputedDistanceAfterLoadingTorchvisionAndLpipsFiles() throws IOException {
        Path vgg = tmp.resolve("vgg16.safetensors");
        Path lin = tmp.resolve("vgg.pth");
        try (Perceptual p = Perceptual.create(kernel)) {
            List<SafeTensors.FloatTensor> features = new ArrayList<>();
            List<SafeTensors.FloatTensor> linear = new ArrayList<>();
            for (SliceAutoencoder.Parameter q : p.parameters()) {
                float[] v = new float[(int) q.numel()];
                switch (q.name()) {
                    case "features.0.weight" -> {  // [64, 3, 3, 3]: out 0 = +in 0, out 1 = −in 0 (centre taps)
                        v[(0 * 3 + 0) * 9 + 4] = 1f;
                        v[(1 * 3 + 0) * 9 + 4] = -1f;
                    }
                    case "features.2.weight" -> {  // [64, 64, 3, 3]: identity on channels 0 and 1
                        v[(0 * 64 + 0) * 9 + 4] = 1f;
                        v[(1 * 64 + 1) * 9 + 4] = 1f;
                    }
                    case "lin0.model.1.weight" -> Arrays.fill(v, 1f);
                    default -> {
                    }
                }
                // torchvision keys under a "module." prefix, as saved from DataParallel
                (q.name().startsWith("lin") ? linear : features).add(new SafeTensors.FloatTensor(
                        q.name().startsWith("lin") ? q.name() : "module." + q.name(), q.shape(), v));
            }
            features.add(new SafeTensors.FloatTensor("classifier.6.bias", new long[] {1000}, new float[1000]));
            SafeTensors.writeF32(vgg, features, Map.of("format", "pt"));
            TorchZipWriter.write(lin, linear);  // PyTorch zip, as LPIPS ships vgg.pth
        }
        try (Perceptual p = Perceptual.load(vgg, lin, kernel)) {
            assertThat(p.toString()).contains("vgg16.safetensors").contains("vgg.pth");
            int s = 16;
            float[] bright = image(1, 1, s, (i, y, x) -> 0.5f);
            float[] half = image(1, 1, s, (i, y, x) -> x < 4 ? -0.5f : 0.5f);  // a quarter of the pixels negative
            float[] justAbove = image(1, 1, s, (i, y, x) -> -0.02f);  // s > 0: above LPIPS's shift of -0.030
            float[] justBelow = image(1, 1, s, (i, y, x) -> -0.04f);
            assertThat(p.distance(bright, half, 1, 1, s, s)[0]).isCloseTo(0.5, within(1e-5));
            assertThat(p.distance(bright, justAbove, 1, 1, s, s)[0]).isCloseTo(0.0, within(1e-6));
            assertThat(p.distance(bright, justBelow, 1, 1, s, s)[0]).isCloseTo(2.0, within(1e-5));
        }
    }

    @Test
    void badWeightFilesNameTheFileAndTheProblem() throws IOException {
        Path vgg = tmp.resolve("vgg16.safetensors");
        Path lin = tmp.resolve("lin.safetensors");
        try (Perceptual p = Perceptual.create(kernel)) {
            p.save(vgg, false);
            p.save(lin, true);
        }
        Path partial = tmp.resolve("partial.safetensors");
        SafeTensors.writeF32(partial, List.of(new SafeTensors.FloatTensor("features.0.weight", new long[] {64, 3, 3, 3},
                new float[64 * 27])), Map.of());
        assertThatThrownBy(() -> Perceptual.load(partial, null, kernel)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("partial.safetensors").hasMessageContaining("missing keys")
                .hasMessageContaining("missing keys (25)").hasMessageContaining("features.0.bias");
        Path none = tmp.resolve("none.safetensors");
        SafeTensors.writeF32(none, List.of(new SafeTensors.FloatTensor("fc.weight", new long[] {2}, new float[2])),
                Map.of());
        assertThatThrownBy(() -> Perceptual.load(none, null, kernel)).hasMessageContaining("none.safetensors")
                .hasMessageContaining("vgg16");
        Path negative = tmp.resolve("negative.safetensors");
        List<SafeTensors.FloatTensor> lins = new ArrayList<>();
        int[] widths = {64, 128, 256, 512, 512};
        for (int k = 0; k < 5; k++) {
            float[] w = new float[widths[k]];
            Arrays.fill(w, 0.1f);
            if (k == 2) {
                w[3] = -1f;
            }
            lins.add(new SafeTensors.FloatTensor("lin" + k + ".model.1.weight", new long[] {1, widths[k], 1, 1}, w));
        }
        SafeTensors.writeF32(negative, lins, Map.of());
        assertThatThrownBy(() -> Perceptual.load(vgg, negative, kernel)).hasMessageContaining("negative.safetensors")
                .hasMessageContaining("lin2.model.1.weight").hasMessageContaining("non-negative");
        try (Perceptual ok = Perceptual.load(vgg, lin, kernel)) {
            assertThat(ok.parameterCount()).isEqualTo(14_714_688L + 1472);
        }
    }

    @Test
    void theTrainerAddsTheWeightedDistanceToTheObjective() {
        VqConfig c = new VqConfig(32, 1, 1, 16, 8, 1, 4, 32, false, true, List.of(1, 1), List.of(), 0.0);
        int n = 2;
        int s = 16;
        float[] x = image(n, 1, s, (i, y, xx) -> (float) (0.5 + 0.3 * Math.sin(0.5 * xx + y * 0.2 + i)));
        Trainer.manualSeed(3);
        try (SliceAutoencoder ae = SliceAutoencoder.create(c, kernel); Perceptual p = Perceptual.create(kernel);
                Trainer t = Trainer.forAutoencoder(ae, SliceWrapper.plain(), Trainer.Options.defaults())) {
            Trainer.Stats plain = t.stepAutoencoder(x, n, s, s);
            assertThat(plain.perceptual()).isZero();
            t.setPerceptual(p, 0.5);
            Trainer.Stats st = t.stepAutoencoder(x, n, s, s);
            assertThat(st.perceptual()).isPositive();
            assertThat(st.loss()).isCloseTo(st.reconstruction() + st.codebook() + 0.5 * st.perceptual(),
                    within(1e-5));
            t.setPerceptual(null, 0);
            assertThat(t.stepAutoencoder(x, n, s, s).perceptual()).isZero();
            assertThatThrownBy(() -> t.setPerceptual(p, -1)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    interface Pixel {
        float at(int image, int y, int x);
    }

    static float[] image(int n, int channels, int size, Pixel f) {
        float[] v = new float[n * channels * size * size];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < channels; c++) {
                for (int y = 0; y < size; y++) {
                    for (int x = 0; x < size; x++) {
                        v[((i * channels + c) * size + y) * size + x] = f.at(i, y, x);
                    }
                }
            }
        }
        return v;
    }
}
