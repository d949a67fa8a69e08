package org.ctcf.api;

import org.ctcf.core.Volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.ctcf.TestPaths;
import org.ctcf.io.VolumeIO;
import org.ctcf.io.checkpoint.Checkpoint;
import org.ctcf.io.checkpoint.TensorData;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * ctcf against an independent, literal port of the published pipeline ({@code tests/fixtures/reference_port/port.py}:
 * dataset transforms, the VQ-GAN wrapper with its orientation, SliceAEFull, LatentShift.attribute, the chunk sweep),
 * run once on a real CT crop, the tiny taming-named VQ-GAN and a tiny orientation-sensitive TorchScript classifier.
 * ctcf reads the same NIfTI, preprocesses it itself and must give the port's λ sequence, stop reasons, predictions,
 * frames and heatmaps, in reference mode and in fast mode.
 *
 * <p>The port keeps the reference's display layout: its arrays are [i][j][z] with {@code D[i][j] = M[n−1−j][n−1−i]}
 * for the RAS slice {@code M[x][y]}, i.e. ctcf voxel {@code (x, y) = (n−1−j, n−1−i)}.
 */
class ReferencePortParityTest {
    private static final Path DIR = TestPaths.root().resolve("tests/fixtures/reference_port");
    private static final double REL = 1e-4;
    private static Kernel kernel;
    private static JsonNode port;
    private static Map<String, TensorData> tensors;
    private static Checkpoint outputs;
    private static Volume x;

    @BeforeAll
    static void setUp() throws IOException {
        kernel = Kernel.open();
        port = new ObjectMapper().readTree(DIR.resolve("port_outputs.json").toFile());
        outputs = Checkpoint.open(DIR.resolve("port_outputs.safetensors"));
        tensors = outputs.tensors();
        int crop = port.get("crop").asInt();
        try (Volume ct = VolumeIO.read(DIR.resolve("ct_crop.nii.gz"))) {
            x = kernel.preprocess(ct, PreprocessOptions.reference().withInPlaneSize(crop, crop));
        }
        assertThat(x.geometry().dims()).containsExactly(crop, crop, 12);
    }

    @AfterAll
    static void tearDown() throws IOException {
        x.close();
        outputs.close();
        kernel.close();
    }

    /** The wrapper the port uses: the reference preset at the port's slice size. */
    static SliceWrapper portWrapper() {
        return SliceWrapper.reference().withResize(port.get("resize").asInt())
                .withAntialias(port.get("antialias").asBoolean());
    }

    static SliceAutoencoder autoencoder(SliceWrapper w) throws IOException {
        return SliceAutoencoder.load(TestPaths.vqgan("tiny_vqgan.safetensors"), null, kernel).withWrapper(w)
                .withBatchSize(16);
    }

    static Classifier classifier() throws IOException {
        Classifier c = Classifier.loadTorchScript(DIR.resolve("tiny_classifier.pt"), Classifier.Layout.BCHWD, 0,
                kernel);
        c.setOrientation(Classifier.Orientation.DISPLAY);
        return c;
    }

    /** The port's bowl model: the RAS layout [B, 1, X, Y, Z]. */
    static Classifier bowlClassifier() throws IOException {
        Classifier c = Classifier.loadTorchScript(DIR.resolve("bowl_classifier.pt"), Classifier.Layout.BCHWD, 0,
                kernel);
        c.setOrientation(Classifier.Orientation.RAS);
        return c;
    }

    static ExplainOptions.Builder options(JsonNode o) {
        return ExplainOptions.builder().target(Target.sigmoidOf(port.get("target").asInt()))
                .searchPredDiff(o.get("search_pred_diff").asDouble())
                .searchStepSize(o.get("search_step_size").asDouble())
                .searchMaxSteps(o.get("search_max_steps").asDouble())
                .searchMaxPixelDiffPct(o.get("search_max_pixel_diff_pct").asDouble())
                .lambdaSweepSteps(o.get("lambda_sweep_steps").asInt());
    }

