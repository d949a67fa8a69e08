package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import org.ctcf.SharedKernel;
import org.ctcf.TestPaths;
import org.ctcf.io.checkpoint.ModelFormatException;
import org.ctcf.io.checkpoint.WeightFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The paper's three models as cards (weights not shipped): what a user sees without the weights, the hash check of
 * torch.hub-style names, and with stand-in weights of the right architecture, that each card loads with the
 * reference-compatible wrapper, orientation and score.
 */
class PaperCardsTest {
    private static final Path PAPER = TestPaths.root().resolve("models/paper");
    @RegisterExtension
    static final SharedKernel KERNEL = new SharedKernel();

    @TempDir
    Path tmp;


    @Test
    void withoutTheirWeightsTheCardsSayWhichFileGoesWhereAndWhereItIsPublished() {
        assertThatThrownBy(() -> AutoencoderCard.read(PAPER.resolve("ct2-vqgan256.json")))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("2023-12-25T10-26-40_ct2_vqgan256_sddd.ckpt, which is not there")
                .hasMessageContaining("put that file in " + PAPER.toAbsolutePath().normalize())
                .hasMessageContaining("ct-counterfactuals release 'init'");
        assertThatThrownBy(() -> ClassifierCard.read(PAPER.resolve("lungmask-r231-lung-size.json")))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("unet_r231-d5d2fc3d.pth, which is not there")
                .hasMessageContaining("lungmask release v0.0");
    }

    @Test
    void theModelsListHasThePapersCardsTheirMissingWeightsAndTheBuiltins() throws IOException {
        List<Models.Entry> all = Models.list(TestPaths.root().resolve("models"));
        assertThat(all).extracting(e -> e.card().getFileName().toString()).contains("autoencoder.json",
                "nodule-detector.json", "lung-size.json", "ct2-vqgan256.json", "lungmask-r231-lung-size.json",
                "merlin-pleural-effusion.json");
        for (Models.Entry e : all) {
            boolean paper = e.card().toString().contains("paper") || e.card().toString().contains("merlin");
            assertThat(e.weightsPresent()).as(e.card().toString()).isEqualTo(!paper);
            if (paper) {
                assertThat(e.published()).as(e.card().toString()).isNotBlank();
            }
        }
        assertThat(Models.BUILTINS).extracting(Models.Builtin::name).contains("lungmask-unet", "i3resnet152",
                "ctcf-nodule3d", "ctcf-lungseg", "taming-vqgan");
    }

