package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;
import org.ctcf.core.CtcfException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import org.ctcf.TestPaths;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Latent Shift engine on a tiny VQ-GAN (the committed fixture) and classifiers written as TorchScript source:
 * the published λ schedule, every stop rule, fast = reference, batched = sequential, localization.
 */
class LatentShiftTest {
    static final int D = 48;
    private static Kernel kernel;
    private static SliceAutoencoder ae;
    private static Volume volume;
    /** Mean of the reconstruction over slices 20..24: what the crafted classifiers are centred on. */
    private static double m0;
    /** Mean of the reconstruction over slices 5..9. */
    private static double m5;

    @TempDir
    Path tmp;

    @BeforeAll
    static void setUp() throws IOException {
        kernel = Kernel.open();
        ae = SliceAutoencoder.load(TestPaths.vqgan("tiny_vqgan.safetensors"), null, kernel)
                .withWrapper(SliceWrapper.plain()).withBatchSize(16);
        volume = Volume.allocate(Geometry.of(16, 16, D, 1.5, 1.5, 3, 0, 0, 0));
        Random r = new Random(3);
        for (int z = 0; z < D; z++) {
            for (int y = 0; y < 16; y++) {
                for (int x = 0; x < 16; x++) {
                    volume.set(x, y, z, (float) (0.5 + 0.3 * Math.sin(x * 0.4 + z * 0.2) * Math.cos(y * 0.3)
                            + 0.05 * r.nextGaussian()));
                }
            }
        }
        try (Classifier c = classifier("return x.mean(dim=[1, 2, 3, 4]).unsqueeze(1)");
                Explanation e = LatentShift.explain(volume, ae, c, ExplainOptions.builder().target(Target.raw(0))
                        .fixRange(0, 0).lambdaSweepSteps(2).build(), 0, D, null)) {
            double s = 0;
            for (int z = 20; z < 25; z++) {
                for (int y = 0; y < 16; y++) {
                    for (int x = 0; x < 16; x++) {
                        s += e.reconstruction().get(x, y, z);
                    }
                }
            }
            m0 = s / (5 * 256);
            double s5 = 0;
            for (int z = 5; z < 10; z++) {
                for (int y = 0; y < 16; y++) {
                    for (int x = 0; x < 16; x++) {
                        s5 += e.reconstruction().get(x, y, z);
                    }
                }
            }
            m5 = s5 / (5 * 256);
        }
    }

    @AfterAll
    static void tearDown() {
        volume.close();
        ae.close();
        kernel.close();
    }

    static Classifier classifier(String body) {
        return Classifier.define("def forward(self, x):\n    " + body + "\n", Classifier.Layout.BCDHW, 0, kernel);
    }

    /** Mean intensity of slices 20..24 (input layout [B, 1, D, H, W]). */
    static final String M = "x[:, :, 20:25].mean(dim=[1, 2, 3, 4])";

    static String num(double v) {
        return String.format(Locale.ROOT, "%.9f", v);
    }

    @Test
    void lambdaScheduleIsThePublishedOne() {
        double[] expected = {0, -10, -21, -34, -48, -63, -80, -98, -118, -140, -164, -191, -221, -254, -290, -329,
            -372, -420, -472, -530, -593, -663, -740, -824, -917, -1019, -1131, -1255, -1391, -1541, -1706, -1887,
            -2086, -2305, -2546, -2811};
        assertThat(expected).hasSize(36);
        assertThat(LatentShift.lambdaSchedule(36, 10.0)).containsExactly(expected);
        // The kernel's search walks the same schedule (a classifier that never stops it early).
        try (Classifier c = classifier("return (" + M + " * 0.000000001 + 0.5).unsqueeze(1)");
                Explanation e = LatentShift.explain(volume, ae, c, ExplainOptions.builder().target(Target.raw(0))
                        .build(), 20, 25, null)) {
            assertThat(java.util.Arrays.copyOf(e.searchLambdas(), 36)).containsExactly(expected);
            assertThat(e.stopReason()).isEqualTo(StopReason.MAX_STEPS);
            assertThat(e.bound()).isEqualTo(-3103.0); // the first lambda <= -3000
        }
    }

