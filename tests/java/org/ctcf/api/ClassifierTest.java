package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;
import org.ctcf.core.CtcfException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.ctcf.io.checkpoint.Checkpoint;
import org.ctcf.io.checkpoint.ModelFormatException;
import org.ctcf.SharedKernel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The paper's two classifiers proved by construction (names, shapes and parameter counts computed here from the
 * published architecture, forward shapes, save/load round trips in PyTorch-zip and safetensors form), and
 * classifier cards.
 */
class ClassifierTest {
    @RegisterExtension
    static final SharedKernel KERNEL = new SharedKernel();

    @TempDir
    Path tmp;


    // ---- counts from the architecture descriptions ----------------------------------------------------------

    static long conv(long in, long out, long k) {
        return out * in * k * k + out;
    }

    static long bn(long c) {
        return 2 * c + 2 * c + 1; // weight, bias + running_mean, running_var, num_batches_tracked
    }

    static long convBlock(long in, long out) {
        return conv(in, out, 1) + bn(out) + conv(in, out, 3) + bn(out) + conv(out, out, 3) + bn(out);
    }

    static long upBlock(long in, long out) {
        return conv(in, out, 1) + bn(out) + conv(in, out, 1) + convBlock(in, out);
    }

    static long lungmaskCount(int classes) {
        long n = 0;
        long[] c = {1, 64, 128, 256, 512, 1024};
        for (int i = 0; i < 5; i++) {
            n += convBlock(c[i], c[i + 1]);
        }
        for (int i = 5; i > 1; i--) {
            n += upBlock(c[i], c[i - 1]);
        }
        return n + conv(64, classes, 1);
    }

    static long merlinCount(int classes) {
        long n = 64L * 3 * 3 * 7 * 7 + bn(64);
        int[] blocks = {3, 8, 36, 3};
        long[] widths = {64, 128, 256, 512};
        long in = 64;
        for (int l = 0; l < 4; l++) {
            long w = widths[l];
            for (int b = 0; b < blocks[l]; b++) {
                n += w * in + bn(w) + w * w * 27 + bn(w) + 4 * w * w + bn(4 * w);
                if (b == 0) {
                    n += 4 * w * in + bn(4 * w);
                }
                in = 4 * w;
            }
        }
        return n + (long) classes * 2048 + classes + 512L * 2048 + 512;
    }

    static Map<String, long[]> shapes(Classifier c) {
        Map<String, long[]> m = new HashMap<>();
        for (SliceAutoencoder.Parameter p : c.parameters()) {
            m.put(p.name(), p.shape());
        }
        return m;
    }

    static Volume randomVolume(int nx, int ny, int nz, long seed) {
        Volume v = Volume.allocate(Geometry.of(nx, ny, nz, 1.5, 1.5, 3, 0, 0, 0));
        Random r = new Random(seed);
        for (int z = 0; z < nz; z++) {
            for (int y = 0; y < ny; y++) {
                for (int x = 0; x < nx; x++) {
                    v.set(x, y, z, r.nextFloat());
                }
            }
        }
        return v;
    }

    // ---- lungmask U-Net --------------------------------------------------------------------------------------

    @Test
    void lungmaskUNetHasThePublishedKeysShapesAndParameterCount() {
        try (Classifier c = Classifier.builtin("lungmask-unet", 3, Classifier.Layout.BCHWD, 0, KERNEL.get())) {
            Map<String, long[]> s = shapes(c);
            assertThat(s).hasSize(227);
            assertThat(s.keySet().stream().filter(k -> k.endsWith("num_batches_tracked")).count()).isEqualTo(31);
            assertThat(s.get("down_path.0.block.0.weight")).containsExactly(64, 1, 3, 3);
            assertThat(s.get("down_path.4.block.3.weight")).containsExactly(1024, 1024, 3, 3);
            assertThat(s.get("down_path.2.residual_input_conv.weight")).containsExactly(256, 128, 1, 1);
            assertThat(s.get("down_path.1.block.2.running_mean")).containsExactly(128);
            assertThat(s.get("up_path.0.up.1.weight")).containsExactly(512, 1024, 1, 1);
            assertThat(s.get("up_path.0.conv_block.block.0.weight")).containsExactly(512, 1024, 3, 3);
            assertThat(s.get("up_path.3.conv_block.block.5.running_var")).containsExactly(64);
            assertThat(s.get("last.weight")).containsExactly(3, 64, 1, 1);
            assertThat(s).doesNotContainKey("up_path.0.up.0.weight");
            assertThat(c.parameterCount()).isEqualTo(lungmaskCount(3));
        }
    }