    /** max over voxels |ctcf − port| / max |port|, port arrays [..., i, j, z] of {@code n} display slices. */
    static double error(Volume v, TensorData t, int zFrom, int frame) {
        long[] s = t.shape();
        int h = (int) s[s.length - 3];
        int w = (int) s[s.length - 2];
        int nz = (int) s[s.length - 1];
        long base = (long) frame * h * w * nz;
        double worst = 0;
        double scale = 0;
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                for (int z = 0; z < nz; z++) {
                    double want = t.get(base + ((long) i * w + j) * nz + z);
                    double got = v.get(w - 1 - j, h - 1 - i, zFrom + z);
                    worst = Math.max(worst, Math.abs(got - want));
                    scale = Math.max(scale, Math.abs(want));
                }
            }
        }
        assertThat(scale).as("the port's array is not all zero").isGreaterThan(0);
        return worst / scale;
    }

    static void assertSameSequence(double[] got, JsonNode want, int column, String what) {
        assertThat(got).as(what + " length").hasSize(want.size());
        for (int i = 0; i < got.length; i++) {
            double w = column < 0 ? want.get(i).asDouble() : want.get(i).get(column).asDouble();
            assertThat(got[i]).as(what + "[" + i + "]").isCloseTo(w, within(REL * Math.max(1e-3, Math.abs(w))));
        }
    }

    @ParameterizedTest(name = "reference mode: {0}")
    @ValueSource(booleans = {true, false})
    void oneChunksExplanationEqualsThePortsLambdasStopPredictionsFramesAndHeatmaps(boolean referenceMode)
            throws IOException {
        JsonNode e = port.get("explain");
        int start = port.get("chunk").get(0).asInt();
        int end = port.get("chunk").get(1).asInt();
        try (SliceAutoencoder ae = autoencoder(portWrapper()); Classifier c = classifier()) {
            for (HeatmapMethod h : HeatmapMethod.values()) {
                ExplainOptions o = options(port.get("options")).heatmap(h).referenceMode(referenceMode).build();
                try (Explanation r = LatentShift.explain(x, ae, c, o, start, end, null)) {
                    assertThat(r.initialPrediction()).isCloseTo(e.get("p0").asDouble(), within(REL));
                    assertThat(r.stopReason().name()).isEqualTo(e.get("stop_reason").asText());
                    assertThat(r.bound()).isEqualTo(e.get("bound").asDouble());
                    assertSameSequence(r.lambdas(), e.get("lambdas"), -1, "lambdas");
                    assertSameSequence(r.predictions(), e.get("preds"), -1, "predictions");
                    assertSameSequence(r.searchLambdas(), e.get("search"), 0, "search lambdas");
                    assertSameSequence(r.searchPredictions(), e.get("search"), 1, "search predictions");
                    assertThat(error(r.reconstruction(), tensors.get("explain.reconstruction"), 0, 0))
                            .as("reconstruction").isLessThanOrEqualTo(REL);
                    TensorData frames = tensors.get("explain.frames");
                    assertThat(r.frames()).hasSize((int) frames.shape()[0]);
                    for (int f = 0; f < r.frames().size(); f++) {
                        try (Volume chunk = r.frames().get(f).slices(start, end)) {
                            assertThat(error(chunk, frames, 0, f)).as("frame " + f).isLessThanOrEqualTo(REL);
                        }
                    }
                    String key = "explain.heatmap." + h.name().toLowerCase(java.util.Locale.ROOT);
                    assertThat(error(r.heatmap(), tensors.get(key), 0, 0)).as(key).isLessThanOrEqualTo(REL);
                }
            }
        }
    }

    /** Every chunk's bound, stop reason and minimum against the port's rows. */
    static void assertSameChunks(SweepResult r, JsonNode rows) {
        assertThat(r.chunks()).hasSize(rows.size());
        for (int i = 0; i < rows.size(); i++) {
            SweepResult.Chunk got = r.chunks().get(i);
            JsonNode want = rows.get(i);
            assertThat(got.start()).isEqualTo(want.get("start").asInt());
            assertThat(got.end()).isEqualTo(want.get("end").asInt());
            assertThat(got.stopReason().name()).as("chunk " + i).isEqualTo(want.get("stop_reason").asText());
            assertThat(got.bound()).as("chunk " + i).isEqualTo(want.get("bound").asDouble());
            assertThat(got.minPrediction()).as("chunk " + i)
                    .isCloseTo(want.get("min_prediction").asDouble(), within(REL));
        }
    }

    /** The sweep's own counterfactual, found or not, and the mosaic's score against the port's. */
    static void assertSameHeadline(SweepResult r, JsonNode s) {
        assertThat(r.initialPrediction()).isCloseTo(s.get("p0").asDouble(), within(REL));
        assertThat(r.found()).isEqualTo(s.get("counterfactual_found").asBoolean());
        assertThat(r.counterfactualPrediction()).isCloseTo(s.get("counterfactual_prediction").asDouble(),
                within(REL));
        assertThat(r.stitchedPrediction()).as("the mosaic's score")
                .isCloseTo(s.get("stitched_prediction").asDouble(), within(REL));
        if (r.found()) {
            JsonNode c = s.get("counterfactual_chunk");
            assertThat(r.counterfactualChunks()).singleElement().satisfies(k -> {
                assertThat(k.start()).isEqualTo(c.get(0).asInt());
                assertThat(k.end()).isEqualTo(c.get(1).asInt());
            });
        } else {
            assertThat(r.counterfactualChunks()).isEmpty();
            assertThat(Metrics.toArray(r.counterfactual())).containsExactly(Metrics.toArray(r.reconstruction()));
        }
        assertSameSequence(r.sliceChange(true), s.get("slice_change_squared"), -1, "slice change (sum h^2)");
        assertSameSequence(r.sliceChange(false), s.get("slice_change"), -1, "slice change (sum |h|)");
    }

    @ParameterizedTest(name = "reference mode: {0}")
    @ValueSource(booleans = {true, false})
    void theChunkSweepEqualsThePortsPerChunkBoundsStopsMinimaAndStitchedVolumes(boolean referenceMode)
            throws IOException {
        JsonNode s = port.get("sweep");
        try (SliceAutoencoder ae = autoencoder(portWrapper()); Classifier c = classifier();
                SweepResult r = LatentShift.sweep(x, ae, c, options(s.get("options")).referenceMode(referenceMode)
                        .build(), ChunkSweep.of(s.get("chunk").asInt()), null)) {
            assertSameChunks(r, s.get("chunks"));
            assertSameHeadline(r, s);
            // the sweep's counterfactual is the best chunk's own (its lowest-scoring frame on the reconstruction)
            assertThat(error(r.counterfactual(), tensors.get("sweep.best"), 0, 0)).isLessThanOrEqualTo(REL);
            JsonNode rows = s.get("chunks");
            // the rows' stop reasons differ: the sweep covers more than one stop rule
            assertThat(rows.findValuesAsText("stop_reason").stream().distinct().count()).isGreaterThan(1);
            // the reference's display mosaic: every chunk's frame 0 on its own slices
            assertThat(error(r.stitched(), tensors.get("sweep.counterfactual"), 0, 0)).isLessThanOrEqualTo(REL);
            assertThat(error(r.stitchedHeatmap(), tensors.get("sweep.heatmap"), 0, 0)).isLessThanOrEqualTo(REL);
        }
    }

    /**
     * A card-style score (sigmoid, 1 − mean over the output map, offset +0.4, no sigmoid after) of a model in the RAS
     * layout, whose bowl makes chunk [4, 8)'s first step overshoot: its frame 0 scores above p0, so the sweep finds no
     * counterfactual, while the reference's mosaic (frame 0 of every chunk) scores above p0.
     */
    @ParameterizedTest(name = "reference mode: {0}")
    @ValueSource(booleans = {true, false})
    void aCardStyleScoreInRasWhoseChunkOvershootsFindsNoCounterfactualAsThePortDoes(boolean referenceMode)
            throws IOException {
        JsonNode s = port.get("bowl");
        Target t = new Target(0, Target.Activation.SIGMOID, Target.Reducer.ONE_MINUS_MEAN, s.get("offset").asDouble(),
                false);
        try (SliceAutoencoder ae = autoencoder(portWrapper());
                Classifier c = bowlClassifier();
                SweepResult r = LatentShift.sweep(x, ae, c, options(s.get("options")).target(t)
                        .referenceMode(referenceMode).build(), ChunkSweep.of(s.get("chunk").asInt()), null)) {
            assertSameChunks(r, s.get("chunks"));
            JsonNode risen = s.get("chunks").get(1);
            assertThat(risen.get("stop_reason").asText()).isEqualTo("PREDICTION_ROSE");
            assertThat(risen.get("preds").get(0).asDouble()).as("frame 0 of chunk [4, 8)")
                    .isGreaterThan(s.get("p0").asDouble());
            assertSameHeadline(r, s);
            assertThat(r.found()).isFalse();
            assertThat(r.stitchedPrediction()).isGreaterThan(r.initialPrediction());
            assertThat(error(r.stitched(), tensors.get("bowl.counterfactual"), 0, 0)).isLessThanOrEqualTo(REL);
            assertThat(error(r.stitchedHeatmap(), tensors.get("bowl.heatmap"), 0, 0)).isLessThanOrEqualTo(REL);
        }
        // the two sweeps end their chunks' searches by three rules between them (README: "Latent Shift")
        List<String> rules = new java.util.ArrayList<>(port.get("sweep").get("chunks").findValuesAsText("stop_reason"));
        rules.addAll(s.get("chunks").findValuesAsText("stop_reason"));
        assertThat(rules.stream().distinct()).hasSizeGreaterThanOrEqualTo(3);
    }
}