    @Test
    void fastLatentGradientsEqualReferenceJointAutogradForRandomChunks() {
        try (Classifier c = classifier("return ((x[:, :, 10:30] * x[:, :, 10:30]).mean(dim=[1, 2, 3, 4]) * 3.0 "
                + "- x[:, :, 5:40, 2:9].mean(dim=[1, 2, 3, 4])).unsqueeze(1)")) {
            Random r = new Random(17);
            for (int t = 0; t < 4; t++) {
                int start = r.nextInt(D - 12);
                int end = start + 1 + r.nextInt(12);
                try (Latents fast = LatentShift.latentGradient(volume, ae, c, Target.sigmoidOf(0), start, end, false);
                        Latents ref = LatentShift.latentGradient(volume, ae, c, Target.sigmoidOf(0), start, end, true)) {
                    assertThat(fast.shape()).containsExactly(ref.shape());
                    float[] a = fast.read();
                    float[] b = ref.read();
                    assertThat(SliceAutoencoderTest.relativeError(a, b)).as("chunk [%d, %d)", start, end)
                            .isLessThanOrEqualTo(1e-4);
                    double norm = 0;
                    for (float v : b) {
                        norm += Math.abs(v);
                    }
                    assertThat(norm).as("gradient is not trivially zero").isGreaterThan(0);
                }
            }
        }
    }

    record Case(String name, String body, Target target, double predDiff, StopReason expected) {
    }

    List<Case> stopCases() {
        return List.of(
                new Case("rose", "return ((" + M + " - " + num(m0 + 0.002) + ") * (" + M + " - " + num(m0 + 0.002)
                        + ") * 1000.0 + 0.5).unsqueeze(1)", Target.raw(0), 0.8, StopReason.PREDICTION_ROSE),
                new Case("below", "return ((" + M + " - " + num(m0) + ") * 500.0 + 2.0).unsqueeze(1)",
                        Target.sigmoidOf(0), 1.0, StopReason.BELOW_THRESHOLD),
                new Case("dropped", "return (" + M + " * 200.0 + 5.0).unsqueeze(1)", Target.raw(0), 0.8,
                        StopReason.DROPPED_ENOUGH),
                new Case("max-steps", "return (" + M + " * 0.000000001 + 0.5).unsqueeze(1)", Target.raw(0), 0.8,
                        StopReason.MAX_STEPS),
                new Case("pixel-cap", "return (" + M + " * 2.0 + 5.0).unsqueeze(1)", Target.raw(0), 0.8,
                        StopReason.PIXEL_CAP));
    }

    @Test
    void everyStopRuleIsTriggeredByAClassifierCraftedForItAndReported() {
        for (Case k : stopCases()) {
            try (Classifier c = classifier(k.body())) {
                for (boolean reference : new boolean[] {false, true}) {
                    ExplainOptions o = ExplainOptions.builder().target(k.target()).searchPredDiff(k.predDiff())
                            .referenceMode(reference).build();
                    try (Explanation e = LatentShift.explain(volume, ae, c, o, 20, 25, null)) {
                        assertThat(e.stopReason()).as("%s (reference=%s), trace %s", k.name(), reference,
                                java.util.Arrays.toString(e.searchPredictions())).isEqualTo(k.expected());
                        double[] l = e.searchLambdas();
                        assertThat(e.bound()).as("the stopping lambda is the bound").isEqualTo(l[l.length - 1]);
                        assertThat(e.lambdas()[0]).isEqualTo(e.bound());
                        assertThat(e.lambdas()[e.lambdas().length - 1]).isEqualTo(0.0);
                        assertThat(e.frames()).hasSize(10);
                    }
                }
            }
        }
    }

    @Test
    void batchedAndSequentialSearchesGiveTheSameBoundFramesAndPredictions() {
        for (Case k : stopCases()) {
            try (Classifier c = classifier(k.body())) {
                ExplainOptions seq = ExplainOptions.builder().target(k.target()).searchPredDiff(k.predDiff()).build();
                try (Explanation a = LatentShift.explain(volume, ae, c, seq, 20, 25, null);
                        Explanation b = LatentShift.explain(volume, ae, c, seq.toBuilder().lambdaBatch(5).build(), 20,
                                25, null)) {
                    assertThat(b.bound()).as(k.name()).isEqualTo(a.bound());
                    assertThat(b.stopReason()).isEqualTo(a.stopReason());
                    assertThat(b.lambdas()).containsExactly(a.lambdas());
                    assertThat(b.predictions()).containsExactly(a.predictions(), within(1e-6));
                    assertMaxAbsDifference(a.counterfactual(), b.counterfactual(), 1e-5);
                }
            }
        }
    }

    static double maxAbsDifference(Volume a, Volume b) {
        double m = 0;
        for (int z = 0; z < a.nz(); z++) {
            for (int y = 0; y < a.ny(); y++) {
                for (int x = 0; x < a.nx(); x++) {
                    m = Math.max(m, Math.abs(a.get(x, y, z) - b.get(x, y, z)));
                }
            }
        }
        return m;
    }

    static void assertMaxAbsDifference(Volume a, Volume b, double tol) {
        assertThat(maxAbsDifference(a, b)).isLessThanOrEqualTo(tol);
    }