    @Test
    void lungmaskRunsPerSliceWithLogSoftmaxAndTheCtCounterfactualsLungSizeScore() {
        try (Classifier c = Classifier.builtin("lungmask-unet", 3, Classifier.Layout.BCHWD, 0, KERNEL.get());
                Volume v = randomVolume(32, 32, 3, 1)) {
            Classifier.Outputs out = c.outputs(v);
            assertThat(out.shape()).containsExactly(1, 3, 32, 32, 3); // [B, classes, H=x, W=y, D]
            float[] o = out.values();
            int voxels = 32 * 32 * 3;
            double sumNoLung = 0;
            for (int i = 0; i < voxels; i++) {
                double total = Math.exp(o[i]) + Math.exp(o[voxels + i]) + Math.exp(o[2 * voxels + i]);
                assertThat(total).isCloseTo(1.0, within(1e-4));
                sumNoLung += 1 / (1 + Math.exp(-o[i])); // sigmoid(log_softmax), channel 0
            }
            Target lungSize = new Target(0, Target.Activation.SIGMOID, Target.Reducer.ONE_MINUS_MEAN, 0, false);
            assertThat(c.score(v, lungSize)).isCloseTo(1 - sumNoLung / voxels, within(1e-5));
        }
    }

    @Test
    void lungmaskLoadsItsOwnSavedWeightsInBothFormats() throws IOException {
        Path zip = tmp.resolve("unet_r231.pth");
        Path st = tmp.resolve("unet_r231.safetensors");
        try (Classifier c = Classifier.builtin("lungmask-unet", 3, Classifier.Layout.BCHWD, 0, KERNEL.get());
                Volume v = randomVolume(32, 32, 2, 2)) {
            c.saveTorch(zip, "");
            c.saveSafetensors(st, "");
            float[] expected = c.outputs(v).values();
            for (Path weights : List.of(zip, st)) {
                try (Classifier d = Classifier.builtin("lungmask-unet", 3, Classifier.Layout.BCHWD, 0, KERNEL.get())) {
                    assertThat(d.outputs(v).values()).isNotEqualTo(expected); // different random weights
                    d.loadWeights(weights, "auto");
                    assertThat(d.outputs(v).values()).as("%s", weights.getFileName()).containsExactly(expected);
                }
            }
        }
        try (Checkpoint ck = Checkpoint.open(zip)) {
            assertThat(ck.format()).isEqualTo(Checkpoint.Format.TORCH_ZIP);
            assertThat(ck.tensors()).hasSize(227);
        }
    }

    // ---- Merlin I3ResNet-152 ---------------------------------------------------------------------------------

