package org.ctcf.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.ctcf.TestPaths;
import org.ctcf.api.ClassifierCard;
import org.ctcf.api.Models;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** The training commands end to end on the small fixture CTs (a few steps), the model cards, the shipped models. */
class TrainCliTest {
    @TempDir
    Path tmp;

    static CliTest.Result run(String... args) {
        return CliTest.run(args);
    }

    Path manifest() throws IOException {
        Path vol = TestPaths.root().resolve("tests/fixtures/volumes");
        Path m = tmp.resolve("manifest.txt");
        // one scan, listed under two patient ids: enough to exercise the commands
        Files.writeString(m, "train elastix_lung_baseline_small.nii.gz mask=threshold patient=a\n"
                + "val 3DCT_lung_baseline_small.mha mask=threshold patient=b\n");
        Files.copy(vol.resolve("elastix_lung_baseline_small.nii.gz"), tmp.resolve("elastix_lung_baseline_small.nii.gz"));
        Files.copy(vol.resolve("3DCT_lung_baseline_small.mha"), tmp.resolve("3DCT_lung_baseline_small.mha"));
        return m;
    }

    @Test
    void trainAeCheckpointsResumesExportsAndEvaluates() throws IOException {
        Path m = manifest();
        Path out = tmp.resolve("ae");
        String[] common = {"train", "ae", "--manifest", m.toString(), "-o", out.toString(), "--crop", "32", "--batch",
            "2", "--n-embed", "32", "--z-channels", "8", "--validate-every", "2", "--checkpoint-every", "2"};
        CliTest.Result r = run(concat(common, "--steps", "2"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("step 2 validation 3DCT_lung_baseline_small.mha: PSNR").contains("after 2 steps");
        assertThat(out.resolve("checkpoint.safetensors")).isRegularFile();
        CliTest.Result again = run(concat(common, "--steps", "3", "--resume"));
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("after 3 steps").doesNotContain("1/3");
        Path card = out.resolve("autoencoder.json");
        CliTest.Result ev = run("ae", "evaluate", "--manifest", m.toString(), "--autoencoder",
                out.resolve("autoencoder.safetensors").toString(), "--card", card.toString());
        assertThat(ev.code()).as(ev.err()).isZero();
        assertThat(ev.out()).contains("held-out").contains("train ");
        JsonNode c = new ObjectMapper().readTree(card.toFile());
        assertThat(c.get("kind").asText()).isEqualTo("autoencoder");
        assertThat(c.get("metrics").get("volumes")).hasSize(2);
        assertThat(c.get("metrics").get("volumes").get(0).get("psnr_db").asDouble()).isBetween(0.0, 80.0);
        assertThat(c.get("training").get("steps").asText()).isEqualTo("3");
        assertThat(Models.autoencoderWeights(card)).isEqualTo(out.resolve("autoencoder.safetensors").toAbsolutePath());
        CliTest.Result roundtrip = run("ae", "roundtrip", TestPaths.sample().toString(), "--autoencoder",
                card.toString());
        assertThat(roundtrip.code()).as(roundtrip.err()).isZero();
        assertThat(roundtrip.out()).contains("wrapper plain").doesNotContain("wrapper reference");
        CliTest.Result models = run("models", "--dir", out.toString());
        assertThat(models.out()).contains("autoencoder.json").contains("held-out PSNR");
    }

    @Test
    void trainAeTakesTheLpipsWeightsAndReportsThePerceptualTerm() throws IOException {
        Path m = manifest();
        Path vgg = tmp.resolve("vgg16.safetensors");
        try (org.ctcf.api.Kernel k = org.ctcf.api.Kernel.open();
                org.ctcf.api.Perceptual p = org.ctcf.api.Perceptual.create(k)) {
            p.save(vgg, false);
        }
        Path out = tmp.resolve("ae-lpips");
        CliTest.Result r = run("train", "ae", "--manifest", m.toString(), "-o", out.toString(), "--crop", "32",
                "--batch", "2", "--n-embed", "32", "--z-channels", "8", "--steps", "1", "--lpips-vgg", vgg.toString(),
                "--perceptual-weight", "0.5");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("lpips ").contains("after 1 steps");
        CliTest.Result linOnly = run("train", "ae", "--manifest", m.toString(), "-o", out.toString(), "--lpips-lin",
                vgg.toString());
        assertThat(linOnly.code()).isNotZero();
        assertThat(linOnly.err()).contains("--lpips-lin needs --lpips-vgg");
        CliTest.Result missing = run("train", "ae", "--manifest", m.toString(), "-o", out.toString(), "--lpips-vgg",
                tmp.resolve("absent.pth").toString());
        assertThat(missing.code()).isNotZero();
        assertThat(missing.err()).contains("absent.pth");
    }

    @Test
    void trainClassifiersWriteCardsThatLoadWithTheirMetrics() throws IOException {
        Path m = manifest();
        Path lung = tmp.resolve("lung");
        CliTest.Result r = run("train", "classifier", "--task", "lung-size", "--manifest", m.toString(), "-o",
                lung.toString(), "--steps", "3", "--batch", "1");
        assertThat(r.code()).as(r.err()).isZero();
        ClassifierCard card = ClassifierCard.read(lung.resolve("lung-size.json"));
        assertThat(card.architecture()).isEqualTo("ctcf-lungseg");
        assertThat(card.score().reducer()).isEqualTo("mean");
        JsonNode j = new ObjectMapper().readTree(lung.resolve("lung-size.json").toFile());
        assertThat(j.get("metrics").get("dice").get(0).get("dice").asDouble()).isBetween(0.0, 1.0);
        assertThat(j.get("training").get("command").asText()).contains("--task lung-size");

        Path nod = tmp.resolve("nodule");
        CliTest.Result n = run("train", "classifier", "--task", "nodule", "--manifest", m.toString(), "-o",
                nod.toString(), "--steps", "2", "--batch", "2", "--test-crops", "6", "--test-volumes", "4", "--noise", "40");
        assertThat(n.code()).as(n.err()).isZero();
        JsonNode nc = new ObjectMapper().readTree(nod.resolve("nodule-detector.json").toFile());
        assertThat(nc.get("metrics").get("held_out_auc").asDouble()).isBetween(0.0, 1.0);
        // the default width (16) is part of the architecture the card names, and of the command that repeats it
        assertThat(ClassifierCard.read(nod.resolve("nodule-detector.json")).architecture())
                .isEqualTo("ctcf-nodule3d-w16");
        assertThat(nc.get("model").fieldNames()).toIterable().containsExactly("architecture", "weights");
        assertThat(nc.get("training").get("command").asText()).contains("--width 16").contains("--test-volumes 4")
                .contains("--label-smoothing 0.1").contains("--noise 40.0").doesNotContain("--vessels");
        JsonNode set = new ObjectMapper().readTree(nod.resolve("test-set.json").toFile());
        assertThat(set.get("crops")).hasSize(6);
        int withNodule = 0;
        for (JsonNode c : set.get("crops")) {
            if (c.get("label").asInt() == 1) {
                withNodule++;
                assertThat(c.get("nodule_center_world_mm")).hasSize(3);
                assertThat(c.get("nodule_diameter_mm").asDouble()).isBetween(4.0, 24.0);
            }
        }
        assertThat(withNodule).isEqualTo(3);
        // a resume with other training options is refused before any step, naming the checkpoint
        CliTest.Result other = run("train", "classifier", "--task", "nodule", "--manifest", m.toString(), "-o",
                nod.toString(), "--steps", "3", "--batch", "2", "--test-crops", "6", "--test-volumes", "4", "--noise",
                "20", "--resume");
        assertThat(other.code()).isNotZero();
        assertThat(other.err()).contains("checkpoint.safetensors").contains("other options")
                .contains("noise_hu=40.0").contains("noise_hu=20.0");
        // the volume-level test: whole volumes, calibrated on the training volume (no calib split here)
        JsonNode metrics = nc.get("metrics");
        assertThat(metrics.get("volume_auc").asDouble()).isBetween(0.0, 1.0);
        assertThat(metrics.get("volume_test").get("positives").asInt()).isEqualTo(4);
        assertThat(metrics.get("volume_test").get("negatives").asInt()).isEqualTo(2);
        assertThat(metrics.get("calibration").get("split").asText()).isEqualTo("train");
        assertThat(metrics.get("calibration").get("a").asDouble()).isPositive();
        assertThat(metrics.get("nodule_free_scans")).hasSize(2).allSatisfy(scan -> {
            assertThat(scan.get("score").asDouble()).isBetween(0.0, 1.0);
            assertThat(scan.get("lung_fraction").asDouble()).isBetween(0.001, 0.5);
        });
        JsonNode vols = new ObjectMapper().readTree(nod.resolve("volume-test-set.json").toFile()).get("volumes");
        assertThat(vols).hasSize(8 + 6);  // calibration: 4 insertions, as many negatives; test: 4 and 2
        for (JsonNode v : vols) {
            if (v.get("label").asInt() == 1) {
                double d = v.get("nodule_diameter_mm").asDouble();
                assertThat(java.util.stream.DoubleStream.of(5, 10, 15, 20).map(x -> Math.abs(x - d)).min()
                        .orElseThrow()).isLessThan(1e-9);
                assertThat(v.get("nodule_center_world_mm")).hasSize(3);
            }
        }
        // the held-out rows carry the shipped (calibrated) model's logit, whose sigmoid is the score
        for (JsonNode v : vols) {
            if (v.get("split").asText().equals("held-out")) {
                assertThat(v.get("score").asDouble()).isCloseTo(1 / (1 + Math.exp(-v.get("logit").asDouble())),
                        org.assertj.core.api.Assertions.within(1e-12));
            }
        }
        CliTest.Result bad = run("train", "classifier", "--task", "spleen", "--manifest", m.toString());
        assertThat(bad.code()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        assertThat(bad.err()).contains("unknown task 'spleen'");
    }

    @Test
    void insertNodulePutsASeededNoduleInsideTheMask() throws IOException {
        Path mask = TestPaths.sample().resolveSibling("cip_ct64_lungmask.nii.gz");
        Path out = tmp.resolve("with-nodule.nii.gz");
        CliTest.Result r = run("train", "insert-nodule", TestPaths.sample().toString(), "--mask", mask.toString(),
                "--seed", "4", "--diameter", "15", "-o", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode rec = new ObjectMapper().readTree(tmp.resolve("with-nodule.json").toFile());
        assertThat(rec.get("diameter_mm").asDouble()).isCloseTo(15.0, org.assertj.core.api.Assertions.within(1e-6));
        int x = rec.get("center_voxel").get(0).asInt();
        int y = rec.get("center_voxel").get(1).asInt();
        int z = rec.get("center_voxel").get(2).asInt();
        try (Volume a = VolumeIO.read(TestPaths.sample()); Volume b = VolumeIO.read(out); Volume m = VolumeIO.read(mask)) {
            assertThat(m.get(x, y, z)).isEqualTo(1f);
            assertThat(b.get(x, y, z)).isGreaterThan(a.get(x, y, z) + 300);
            assertThat(b.get(0, 0, 0)).isEqualTo(a.get(0, 0, 0));
            assertThat(b.geometry().affine()).containsExactly(a.geometry().affine());
        }
        CliTest.Result wrongGrid = run("train", "insert-nodule", TestPaths.sample().toString(), "--mask",
                TestPaths.fixture("elastix_lung_baseline_lungmask.nii.gz").toString(), "-o", out.toString());
        assertThat(wrongGrid.code()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        assertThat(wrongGrid.err()).contains("differs from the CT's");
    }

    @Test
    void theShippedModelsAreListedAndExplainTheShippedSampleWithNoOtherArgument() throws IOException {
        CliTest.Result models = run("models");
        assertThat(models.code()).as(models.err()).isZero();
        assertThat(models.out()).containsPattern("autoencoder.json +autoencoder +\\S+ \\(default\\)")
                .containsPattern("nodule-detector.json +classifier +nodule-detector \\(default\\)")
                .contains("nodule-detector.json").contains("held-out PSNR").contains("held-out Dice")
                .contains("held-out AUC");
        Path out = tmp.resolve("explained");
        Path sample = TestPaths.sample().resolveSibling("cip_ct64_nodule.nii.gz");
        // one chunk around the nodule (a whole sweep of the shipped models takes minutes on 2 cores; the sweep
        // outputs are checked with the tiny model in CliTest)
        CliTest.Result r = run("explain", sample.toString(), "--slices", "52:60", "--frames", "4", "-o",
                out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        ArtifactChecks.checkAll(out, sample, 4);
        JsonNode s = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        assertThat(s.get("classifier").asText()).isEqualTo("nodule-detector");
        assertThat(s.get("initial_prediction").asDouble()).isGreaterThan(0.5);  // the detector sees the nodule
        assertThat(s.get("counterfactual_prediction").asDouble()).isLessThan(s.get("initial_prediction").asDouble());
    }

    static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