    @Test
    void referenceAndFastModesGiveTheSameFramesAndTheSameChunkTable() {
        try (Classifier c = classifier("return ((x[:, :, 8:40] - 0.3).abs().mean(dim=[1, 2, 3, 4]) * 40.0 - 4.0)"
                + ".unsqueeze(1)")) {
            ExplainOptions fast = ExplainOptions.builder().target(Target.sigmoidOf(0)).build();
            ExplainOptions ref = fast.toBuilder().referenceMode(true).build();
            try (Explanation a = LatentShift.explain(volume, ae, c, fast, 16, 24, null);
                    Explanation b = LatentShift.explain(volume, ae, c, ref, 16, 24, null)) {
                assertThat(a.bound()).isEqualTo(b.bound());
                assertThat(a.stopReason()).isEqualTo(b.stopReason());
                assertThat(a.predictions()).containsExactly(b.predictions(), within(1e-4));
                for (int i = 0; i < a.frames().size(); i++) {
                    assertMaxAbsDifference(a.frames().get(i), b.frames().get(i), 1e-4);
                }
                assertMaxAbsDifference(a.heatmap(), b.heatmap(), 1e-4);
                // fewer decoded slices in fast mode
                assertThat(a.timings().slicesDecoded()).isLessThan(b.timings().slicesDecoded() / 3);
            }
            ExplainOptions sweepFast = fast.toBuilder().lambdaSweepSteps(2).build();
            try (SweepResult a = LatentShift.sweep(volume, ae, c, sweepFast, ChunkSweep.of(8), null);
                    SweepResult b = LatentShift.sweep(volume, ae, c, sweepFast.toBuilder().referenceMode(true).build(),
                            ChunkSweep.of(8), null)) {
                assertThat(a.chunks()).hasSize(6);
                for (int i = 0; i < 6; i++) {
                    SweepResult.Chunk x = a.chunks().get(i);
                    SweepResult.Chunk y = b.chunks().get(i);
                    assertThat(x.start()).isEqualTo(y.start());
                    assertThat(x.end()).isEqualTo(y.end());
                    assertThat(x.bound()).as("chunk %d", i).isEqualTo(y.bound());
                    assertThat(x.stopReason()).isEqualTo(y.stopReason());
                    assertThat(x.minPrediction()).isCloseTo(y.minPrediction(), within(1e-4));
                    assertThat(x.pixelChange()).isCloseTo(y.pixelChange(), within(1e-3 * Math.max(1, y.pixelChange())));
                    assertThat(x.rank()).isEqualTo(y.rank());
                }
                assertMaxAbsDifference(a.counterfactual(), b.counterfactual(), 1e-4);
                assertThat(a.stitchedPrediction()).isCloseTo(b.stitchedPrediction(), within(1e-4));
                assertThat(a.timings().slicesDecoded()).isLessThan(b.timings().slicesDecoded() / 5);
            }
        }
    }

    @Test
    void aSweepsFocusExplanationEqualsExplainingItsBestChunkAlone() {
        try (Classifier c = classifier("return ((x[:, :, 8:40] - 0.3).abs().mean(dim=[1, 2, 3, 4]) * 40.0 - 4.0)"
                + ".unsqueeze(1)")) {
            for (boolean reference : new boolean[] {false, true}) {
                ExplainOptions o = ExplainOptions.builder().target(Target.sigmoidOf(0)).lambdaSweepSteps(2)
                        .referenceMode(reference).build();
                try (SweepResult plain = LatentShift.sweep(volume, ae, c, o, ChunkSweep.of(8), null);
                        SweepResult s = LatentShift.sweep(volume, ae, c, o.toBuilder().focusFrames(6).build(),
                                ChunkSweep.of(8), null)) {
                    assertThat(plain.focus()).isEmpty();
                    Explanation f = s.focus().orElseThrow();
                    SweepResult.Chunk best = s.ranked().get(0);
                    assertThat(f.chunkStart()).isEqualTo(best.start());
                    assertThat(f.chunkEnd()).isEqualTo(best.end());
                    try (Explanation alone = LatentShift.explain(volume, ae, c, o.toBuilder().lambdaSweepSteps(6)
                            .build(), best.start(), best.end(), null)) {
                        assertThat(f.bound()).as("reference %s", reference).isEqualTo(alone.bound());
                        assertThat(f.stopReason()).isEqualTo(alone.stopReason());
                        assertThat(f.lambdas()).containsExactly(alone.lambdas());
                        assertThat(f.predictions()).containsExactly(alone.predictions(), within(1e-5));
                        assertThat(f.searchLambdas()).containsExactly(alone.searchLambdas());
                        assertThat(f.initialPrediction()).isCloseTo(alone.initialPrediction(), within(1e-6));
                        assertThat(f.frames()).hasSize(6);
                        for (int i = 0; i < 6; i++) {
                            assertMaxAbsDifference(f.frames().get(i), alone.frames().get(i), 1e-5);
                        }
                        assertMaxAbsDifference(f.heatmap(), alone.heatmap(), 1e-5);
                        assertMaxAbsDifference(f.reconstruction(), alone.reconstruction(), 1e-6);
                        if (!reference) {
                            // reused: no new encoding, only the frames the sweep had not decoded
                            assertThat(f.timings().slicesDecoded()).isLessThanOrEqualTo(5L * (best.end()
                                    - best.start()));
                            assertThat(s.timings().slicesDecoded()).isEqualTo(plain.timings().slicesDecoded()
                                    + f.timings().slicesDecoded());
                        }
                    }
                    // the sweep's own results do not change with a focus
                    assertThat(s.chunks()).isEqualTo(plain.chunks());
                    assertMaxAbsDifference(s.counterfactual(), plain.counterfactual(), 0);
                }
            }
        }
    }