    @Test
    void merlinI3ResNetHasThePublishedKeysShapesAndParameterCountAndLoadsItsOwnWeights() throws IOException {
        Path zip = tmp.resolve("merlin.pt");
        Path st = tmp.resolve("merlin.safetensors");
        float[] expected;
        try (Classifier c = Classifier.builtin("i3resnet152", 1692, Classifier.Layout.BCHWD, 0, KERNEL.get());
                Volume v = randomVolume(32, 32, 8, 3)) {
            Map<String, long[]> s = shapes(c);
            assertThat(s).hasSize(934);
            assertThat(s.keySet().stream().filter(k -> k.endsWith("num_batches_tracked")).count()).isEqualTo(155);
            assertThat(s.get("conv1.weight")).containsExactly(64, 3, 3, 7, 7);
            assertThat(s.get("layer1.0.conv1.weight")).containsExactly(64, 64, 1, 1, 1);
            assertThat(s.get("layer1.0.downsample.0.weight")).containsExactly(256, 64, 1, 1, 1);
            assertThat(s.get("layer2.0.conv1.weight")).containsExactly(128, 256, 1, 1, 1);
            assertThat(s.get("layer3.35.conv2.weight")).containsExactly(256, 256, 3, 3, 3);
            assertThat(s.get("layer4.2.conv3.weight")).containsExactly(2048, 512, 1, 1, 1);
            assertThat(s.get("classifier.weight")).containsExactly(1692, 2048, 1, 1, 1);
            assertThat(s.get("classifier.bias")).containsExactly(1692);
            assertThat(s.get("contrastive_head.weight")).containsExactly(512, 2048, 1, 1, 1);
            assertThat(s).doesNotContainKeys("fc.weight", "conv1.bias", "layer1.1.downsample.0.weight");
            assertThat(c.parameterCount()).isEqualTo(merlinCount(1692));

            Classifier.Outputs out = c.outputs(v);
            assertThat(out.shape()).containsExactly(1, 1692);
            expected = out.values();
            // Merlin's full checkpoint prefix in the zip form, the bare keys in safetensors.
            c.saveTorch(zip, "encode_image.i3_resnet.");
            c.saveSafetensors(st, "");
        }
        for (Path weights : List.of(zip, st)) {
            try (Classifier d = Classifier.builtin("i3resnet152", 1692, Classifier.Layout.BCHWD, 0, KERNEL.get());
                    Volume v = randomVolume(32, 32, 8, 3)) {
                d.loadWeights(weights, "auto");
                assertThat(d.outputs(v).values()).as("%s", weights.getFileName()).containsExactly(expected);
            }
        }
    }

    @Test
    void bothArchitecturesRunOnAPreprocessedRealCt() throws IOException {
        try (Volume ct = org.ctcf.io.VolumeIO.read(org.ctcf.TestPaths.sample());
                Volume x = KERNEL.get().preprocess(ct, PreprocessOptions.reference());
                Classifier merlin = Classifier.builtin("i3resnet152", 1692, Classifier.Layout.BCHWD, 0, KERNEL.get());
                Classifier unet = Classifier.builtin("lungmask-unet", 3, Classifier.Layout.BCHWD, 0, KERNEL.get())) {
            assertThat(x.geometry().dims()).containsExactly(224, 224, 105);
            merlin.setInputSize(64, 64); // keeps the 3-D ResNet-152 quick on two CPU cores
            Classifier.Outputs out = merlin.outputs(x);
            assertThat(out.shape()).containsExactly(1, 1692);
            for (float v : out.values()) {
                assertThat(Float.isFinite(v)).isTrue();
            }
            double effusion = merlin.score(x, Target.sigmoidOf(877));
            assertThat(effusion).isBetween(0.0, 1.0);
            unet.setInputSize(32, 32);
            double lungSize = unet.score(x, new Target(0, Target.Activation.SIGMOID, Target.Reducer.ONE_MINUS_MEAN,
                    0, false));
            assertThat(lungSize).isBetween(0.0, 1.0);
        }
    }

    // ---- cards -----------------------------------------------------------------------------------------------

    Path card(String json) throws IOException {
        Path p = tmp.resolve("card.json");
        Files.writeString(p, json);
        return p;
    }

    @Test
    void aTorchScriptCardRunsWithTargetsByNameAndIndex() throws IOException {
        try (Classifier c = Classifier.define("def forward(self, x):\n    m = x.mean(dim=[1, 2, 3, 4])\n"
                + "    return torch.stack([m * 2.0, m - 1.0, m * m], dim=1)\n", Classifier.Layout.BCDHW, 0, KERNEL.get())) {
            c.save(tmp.resolve("three.pt"));
        }
        Path cardFile = card("""
                {"name": "three", "model": {"torchscript": "three.pt"},
                 "input": {"layout": "BCDHW"},
                 "preprocessing": {"spacing": [1.5, 1.5, 3], "window": [-1000, 1000], "size": [32, 32]},
                 "output": {"kind": "logits", "classes": ["double", "minus one", "square"]},
                 "score": {"target": "minus one", "activation": "none", "offset": 0.5}}
                """);
        try (Classifier c = Classifier.load(cardFile, KERNEL.get()); Volume v = randomVolume(32, 32, 4, 4)) {
            double m = 0;
            for (int z = 0; z < 4; z++) {
                for (int y = 0; y < 32; y++) {
                    for (int x = 0; x < 32; x++) {
                        m += v.get(x, y, z);
                    }
                }
            }
            m /= 32 * 32 * 4;
            assertThat(c.card().classes()).containsExactly("double", "minus one", "square");
            assertThat(c.score(v, c.target(null))).isCloseTo(m - 1 + 0.5, within(1e-5));
            assertThat(c.score(v, c.target("square"))).isCloseTo(m * m + 0.5, within(1e-5));
            assertThat(c.score(v, c.target("0"))).isCloseTo(2 * m + 0.5, within(1e-5));
            assertThatThrownBy(() -> c.target("cube")).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining("card.json").hasMessageContaining("target 'cube'")
                    .hasMessageContaining("double, minus one, square");
            assertThatThrownBy(() -> c.target("7")).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining("outside the 3 outputs");
        }
    }

