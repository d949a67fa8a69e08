package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;
import org.ctcf.core.CtcfException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.ctcf.SharedKernel;
import org.ctcf.TestPaths;
import org.ctcf.io.checkpoint.Checkpoint;
import org.ctcf.io.checkpoint.ModelFormatException;
import org.ctcf.io.checkpoint.TensorData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The kernel's VQModel against an independent implementation (tests/fixtures/generate_vqgan_fixtures.py, run
 * once with PyTorch; its outputs are committed), loaded from all three checkpoint formats.
 */
class SliceAutoencoderTest {
    static final String[] WEIGHTS = {"tiny_vqgan.ckpt", "tiny_vqgan_legacy.pth", "tiny_vqgan.safetensors"};
    @RegisterExtension
    static final SharedKernel KERNEL = new SharedKernel();

    @TempDir
    Path tmp;


    static VqConfig tinyConfig() throws IOException {
        return VqConfig.read(TestPaths.vqgan("tiny_vqgan.yaml"));
    }

    static float[] values(TensorData t) {
        float[] v = new float[(int) t.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) t.get(i);
        }
        return v;
    }

    /** max |a - b| / max |b|. */
    static double relativeError(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            num = Math.max(num, Math.abs(a[i] - b[i]));
            den = Math.max(den, Math.abs(b[i]));
        }
        return num / Math.max(den, 1e-30);
    }

    @Test
    void yamlConfigIsRead() throws IOException {
        VqConfig c = tinyConfig();
        assertThat(c.ch()).isEqualTo(32);
        assertThat(c.chMult()).containsExactly(1, 1);
        assertThat(c.attnResolutions()).containsExactly(8);
        assertThat(c.embedDim()).isEqualTo(8);
        assertThat(c.nEmbed()).isEqualTo(64);
        assertThat(c.inChannels()).isEqualTo(1);
        assertThat(c.doubleZ()).isFalse();
    }

    @Test
    void allThreeFormatsHoldIdenticalTensors() throws IOException {
        try (Checkpoint zip = Checkpoint.open(TestPaths.vqgan(WEIGHTS[0]));
                Checkpoint legacy = Checkpoint.open(TestPaths.vqgan(WEIGHTS[1]));
                Checkpoint st = Checkpoint.open(TestPaths.vqgan(WEIGHTS[2]))) {
            assertThat(zip.format()).isEqualTo(Checkpoint.Format.TORCH_ZIP);
            assertThat(legacy.format()).isEqualTo(Checkpoint.Format.TORCH_LEGACY);
            assertThat(st.format()).isEqualTo(Checkpoint.Format.SAFETENSORS);
            // The Lightning file also holds two loss.* keys.
            assertThat(zip.tensors().keySet()).contains("loss.logvar", "loss.discriminator.main.0.weight");
            assertThat(legacy.tensors().keySet()).isEqualTo(st.tensors().keySet());
            for (String key : legacy.tensors().keySet()) {
                float[] a = values(zip.tensors().get(key));
                assertThat(values(legacy.tensors().get(key))).as(key).containsExactly(a);
                assertThat(values(st.tensors().get(key))).as(key).containsExactly(a);
                assertThat(zip.tensors().get(key).shape()).isEqualTo(st.tensors().get(key).shape());
            }
            // The Lightning extras survive as data / inert placeholders, nothing executed.
            Map<?, ?> root = (Map<?, ?>) zip.root();
            assertThat(root.get("epoch")).isEqualTo(3L);
            assertThat(root.get("global_step")).isEqualTo(1000L);
            assertThat(root.get("optimizer_states")).isInstanceOf(List.class);
            Map<?, ?> callbacks = (Map<?, ?>) root.get("callbacks");
            assertThat(callbacks.keySet().iterator().next().toString()).contains("ModelCheckpoint");
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tiny_vqgan.ckpt", "tiny_vqgan_legacy.pth", "tiny_vqgan.safetensors"})
    void kernelReproducesTheReferenceOutputs(String weights) throws IOException {
        try (Checkpoint ref = Checkpoint.open(TestPaths.vqgan("tiny_vqgan_reference.safetensors"));
                SliceAutoencoder ae = SliceAutoencoder.load(TestPaths.vqgan(weights), tinyConfig(), KERNEL.get())) {
            float[] input = values(ref.tensors().get("input"));
            try (Latents h = ae.run(SliceAutoencoder.RawOp.ENCODE_CONTINUOUS, input, 2, 1, 16, 16);
                    Latents q = ae.run(SliceAutoencoder.RawOp.ENCODE, input, 2, 1, 16, 16);
                    Latents idx = ae.run(SliceAutoencoder.RawOp.INDICES, input, 2, 1, 16, 16)) {
                assertThat(h.shape()).containsExactly(2, 8, 8, 8);
                assertThat(relativeError(h.read(), values(ref.tensors().get("continuous")))).isLessThanOrEqualTo(1e-4);
                assertThat(relativeError(q.read(), values(ref.tensors().get("quantized")))).isLessThanOrEqualTo(1e-4);
                assertThat(idx.read()).containsExactly(values(ref.tensors().get("indices")));
            }
            float[] quantized = values(ref.tensors().get("quantized"));
            try (Latents rec = ae.run(SliceAutoencoder.RawOp.DECODE, quantized, 2, 8, 8, 8)) {
                assertThat(rec.shape()).containsExactly(2, 1, 16, 16);
                assertThat(relativeError(rec.read(), values(ref.tensors().get("reconstruction"))))
                        .isLessThanOrEqualTo(1e-4);
            }
        }
    }

    @Test
    void configInferredFromShapesBuildsTheSameModel() throws IOException {
        try (SliceAutoencoder a = SliceAutoencoder.load(TestPaths.vqgan(WEIGHTS[0]), tinyConfig(), KERNEL.get());
                SliceAutoencoder b = SliceAutoencoder.load(TestPaths.vqgan(WEIGHTS[1]), null, KERNEL.get())) {
            assertThat(b.config().chMult()).isEqualTo(a.config().chMult());
            assertThat(b.config().numResBlocks()).isEqualTo(1);
            List<SliceAutoencoder.Parameter> pa = a.parameters();
            List<SliceAutoencoder.Parameter> pb = b.parameters();
            assertThat(pb).hasSameSizeAs(pa);
            for (int i = 0; i < pa.size(); i++) {
                assertThat(pb.get(i).name()).isEqualTo(pa.get(i).name());
                assertThat(pb.get(i).shape()).isEqualTo(pa.get(i).shape());
            }
            assertThat(b.parameter("decoder.conv_out.weight")).containsExactly(a.parameter("decoder.conv_out.weight"));
        }
    }

    @Test
    void aConfigThatDisagreesWithTheWeightsIsReportedByKeyWithBothShapes() throws IOException {
        VqConfig c = tinyConfig();
        VqConfig wrong = new VqConfig(c.ch(), 3, c.inChannels(), c.resolution(), c.zChannels(), 2, c.embedDim(),
                c.nEmbed(), false, true, c.chMult(), c.attnResolutions(), 0.0);
        assertThatThrownBy(() -> SliceAutoencoder.load(TestPaths.vqgan(WEIGHTS[2]), wrong, KERNEL.get()))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("tiny_vqgan.safetensors")
                .hasMessageContaining("missing keys").hasMessageContaining("encoder.down.0.block.1.conv1.weight")
                .hasMessageContaining("shape mismatches")
                .hasMessageContaining("decoder.conv_out.weight: checkpoint [1, 32, 3, 3] vs model [3, 32, 3, 3]");
        VqConfig badGroups = new VqConfig(48, 1, 1, 16, 16, 1, 8, 64, false, true, List.of(1, 1), List.of(8), 0.0);
        assertThatThrownBy(() -> SliceAutoencoder.load(TestPaths.vqgan(WEIGHTS[2]), badGroups, KERNEL.get()))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("multiple of 32");
    }

    @Test
    void volumeEncodeDecodeThroughTheReferenceWrapperMatchesTheRawModelOnTransformedSlices() throws IOException {
        // A 16x16x3 volume, wrapper = the reference's geometry at the model's own size (no resampling).
        SliceWrapper w = new SliceWrapper(2.0, -1.0, 0.25, 0.5, 16, true, true, false);
        Random r = new Random(5);
        try (SliceAutoencoder ae = SliceAutoencoder.load(TestPaths.vqgan(WEIGHTS[2]), null, KERNEL.get());
                Volume v = Volume.allocate(Geometry.of(16, 16, 3, 1.5, 1.5, 3, 0, 0, 0))) {
            ae.withWrapper(w).withBatchSize(2);
            for (int z = 0; z < 3; z++) {
                for (int y = 0; y < 16; y++) {
                    for (int x = 0; x < 16; x++) {
                        v.set(x, y, z, r.nextFloat());
                    }
                }
            }
            // transpose, then rot90(k=1) and flip(3): model pixel [i][j] = slice[y = 15 - i][x = 15 - j], 2x - 1
            float[] manual = new float[3 * 16 * 16];
            for (int z = 0; z < 3; z++) {
                for (int i = 0; i < 16; i++) {
                    for (int j = 0; j < 16; j++) {
                        manual[z * 256 + i * 16 + j] = 2 * v.get(15 - j, 15 - i, z) - 1;
                    }
                }
            }
            try (Latents z = ae.encode(v); Latents raw = ae.run(SliceAutoencoder.RawOp.ENCODE, manual, 3, 1, 16, 16)) {
                assertThat(z.shape()).containsExactly(3, 8, 8, 8);
                assertThat(relativeError(z.read(), raw.read())).isLessThanOrEqualTo(1e-6);
                try (Volume rec = ae.decode(z, v.geometry()); Latents rawRec = ae.run(SliceAutoencoder.RawOp.DECODE,
                        raw.read(), 3, 8, 8, 8)) {
                    float[] rr = rawRec.read();
                    for (int zz = 0; zz < 3; zz++) {
                        for (int i = 0; i < 16; i++) {
                            for (int j = 0; j < 16; j++) {
                                double expected = (rr[zz * 256 + i * 16 + j] + 2) / 4; // the reference's output map
                                assertThat((double) rec.get(15 - j, 15 - i, zz))
                                        .isCloseTo(expected, org.assertj.core.api.Assertions.within(1e-5));
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void theReferencePresetFeedsTheVqganTheRasSliceWithRowsAlongX() throws IOException {
        // ct-counterfactuals: the dataset anti-transposes the RAS slice M[x][y] (rot90 k=1, flip), the wrapper's encode
        // anti-transposes it again, so the VQ-GAN sees M: model pixel [i][j] = M[x = i][y = j] (ctcf stores [y][x]).
        SliceWrapper w = SliceWrapper.reference().withResize(16);
        assertThat(w.transpose()).isTrue();
        assertThat(w.referenceOrientation()).isFalse();
        Random r = new Random(9);
        try (SliceAutoencoder ae = SliceAutoencoder.load(TestPaths.vqgan(WEIGHTS[2]), null, KERNEL.get());
                Volume v = Volume.allocate(Geometry.of(16, 16, 2, 1.5, 1.5, 3, 0, 0, 0))) {
            ae.withWrapper(w).withBatchSize(2);
            for (int z = 0; z < 2; z++) {
                for (int y = 0; y < 16; y++) {
                    for (int x = 0; x < 16; x++) {
                        v.set(x, y, z, r.nextFloat());
                    }
                }
            }
            float[] manual = new float[2 * 16 * 16];
            for (int z = 0; z < 2; z++) {
                for (int i = 0; i < 16; i++) {
                    for (int j = 0; j < 16; j++) {
                        manual[z * 256 + i * 16 + j] = 2 * v.get(i, j, z) - 1;
                    }
                }
            }
            try (Latents z = ae.encode(v); Latents raw = ae.run(SliceAutoencoder.RawOp.ENCODE, manual, 2, 1, 16, 16)) {
                assertThat(relativeError(z.read(), raw.read())).isLessThanOrEqualTo(1e-6);
                try (Volume rec = ae.decode(z, v.geometry()); Latents rawRec = ae.run(SliceAutoencoder.RawOp.DECODE,
                        raw.read(), 2, 8, 8, 8)) {
                    float[] rr = rawRec.read();
                    for (int zz = 0; zz < 2; zz++) {
                        for (int i = 0; i < 16; i++) {
                            for (int j = 0; j < 16; j++) {
                                assertThat((double) rec.get(i, j, zz)).isCloseTo((rr[zz * 256 + i * 16 + j] + 2) / 4,
                                        org.assertj.core.api.Assertions.within(1e-5));
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void wrapperJsonRefusesUnknownOptionsAndTakesPresetsWithOverrides() {
        assertThatThrownBy(() -> SliceWrapper.fromJson("{\"preset\": \"reference\", \"antialiasing\": false}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown slice wrapper option "
                        + "'antialiasing'").hasMessageContaining("antialias");
        assertThatThrownBy(() -> SliceWrapper.fromJson("{\"preset\": \"referenc\"}"))
                .hasMessageContaining("unknown slice wrapper 'referenc'");
        assertThatThrownBy(() -> SliceWrapper.fromJson("{\"preset\": \"reference\", \"antialias\": \"no\"}"))
                .hasMessageContaining("antialias must be true or false");
        assertThat(SliceWrapper.fromJson("{\"preset\": \"reference\", \"antialias\": false}"))
                .isEqualTo(SliceWrapper.reference().withAntialias(false));
        assertThat(SliceWrapper.fromJson("\"plain\"")).isEqualTo(SliceWrapper.plain());
        SliceWrapper odd = new SliceWrapper(1.5, -0.5, 0.25, 0.5, 64, true, true, true);
        assertThat(SliceWrapper.fromJson(odd.toJson())).isEqualTo(odd);
        assertThat(SliceWrapper.reference().withAntialias(false).describe()).isEqualTo("reference (no antialiasing)");
    }

    @Test
    void paperShapedConfigBuildsSavesLoadsItsOwnWeightsAndRuns() throws IOException {
        // 256 x 256 slice -> 256 x 4 x 4 latent: 7 levels (six downsamplings), z 256. Narrow channels keep it quick.
        VqConfig paper = new VqConfig(32, 1, 1, 256, 256, 1, 256, 1024, false, true, List.of(1, 1, 1, 1, 1, 1, 1),
                List.of(4), 0.0);
        Path saved = tmp.resolve("paper.safetensors");
        float[] slice = new float[256 * 256];
        Random r = new Random(11);
        for (int i = 0; i < slice.length; i++) {
            slice[i] = r.nextFloat() * 2 - 1;
        }
        float[] before;
        try (SliceAutoencoder ae = SliceAutoencoder.create(paper, KERNEL.get())) {
            assertThat(paper.latentSize(256)).isEqualTo(4);
            try (Latents z = ae.run(SliceAutoencoder.RawOp.ENCODE, slice, 1, 1, 256, 256)) {
                assertThat(z.shape()).containsExactly(1, 256, 4, 4);
                before = z.read();
            }
            ae.save(saved);
        }
        try (SliceAutoencoder back = SliceAutoencoder.load(saved, null, KERNEL.get());
                Latents z = back.run(SliceAutoencoder.RawOp.ENCODE, slice, 1, 1, 256, 256)) {
            assertThat(back.config()).isEqualTo(paper);
            assertThat(z.read()).containsExactly(before);
            try (Latents x = back.run(SliceAutoencoder.RawOp.DECODE, z.read(), 1, 256, 4, 4)) {
                assertThat(x.shape()).containsExactly(1, 1, 256, 256);
            }
        }
    }

    @Test
    void closedAutoencoderIsAClearError() throws IOException {
        SliceAutoencoder ae = SliceAutoencoder.load(TestPaths.vqgan(WEIGHTS[2]), null, KERNEL.get());
        ae.close();
        ae.close();
        assertThatThrownBy(ae::parameters).isInstanceOf(CtcfException.ResourceClosedException.class);
        assertThat(Files.exists(TestPaths.vqgan(WEIGHTS[2]))).isTrue();
    }
}