    @Test
    void slicesOutsideTheClassifiersViewAreNeitherDifferentiatedNorDecodedOnLambdaSteps() {
        try (Classifier c = classifier("return ((" + M + " - " + num(m0) + ") * 60.0 + 1.5).unsqueeze(1)")) {
            ExplainOptions o = ExplainOptions.builder().target(Target.sigmoidOf(0)).lambdaSweepSteps(4).build();
            try (Explanation fast = LatentShift.explain(volume, ae, c, o, 16, 32, null);
                    Explanation ref = LatentShift.explain(volume, ae, c, o.toBuilder().referenceMode(true).build(), 16,
                            32, null)) {
                long lambdaSteps = fast.timings().lambdasEvaluated() + fast.lambdas().length;
                // D slices to encode and reconstruct, 5 vector-Jacobian products, 5 slices per lambda step
                assertThat(fast.timings().slicesDecoded()).isLessThanOrEqualTo(D + 5 + 5 * lambdaSteps);
                assertThat(fast.bound()).isEqualTo(ref.bound());
                assertThat(fast.predictions()).containsExactly(ref.predictions(), within(1e-4));
                for (int i = 0; i < fast.frames().size(); i++) {
                    assertMaxAbsDifference(fast.frames().get(i), ref.frames().get(i), 1e-4);
                    for (int z : new int[] {16, 19, 25, 31}) {  // no gradient there: the reconstruction itself
                        assertThat(fast.frames().get(i).get(7, 9, z)).isEqualTo(fast.reconstruction().get(7, 9, z));
                    }
                }
            }
        }
    }

    @Test
    void aPerSliceSegmenterIsScoredFromTheChangedSlicesWithTheWholeVolumesNumbers() {
        // The fast mode re-runs a 2-D classifier only on the chunk's slices and takes the other slices' sums from
        // the reconstruction; the reference runs it on the whole volume at every step. Both must agree, and each
        // frame's prediction must be the classifier's score of that frame.
        try (Classifier c = Classifier.builtin("ctcf-lungseg", 1, Classifier.Layout.BCDHW, 0, kernel)) {
            for (Target.Reducer reducer : new Target.Reducer[] {Target.Reducer.MEAN, Target.Reducer.ONE_MINUS_MEAN}) {
                Target t = new Target(0, Target.Activation.SIGMOID, reducer, 0.0, false);
                ExplainOptions o = ExplainOptions.builder().target(t).lambdaSweepSteps(4).searchPredDiff(0.001)
                        .build();
                try (Explanation fast = LatentShift.explain(volume, ae, c, o, 16, 24, null);
                        Explanation ref = LatentShift.explain(volume, ae, c, o.toBuilder().referenceMode(true).build(),
                                16, 24, null)) {
                    assertThat(fast.bound()).as("%s", reducer).isEqualTo(ref.bound());
                    assertThat(fast.stopReason()).isEqualTo(ref.stopReason());
                    assertThat(fast.searchPredictions()).containsExactly(ref.searchPredictions(), within(1e-6));
                    assertThat(fast.predictions()).containsExactly(ref.predictions(), within(1e-6));
                    for (int i = 0; i < fast.frames().size(); i++) {
                        assertThat(c.score(fast.frames().get(i), t)).isCloseTo(fast.predictions()[i], within(1e-6));
                    }
                    assertThat(fast.predictions()[0]).isNotCloseTo(fast.initialPrediction(), within(1e-7));
                }
            }
        }
    }