    @Test
    void theShippedMerlinCardNamesAll1692PhenotypesWithPleuralEffusionAt877() throws IOException {
        // The card wants Merlin's weights next to it (not shipped); an empty stand-in file satisfies the card's
        // check that the file exists, which is all reading the card needs.
        Path dir = tmp.resolve("merlin");
        Files.createDirectories(dir);
        Path shipped = Path.of("models", "merlin");
        for (String f : List.of("merlin-pleural-effusion.json", "phenotypes.txt")) {
            Files.copy(shipped.resolve(f), dir.resolve(f));
        }
        assertThatThrownBy(() -> ClassifierCard.read(dir.resolve("merlin-pleural-effusion.json")))
                .hasMessageContaining("i3_resnet_best_clip_04-02-2024_23-21-36_epoch_99.pt, which is not there")
                .hasMessageContaining("put that file in " + dir.toAbsolutePath().normalize())
                .hasMessageContaining("published: ct-counterfactuals release");
        Files.createFile(dir.resolve("i3_resnet_best_clip_04-02-2024_23-21-36_epoch_99.pt"));
        ClassifierCard card = ClassifierCard.read(dir.resolve("merlin-pleural-effusion.json"));
        assertThat(card.architecture()).isEqualTo("i3resnet152");
        assertThat(card.classes()).hasSize(1692).doesNotHaveDuplicates();
        assertThat(card.outputCount()).isEqualTo(1692);
        assertThat(card.classIndex(card.score().target())).isEqualTo(877);
        assertThat(card.classes().get(877)).isEqualTo("Pleurisy; pleural effusion");
        assertThat(card.layout()).isEqualTo(Classifier.Layout.BCHWD);
        assertThat(card.orientation()).isEqualTo(Classifier.Orientation.RAS);
        assertThat(card.score().offset()).isEqualTo(0.4);
    }

    @Test
    void theKernelsLabelMapThresholdsOneChannelAndReadsSmallerMapsNearestNeighbour() {
        Random r = new Random(7);
        int nx = 10;
        int ny = 8;
        int nz = 6;
        float[] vals = new float[nx * ny * nz];
        for (int i = 0; i < vals.length; i++) {
            vals[i] = r.nextFloat();
        }
        try (Volume v = Volume.of(Geometry.of(nx, ny, nz, 1, 1, 1, 0, 0, 0), vals);
                // one channel, pooled to [3, 4, 5]: a foreground logit per map voxel
                Classifier one = Classifier.define("def forward(self, x):\n"
                        + "    return torch.avg_pool3d(x, [2, 2, 2]) - 0.5\n", Classifier.Layout.BCDHW, 0, KERNEL.get());
                // three channels at full size: the largest wins (the first of equals)
                Classifier three = Classifier.define("def forward(self, x):\n"
                        + "    return torch.cat([x, 1.0 - x, torch.full_like(x, 0.7)], 1)\n",
                        Classifier.Layout.BCDHW, 0, KERNEL.get());
                Volume l1 = one.segmentation(v); Volume l3 = three.segmentation(v)) {
            Classifier.Outputs o = one.outputs(v);
            assertThat(o.shape()).containsExactly(1, 1, 3, 4, 5);
            float[] map = o.values();
            int on = 0;
            for (int z = 0; z < nz; z++) {
                for (int y = 0; y < ny; y++) {
                    for (int x = 0; x < nx; x++) {
                        int m = ((z * 3 / nz) * 4 + y * 4 / ny) * 5 + x * 5 / nx;
                        float expected = map[m] >= 0 ? 1f : 0f;
                        assertThat(l1.get(x, y, z)).as("one channel at %d %d %d", x, y, z).isEqualTo(expected);
                        on += (int) expected;
                        float a = v.get(x, y, z);
                        float best = a >= 1 - a ? (a >= 0.7f ? 0 : 2) : (1 - a >= 0.7f ? 1 : 2);  // first max
                        assertThat(l3.get(x, y, z)).isEqualTo(best);
                    }
                }
            }
            assertThat(on).as("both labels occur").isBetween(1, nx * ny * nz - 1);
        }
    }