    @Test
    void aHashNamedWeightFileMustStartWithThatSha256() throws IOException {
        Path bad = tmp.resolve("unet_r231-d5d2fc3d.pth");
        Files.writeString(bad, "not the weights");
        assertThatThrownBy(() -> WeightFiles.checkHashPrefix(bad)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(bad.toString()).hasMessageContaining("SHA-256 starting with d5d2fc3d")
                .hasMessageContaining(WeightFiles.sha256(bad));
        String sha = WeightFiles.sha256(bad);
        Path good = tmp.resolve("weights-" + sha.substring(0, 10) + ".pth");
        Files.copy(bad, good);
        WeightFiles.checkHashPrefix(good);
        // through the card: the lungmask card with a file of that name but other bytes
        Files.copy(PAPER.resolve("lungmask-r231-lung-size.json"), tmp.resolve("lungmask-r231-lung-size.json"));
        assertThatThrownBy(() -> ClassifierCard.read(tmp.resolve("lungmask-r231-lung-size.json")))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("unet_r231-d5d2fc3d.pth")
                .hasMessageContaining("SHA-256 starting with d5d2fc3d");
        assertThat(WeightFiles.hashPrefix(tmp.resolve("model-v2.pth"))).isEmpty();
        assertThat(WeightFiles.hashPrefix(tmp.resolve("2023-12-25T10-26-40_ct2_vqgan256_sddd.ckpt"))).isEmpty();
    }

    /** The card copied into tmp with its weights' name replaced (the tests' weights have their own hash). */
    private Path cardWithWeights(Path card, String oldName, String newName) throws IOException {
        Path copy = tmp.resolve(card.getFileName());
        Files.writeString(copy, Files.readString(card).replace(oldName, newName));
        return copy;
    }

    @Test
    void theLungmaskCardSeesTheDisplayOrientationAndScoresOneMinusTheMeanNoLungSigmoid() throws IOException {
        Path w = tmp.resolve("stand-in.pth");
        try (Classifier unet = Classifier.builtin("lungmask-unet", 3, Classifier.Layout.BCHWD, 0, KERNEL.get())) {
            unet.saveTorch(w, "");
        }
        String name = "unet_r231-" + WeightFiles.sha256(w).substring(0, 8) + ".pth";
        Files.move(w, tmp.resolve(name));
        Path card = cardWithWeights(PAPER.resolve("lungmask-r231-lung-size.json"), "unet_r231-d5d2fc3d.pth", name);
        Random r = new Random(4);
        try (Classifier c = Classifier.load(card, KERNEL.get());
                // the display view of a slice is the [y][x] slice of the volume flipped in x and y: what a BCDHW
                // model sees of the flipped volume
                Classifier ras = Classifier.builtin("lungmask-unet", 3, Classifier.Layout.BCDHW, 0, KERNEL.get());
                Volume v = Volume.allocate(Geometry.of(32, 32, 3, 1.5, 1.5, 3, 0, 0, 0));
                Volume flipped = Volume.allocate(v.geometry())) {
            ras.loadWeights(tmp.resolve(name), "");
            assertThat(c.card().orientation()).isEqualTo(Classifier.Orientation.DISPLAY);
            for (int z = 0; z < 3; z++) {
                for (int y = 0; y < 32; y++) {
                    for (int x = 0; x < 32; x++) {
                        float val = (float) ((x < 12 ? x / 12.0 : 0.1) * (y > 20 ? 1.0 : 0.3) + 0.05 * r.nextDouble());
                        v.set(x, y, z, val);
                        flipped.set(31 - x, 31 - y, z, val);  // the display view: both in-plane axes reversed
                    }
                }
            }
            Target t = c.target(c.card().score().target());
            double score = c.score(v, t);
            // the card's model sees display slices: the same as the RAS-oriented model on the flipped volume
            // (displayOrientationShowsTheModelTheRadiologicalViewAndTurnsItsMapsBack checks that the flip matters)
            assertThat(score).isCloseTo(ras.score(flipped, t), within(1e-6));
            // 1 - mean(sigmoid(log_softmax)[no lung]): log-probabilities <= 0 give sigmoid <= 0.5, so >= 0.5
            Classifier.Outputs o = ras.outputs(flipped);
            double sum = 0;
            int n = o.values().length / 3;
            for (int i = 0; i < n; i++) {
                sum += 1 / (1 + Math.exp(-o.values()[i]));  // channel 0 comes first in [1, 3, Z, Y, X]
            }
            assertThat(score).isCloseTo(1 - sum / n, within(1e-4)).isBetween(0.5, 1.0);
            // its output maps come back in the volume's orientation: [1, 3, X, Y, Z] (the card's RAS model layout)
            // against the BCDHW model's [1, 3, Z, Y, X] maps of the flipped volume, flipped back
            Classifier.Outputs mine = c.outputs(v);
            double worst = 0;
            for (int ch = 0; ch < 3; ch++) {
                for (int x = 0; x < 32; x++) {
                    for (int y = 0; y < 32; y++) {
                        for (int z = 0; z < 3; z++) {
                            float a = mine.values()[((ch * 32 + x) * 32 + y) * 3 + z];
                            float b = o.values()[((ch * 3 + z) * 32 + (31 - y)) * 32 + (31 - x)];
                            worst = Math.max(worst, Math.abs(a - b));
                        }
                    }
                }
            }
            assertThat(worst).isLessThan(1e-4);
        }
    }

    @Test
    void displayOrientationShowsTheModelTheRadiologicalViewAndTurnsItsMapsBack() {
        // channel 1 = input x (its row index / rows): the model's rows are x in RAS, reversed y (A to P) on display
        String src = "def forward(self, x):\n    h = x.size(2)\n"
                + "    ramp = torch.arange(h, dtype=x.dtype).view(1, 1, h, 1, 1) / h\n"
                + "    return torch.cat([torch.full_like(x, 0.25), x * ramp], 1)\n";
        int nx = 12;
        int ny = 10;
        try (Classifier c = Classifier.define(src, Classifier.Layout.BCHWD, 0, KERNEL.get());
                Volume v = Volume.filled(Geometry.of(nx, ny, 2, 1.5, 1.5, 3, 0, 0, 0), 1f)) {
            v.set(1, 2, 0, 0.5f);
            for (Classifier.Orientation o : Classifier.Orientation.values()) {
                c.setOrientation(o);
                Classifier.Outputs out = c.outputs(v);
                assertThat(out.shape()).containsExactly(1, 2, nx, ny, 2);  // the RAS model layout either way
                try (Volume labels = c.segmentation(v)) {
                    for (int x = 0; x < nx; x++) {
                        for (int y = 0; y < ny; y++) {
                            for (int z = 0; z < 2; z++) {
                                double ramp = o == Classifier.Orientation.RAS ? x / (double) nx
                                        : (ny - 1 - y) / (double) ny;
                                double want = v.get(x, y, z) * ramp;
                                int at = ((nx + x) * ny + y) * 2 + z;  // channel 1, [x][y][z]
                                assertThat((double) out.values()[at]).as(o + " " + x + "," + y + "," + z)
                                        .isCloseTo(want, within(1e-6));
                                assertThat(labels.get(x, y, z)).isEqualTo(want > 0.25 ? 1f : 0f);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void theVqganCardLoadsALightningCheckpointWithItsYamlAndTheReferenceWrapper() throws IOException {
        String ckpt = "2023-12-25T10-26-40_ct2_vqgan256_sddd.ckpt";
        String yaml = "2023-12-25T10-26-40_ct2_vqgan256_sddd.yaml";
        Path card = tmp.resolve("ct2-vqgan256.json");
        Files.copy(PAPER.resolve("ct2-vqgan256.json"), card);
        assertThatThrownBy(() -> AutoencoderCard.read(card)).hasMessageContaining(ckpt + ", which is not there");
        Files.copy(TestPaths.vqgan("tiny_vqgan.ckpt"), tmp.resolve(ckpt));
        assertThatThrownBy(() -> AutoencoderCard.read(card)).hasMessageContaining("the config " + yaml
                + " is not there");
        Files.copy(TestPaths.vqgan("tiny_vqgan.yaml"), tmp.resolve(yaml));
        AutoencoderCard c = AutoencoderCard.read(card);
        assertThat(c.wrapper()).isEqualTo(SliceWrapper.reference());
        assertThat(c.wrapper().antialias()).isTrue();
        float[] slice = new float[16 * 16];
        for (int i = 0; i < slice.length; i++) {
            slice[i] = (float) Math.sin(i * 0.1);
        }
        float[] expected;
        try (SliceAutoencoder ae = SliceAutoencoder.load(c.weights(), VqConfig.read(c.configFile()), KERNEL.get());
                Latents z = ae.run(SliceAutoencoder.RawOp.ENCODE, slice, 1, 1, 16, 16)) {
            expected = z.read();
        }
        // the converted forms people share: a .ckpt holding only the model's keys, and bare safetensors
        for (String f : List.of("tiny_vqgan_converted.ckpt", "tiny_vqgan.safetensors")) {
            try (SliceAutoencoder ae = SliceAutoencoder.load(TestPaths.vqgan(f), VqConfig.read(c.configFile()),
                    KERNEL.get()); Latents z = ae.run(SliceAutoencoder.RawOp.ENCODE, slice, 1, 1, 16, 16)) {
                assertThat(SliceAutoencoderTest.relativeError(z.read(), expected)).as(f).isLessThanOrEqualTo(1e-3);
            }
        }
    }

    @Test
    void aCardsUnknownWrapperOptionIsAClearError() throws IOException {
        Path card = tmp.resolve("ae.json");
        Files.copy(TestPaths.vqgan("tiny_vqgan.safetensors"), tmp.resolve("w.safetensors"));
        Files.writeString(card, "{\"kind\": \"autoencoder\", \"weights\": \"w.safetensors\", \"slice_wrapper\": "
                + "{\"preset\": \"reference\", \"anti_alias\": true}}");
        assertThatThrownBy(() -> AutoencoderCard.read(card)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("ae.json").hasMessageContaining("unknown slice wrapper option 'anti_alias'");
        Files.writeString(card, "{\"kind\": \"autoencoder\", \"weights\": \"w.safetensors\", \"slice_wrapper\": "
                + "\"sideways\"}");
        assertThatThrownBy(() -> AutoencoderCard.read(card)).hasMessageContaining("unknown slice wrapper 'sideways'");
    }
}