    @Test
    void aFullyConvolutionalDetectorIsScoredFromTheSlabItsChangedSlicesReach() throws IOException {
        // Fast mode re-runs the nodule detector (logit map max-pooled to one logit) only on the slab whose map
        // positions can see the chunk, and takes x0's map elsewhere; the reference runs it on the whole volume at
        // every step. Same chunk tables, on a depth that is a multiple of the network's stride and one that is not.
        // The shipped detector (its card resizes slices to 112 x 112 first) scores the tiny autoencoder's
        // reconstruction of this volume low (~0.02: there is no nodule in it), but its gradient still moves the
        // prediction, which is all this equality needs; random weights barely move it. So the search runs below
        // the default 0.05 stop.
        try (Classifier c = Classifier.load(java.nio.file.Path.of("models", "nodule-detector.json"), kernel);
                Volume odd = volume.slices(0, 45)) {
            // chunks the detector cannot see stop at the step limit: a low one keeps the reference's cost down
            ExplainOptions o = ExplainOptions.builder().target(Target.sigmoidOf(0)).lambdaSweepSteps(2)
                    .searchPredDiff(0.001).searchMaxSteps(100).stopBelow(0).build();
            Object[][] cases = {{volume, 8}, {odd, 7}};
            for (Object[] cs : cases) {
                Volume v = (Volume) cs[0];
                int chunk = (Integer) cs[1];
                try (SweepResult fast = LatentShift.sweep(v, ae, c, o, ChunkSweep.of(chunk), null);
                        SweepResult ref = LatentShift.sweep(v, ae, c, o.toBuilder().referenceMode(true).build(),
                                ChunkSweep.of(chunk), null)) {
                    assertThat(fast.chunks()).hasSameSizeAs(ref.chunks());
                    int moved = 0;
                    for (int i = 0; i < fast.chunks().size(); i++) {
                        SweepResult.Chunk f = fast.chunks().get(i);
                        SweepResult.Chunk r = ref.chunks().get(i);
                        // float32 noise only: the slab's convolutions sum in another order than the whole volume's
                        // (the shipped 16-channel detector differs by up to ~4e-5 in logit, ~3e-6 in probability
                        // here); a slab that missed part of the map's reach would differ by orders more
                        assertThat(f.minPrediction()).as("%d slices, chunk [%d, %d)", v.nz(), f.start(), f.end())
                                .isCloseTo(r.minPrediction(), within(1e-5));
                        assertThat(f.bound()).as("chunk [%d, %d)", f.start(), f.end()).isEqualTo(r.bound());
                        assertThat(f.stopReason()).isEqualTo(r.stopReason());
                        moved += f.minPrediction() < fast.initialPrediction() - 1e-4 ? 1 : 0;
                    }
                    assertThat(moved).as("chunks that lower the prediction").isPositive();
                }
            }
        }
    }

    @Test
    void sweepLocalizesAClassifierThatOnlySeesSlices20To24() {
        try (Classifier c = classifier("return ((" + M + " - " + num(m0) + ") * 60.0 + 1.5).unsqueeze(1)")) {
            ExplainOptions o = ExplainOptions.builder().target(Target.sigmoidOf(0)).lambdaSweepSteps(2).build();
            try (SweepResult s = LatentShift.sweep(volume, ae, c, o, ChunkSweep.of(5), null)) {
                SweepResult.Chunk best = s.ranked().get(0);
                assertThat(best.start()).isEqualTo(20);
                assertThat(best.end()).isEqualTo(25);
                assertThat(best.minPrediction()).isLessThan(s.initialPrediction() - 0.1);
                for (SweepResult.Chunk k : s.chunks()) {
                    if (k.start() != 20) {
                        assertThat(k.minPrediction()).as("chunk [%d, %d)", k.start(), k.end())
                                .isEqualTo(s.initialPrediction());
                        assertThat(k.pixelChange()).isZero();
                    }
                }
                double[] curve = s.slicePrediction();
                assertThat(curve).hasSize(D);
                assertThat(curve[22]).isEqualTo(best.minPrediction());
                assertThat(curve[0]).isEqualTo(s.initialPrediction());
                double[] change = s.sliceChange(false);
                double[] squared = s.sliceChange(true);
                assertThat(change[22]).isGreaterThan(0);
                assertThat(change[30]).isZero();
                assertThat(squared[22]).isGreaterThan(0).isNotEqualTo(change[22]);
                assertThat(squared[30]).isZero();
                // The mosaic, re-scored, is as low as the best chunk's: no other chunk moved.
                assertThat(s.stitchedPrediction()).isCloseTo(best.minPrediction(), within(1e-4));
                assertThat(s.counterfactualPrediction()).isEqualTo(best.minPrediction());
            }
        }
    }

    /** The logit of a classifier that sees slices 20..24 (weight 60) and 5..9 (weight 30): two chunks lower it. */
    private static String twoRegions() {
        return "return ((" + M + " - " + num(m0) + ") * 60.0 + (x[:, :, 5:10].mean(dim=[1, 2, 3, 4]) - " + num(m5)
                + ") * 30.0 + 1.5).unsqueeze(1)";
    }