    @Test
    void badCardsAreReportedWithTheCardAndTheProblem() throws IOException {
        assertThatThrownBy(() -> ClassifierCard.read(card("{\"model\": {\"torchscript\": \"none.pt\"}, "
                + "\"output\": {\"count\": 1}, \"score\": {\"target\": \"0\"}}")))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("card.json")
                .hasMessageContaining("none.pt, which is not there");
        assertThatThrownBy(() -> ClassifierCard.read(card("{\"model\": {}, \"output\": {\"count\": 1}, "
                + "\"score\": {\"target\": \"0\"}}"))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("exactly one of");
        Files.writeString(tmp.resolve("w.safetensors"), "x");
        assertThatThrownBy(() -> ClassifierCard.read(card("{\"model\": {\"architecture\": \"lungmask-unet\", "
                + "\"weights\": \"w.safetensors\"}, \"output\": {\"kind\": \"segmentation\", \"count\": 3}, "
                + "\"score\": {\"target\": \"0\"}}"))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("needs score.reducer");
        assertThatThrownBy(() -> ClassifierCard.read(card("{\"model\": {\"architecture\": \"resnet-9000\", "
                + "\"weights\": \"w.safetensors\"}, \"output\": {\"count\": 2}, \"score\": {\"target\": \"0\", "
                + "\"activation\": \"tanh\"}}"))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("unknown activation 'tanh'");
        assertThatThrownBy(() -> ClassifierCard.read(card("{not json")))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("not valid JSON");
        Path unknownArch = card("{\"model\": {\"architecture\": \"resnet-9000\", \"weights\": \"w.safetensors\"}, "
                + "\"output\": {\"count\": 2}, \"score\": {\"target\": \"0\"}}");
        assertThatThrownBy(() -> Classifier.load(unknownArch, KERNEL.get())).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("unknown architecture 'resnet-9000'");
    }

    @Test
    void weightsThatDoNotFitTheArchitectureAreReportedByKey() throws IOException {
        Path st = tmp.resolve("unet2.safetensors");
        try (Classifier c = Classifier.builtin("lungmask-unet", 2, Classifier.Layout.BCHWD, 0, KERNEL.get())) {
            c.saveSafetensors(st, "");
        }
        try (Classifier d = Classifier.builtin("lungmask-unet", 3, Classifier.Layout.BCHWD, 0, KERNEL.get())) {
            assertThatThrownBy(() -> d.loadWeights(st, "auto")).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining("unet2.safetensors")
                    .hasMessageContaining("last.weight: checkpoint [2, 64, 1, 1] vs model [3, 64, 1, 1]");
        }
    }

    @Test
    void aFixedDepthModelRejectsOtherDepthsClearly() throws IOException {
        try (Classifier c = Classifier.define("def forward(self, x):\n    return x.mean(dim=[1, 2, 3, 4]).unsqueeze(1)\n",
                Classifier.Layout.BCDHW, 0, KERNEL.get())) {
            c.save(tmp.resolve("d.pt"));
        }
        Path cardFile = card("{\"model\": {\"torchscript\": \"d.pt\"}, \"input\": {\"depth\": \"16\"}, "
                + "\"output\": {\"count\": 1}, \"score\": {\"target\": \"0\"}}");
        try (Classifier c = Classifier.load(cardFile, KERNEL.get()); Volume v = randomVolume(8, 8, 5, 1)) {
            assertThatThrownBy(() -> c.score(v, c.target(null)))
                    .isInstanceOf(CtcfException.InvalidArgumentException.class)
                    .hasMessageContaining("card.json").hasMessageContaining("exactly 16 slices")
                    .hasMessageContaining("has 5");
        }
    }
}