    @Test
    void aSweepsCounterfactualIsItsBestChunksOwnAndTheMosaicOfEveryChunkIsOnlyShownBesideIt() {
        try (Classifier c = classifier(twoRegions())) {
            ExplainOptions o = ExplainOptions.builder().target(Target.sigmoidOf(0)).lambdaSweepSteps(2).build();
            try (SweepResult s = LatentShift.sweep(volume, ae, c, o, ChunkSweep.of(5), null);
                    SweepResult g = LatentShift.sweep(volume, ae, c, o.toBuilder()
                            .stitch(ExplainOptions.Stitch.GREEDY).build(), ChunkSweep.of(5), null)) {
                SweepResult.Chunk best = s.ranked().get(0);
                SweepResult.Chunk second = s.ranked().get(1);
                assertThat(List.of(best.start(), second.start())).containsExactly(20, 5);
                assertThat(second.minPrediction()).isLessThan(s.initialPrediction() - 0.01);
                // the paper's result: the best chunk on its own, scored as the search scored it
                assertThat(s.found()).isTrue();
                assertThat(s.counterfactualChunks()).containsExactly(best);
                assertThat(s.counterfactualPrediction()).isEqualTo(best.minPrediction())
                        .isEqualTo(s.minimumPrediction());
                int plane = volume.nx() * volume.ny();
                float[] a = new float[plane];
                float[] b = new float[plane];
                for (int z = 0; z < D; z++) {
                    s.counterfactual().read((long) z * plane, a);
                    s.reconstruction().read((long) z * plane, b);
                    if (z < 20 || z >= 25) {
                        assertThat(a).as("slice %d outside the best chunk", z).containsExactly(b);
                    } else {
                        assertThat(a).as("slice %d of the best chunk", z).isNotEqualTo(b);
                    }
                    s.heatmap().read((long) z * plane, a);
                    if (z < 20 || z >= 25) {
                        assertThat(a).as("heatmap slice %d", z).containsOnly(0f);
                    }
                }
                // the mosaic holds both chunks' changes: it scores lower than the method's result, and is not it
                assertThat(s.stitchedPrediction()).isLessThan(s.counterfactualPrediction() - 1e-3);
                s.stitched().read(7L * plane, a);
                s.reconstruction().read(7L * plane, b);
                assertThat(a).isNotEqualTo(b);
                // greedy: the second chunk joins because the re-scored composite drops; here it is the mosaic
                assertThat(g.counterfactualChunks()).containsExactly(g.ranked().get(0), g.ranked().get(1));
                assertThat(g.counterfactualPrediction()).isLessThan(best.minPrediction())
                        .isCloseTo(g.stitchedPrediction(), within(1e-5));
                assertThat(g.minimumPrediction()).isEqualTo(s.minimumPrediction());
            }
        }
    }

    @Test
    void aSweepInWhichNoChunkLowersThePredictionFindsNoCounterfactualAndIgnoresFramesThatRaiseIt() {
        // a quadratic just past its minimum: the first step against the gradient overshoots and raises the score
        String overshoot = "return ((" + M + " - " + num(m0 + 0.0005) + ") * (" + M + " - " + num(m0 + 0.0005)
                + ") * 100000.0 + 0.5).unsqueeze(1)";
        String flat = "return (x.mean(dim=[1, 2, 3, 4]) * 0.0 + 0.3).unsqueeze(1)";
        for (String body : List.of(overshoot, flat)) {
            for (ExplainOptions.Stitch stitch : ExplainOptions.Stitch.values()) {
                try (Classifier c = classifier(body); SweepResult s = LatentShift.sweep(volume, ae, c, ExplainOptions
                        .builder().target(Target.raw(0)).lambdaSweepSteps(2).searchMaxSteps(60).stitch(stitch)
                        .build(), ChunkSweep.of(5), null)) {
                    String what = (body == flat ? "flat" : "overshoot") + ", " + stitch;
                    assertThat(s.found()).as(what).isFalse();
                    assertThat(s.counterfactualChunks()).as(what).isEmpty();
                    assertThat(s.counterfactualPrediction()).as(what).isEqualTo(s.initialPrediction())
                            .isEqualTo(s.minimumPrediction());
                    assertThat(Metrics.toArray(s.counterfactual())).as(what)
                            .containsExactly(Metrics.toArray(s.reconstruction()));
                    assertThat(Metrics.toArray(s.heatmap())).as(what).containsOnly(0f);
                    if (body == overshoot) {
                        SweepResult.Chunk risen = s.chunks().get(4);
                        assertThat(risen.start()).isEqualTo(20);
                        assertThat(risen.stopReason()).isEqualTo(StopReason.PREDICTION_ROSE);
                        // the mosaic takes every chunk's frame 0 as the reference does: here, worse than the input
                        assertThat(s.stitchedPrediction()).as(what).isGreaterThan(s.initialPrediction());
                    }
                }
            }
        }
    }

    @Test
    void aResultCrossesSliceBySliceAndAFrameIsTheReconstructionOutsideItsChunk() {
        try (Classifier c = classifier("return ((" + M + " - " + num(m0) + ") * 60.0 + 1.5).unsqueeze(1)")) {
            ExplainOptions o = ExplainOptions.builder().target(Target.sigmoidOf(0)).lambdaSweepSteps(3).build();
            Explanation e = LatentShift.explain(volume, ae, c, o, 20, 25, null);
            int plane = volume.nx() * volume.ny();
            float[] x0 = new float[plane];
            float[] read = new float[plane];
            boolean moved = false;
            // Slices before frames are materialised come from the kernel's chunk-only frames...
            for (int z : new int[] {0, 19, 20, 24, 25, volume.nz() - 1}) {
                float[] slice = e.frameSlice(0, z);
                e.reconstruction().read((long) z * plane, x0);
                if (z < 20 || z >= 25) {
                    assertThat(slice).as("slice %d outside the chunk", z).containsExactly(x0);
                } else {
                    moved |= !java.util.Arrays.equals(slice, x0);
                }
            }
            assertThat(moved).as("the counterfactual changes the chunk").isTrue();
            // ...and agree with the whole frame once it is copied out (the same object on every call).
            Volume f0 = e.frame(0);
            assertThat(e.counterfactual()).isSameAs(f0);
            for (int z : new int[] {3, 22}) {
                f0.read((long) z * plane, read);
                assertThat(e.frameSlice(0, z)).containsExactly(read);
            }
            e.close();
            e.close();
            assertThat(f0.isClosed()).isTrue();
            assertThatThrownBy(() -> e.frameSlice(1, 0)).isInstanceOf(CtcfException.ResourceClosedException.class);
        }
    }

    @Test
    void heatmapsFollowTheirDefinitions() {
        try (Classifier c = classifier("return ((" + M + " - " + num(m0) + ") * 60.0 + 1.5).unsqueeze(1)")) {
            for (HeatmapMethod h : HeatmapMethod.values()) {
                ExplainOptions o = ExplainOptions.builder().target(Target.sigmoidOf(0)).heatmap(h).lambdaSweepSteps(4)
                        .build();
                try (Explanation e = LatentShift.explain(volume, ae, c, o, 20, 25, null)) {
                    List<Volume> f = e.frames();
                    double maxErr = 0;
                    double maxHeat = 0;
                    for (int z = 18; z < 27; z++) {
                        for (int y = 0; y < 16; y += 3) {
                            for (int x = 0; x < 16; x += 3) {
                                double x0 = e.reconstruction().get(x, y, z);
                                double expected = switch (h) {
                                    case INT -> {
                                        double s = 0;
                                        for (int i = 0; i < 3; i++) {
                                            s += Math.abs(f.get(i).get(x, y, z) - f.get(i + 1).get(x, y, z));
                                        }
                                        yield s / 3;
                                    }
                                    case MEAN -> {
                                        double s = 0;
                                        for (Volume v : f) {
                                            s += Math.abs(x0 - v.get(x, y, z));
                                        }
                                        yield s / 4;
                                    }
                                    case MAX -> {
                                        double m = 0;
                                        for (Volume v : f) {
                                            m = Math.max(m, Math.abs(x0 - v.get(x, y, z)));
                                        }
                                        yield m;
                                    }
                                    case MM -> Math.abs(f.get(0).get(x, y, z) - f.get(3).get(x, y, z));
                                };
                                maxErr = Math.max(maxErr, Math.abs(e.heatmap().get(x, y, z) - expected));
                                maxHeat = Math.max(maxHeat, Math.abs(expected));
                            }
                        }
                    }
                    assertThat(maxErr).as("%s", h).isLessThanOrEqualTo(1e-6);
                    // the frames move, so the definitions are checked on a heatmap that is not all zero
                    assertThat(maxHeat).as("%s: largest heatmap value", h).isGreaterThan(1e-3);
                }
            }
        }
    }

    @Test
    void fixedRangeSkipsTheSearchAndUsesLinspace() {
        try (Classifier c = classifier("return (" + M + " * 3.0).unsqueeze(1)");
                Explanation e = LatentShift.explain(volume, ae, c, ExplainOptions.builder().fixRange(-100, 20)
                        .lambdaSweepSteps(4).build(), 20, 25, null)) {
            assertThat(e.stopReason()).isEqualTo(StopReason.NONE);
            assertThat(e.lambdas()).containsExactly(-100, -60, -20, 20);
            assertThat(e.searchLambdas()).isEmpty();
        }
    }

    @Test
    void progressIsReportedAndTheListenerCanCancel() {
        try (Classifier c = classifier("return (" + M + " * 0.000000001 + 0.5).unsqueeze(1)")) {
            List<Progress> seen = new ArrayList<>();
            try (SweepResult s = LatentShift.sweep(volume, ae, c, ExplainOptions.builder().target(Target.raw(0))
                    .lambdaSweepSteps(2).build(), ChunkSweep.of(16), p -> seen.add(p))) {
                assertThat(s.chunks()).hasSize(3);
            }
            assertThat(seen).extracting(Progress::phase).contains(Progress.Phase.ENCODE, Progress.Phase.GRADIENT,
                    Progress.Phase.SEARCH_STEP, Progress.Phase.SWEEP_FRAME, Progress.Phase.CHUNK_DONE);
            assertThat(seen.stream().filter(p -> p.phase() == Progress.Phase.CHUNK_DONE).count()).isEqualTo(3);
            AtomicInteger calls = new AtomicInteger();
            assertThatThrownBy(() -> LatentShift.sweep(volume, ae, c, ExplainOptions.defaults(), ChunkSweep.of(16),
                    p -> calls.incrementAndGet() < 5)).isInstanceOf(CtcfException.CancelledException.class);
            assertThat(calls.get()).isEqualTo(5);
            // A listener that throws cancels too, and its exception is reported.
            assertThatThrownBy(() -> LatentShift.sweep(volume, ae, c, ExplainOptions.defaults(), ChunkSweep.of(16),
                    p -> {
                        throw new IllegalStateException("listener broke");
                    })).hasMessageContaining("listener broke");
            // The kernel still works afterwards.
            try (Explanation e = LatentShift.explain(volume, ae, c, ExplainOptions.builder().fixRange(0, 0)
                    .lambdaSweepSteps(2).build(), 0, 4, null)) {
                assertThat(e.frames()).hasSize(2);
            }
        }
    }

    @Test
    void badChunksAndClassifiersGiveClearErrors() {
        try (Classifier c = classifier("return x.mean(dim=[1, 2, 3, 4]).unsqueeze(1)")) {
            assertThatThrownBy(() -> LatentShift.explain(volume, ae, c, ExplainOptions.defaults(), 40, 60, null))
                    .isInstanceOf(CtcfException.InvalidArgumentException.class).hasMessageContaining("[40, 60)");
            assertThatThrownBy(() -> LatentShift.sweep(volume, ae, c, ExplainOptions.defaults(), ChunkSweep.of(64),
                    null)).isInstanceOf(CtcfException.InvalidArgumentException.class)
                    .hasMessageContaining("chunk size 64 is larger than the 48 slices");
            assertThatThrownBy(() -> LatentShift.explain(volume, ae, c, ExplainOptions.builder()
                    .target(Target.raw(3)).build(), 0, 4, null)).isInstanceOf(CtcfException.TorchException.class)
                    .hasMessageContaining("target index 3");
        }
        try (Classifier nan = classifier("return (x.mean(dim=[1, 2, 3, 4]) * float('nan')).unsqueeze(1)")) {
            assertThatThrownBy(() -> LatentShift.explain(volume, ae, nan, ExplainOptions.defaults(), 0, 4, null))
                    .isInstanceOf(CtcfException.InvalidArgumentException.class).hasMessageContaining("non-finite");
        }
        assertThatThrownBy(() -> classifier("return x.mean(dim=[1, 2, 3, 4]) +"))
                .isInstanceOf(CtcfException.InvalidArgumentException.class).hasMessageContaining("does not compile");
    }

    @Test
    void torchScriptClassifiersSaveAndLoad() throws IOException {
        Path file = tmp.resolve("clf.pt");
        try (Classifier c = classifier("return (x.mean(dim=[1, 2, 3, 4]) * 2.0).unsqueeze(1)")) {
            c.save(file);
            try (Classifier back = Classifier.loadTorchScript(file, Classifier.Layout.BCDHW, 0, kernel)) {
                assertThat(back.predict(volume)).containsExactly(c.predict(volume));
            }
        }
        assertThatThrownBy(() -> Classifier.loadTorchScript(tmp.resolve("none.pt"), Classifier.Layout.BCDHW, 0, kernel))
                .isInstanceOf(java.nio.file.NoSuchFileException.class);
        Path junk = tmp.resolve("junk.pt");
        java.nio.file.Files.writeString(junk, "not torchscript");
        assertThatThrownBy(() -> Classifier.loadTorchScript(junk, Classifier.Layout.BCDHW, 0, kernel))
                .isInstanceOf(org.ctcf.io.checkpoint.ModelFormatException.class).hasMessageContaining("junk.pt");
    }
}
