package org.ctcf.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import org.ctcf.TestPaths;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI run in-process with captured streams. */
class CliTest {
    @TempDir
    Path tmp;

    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    /** Saves a BCHWD TorchScript classifier with this forward body as NAME.pt and writes NAME.json. */
    Path torchScriptCard(String name, String forwardBody, String cardJson) throws IOException {
        try (org.ctcf.api.Kernel k = org.ctcf.api.Kernel.open();
                org.ctcf.api.Classifier c = org.ctcf.api.Classifier.define("def forward(self, x):\n" + forwardBody,
                        org.ctcf.api.Classifier.Layout.BCHWD, 0, k)) {
            c.save(tmp.resolve(name + ".pt"));
        }
        Path card = tmp.resolve(name + ".json");
        Files.writeString(card, cardJson);
        return card;
    }

    @Test
    void versionAndHelp() {
        Result r = run("--version");
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("ctcf ");
        Result h = run("--help");
        assertThat(h.code()).isZero();
        assertThat(h.out()).contains("info").contains("preprocess").contains("Exit codes");
        for (String[] sub : new String[][] {{"preprocess", "--help"}, {"bench", "--help"}, {"bench", "explain", "--help"},
            {"ae", "roundtrip", "--help"}, {"predict", "--help"}, {"segment", "--help"}}) {
            Result r2 = run(sub);
            assertThat(r2.code()).as(String.join(" ", sub)).isZero();
            assertThat(r2.out()).startsWith("Usage: ctcf " + sub[0]);
        }
    }

    @Test
    void infoPrintsDimsSpacingOrientationRangeAndAffine() {
        Result r = run("info", TestPaths.sample().toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("dims:         64 x 64 x 79").contains("spacing (mm): 4.17187 x 4.17187 x 3.98734")
                .contains("orientation:  LPS").contains("value range:  -1007.00 .. 1095.00")
                .contains("affine (voxel -> RAS+ mm)").contains("NIfTI-1 (gzip), int16");
    }

    @Test
    void preprocessWritesTheProcessedVolumeAndTheRestoredOne() throws IOException {
        Path out = tmp.resolve("p.nii.gz");
        Path back = tmp.resolve("back.nii.gz");
        Result r = run("preprocess", TestPaths.sample().toString(), out.toString(), "--restore", back.toString());
        assertThat(r.code()).as(r.err()).isZero();
        try (Volume p = VolumeIO.read(out); Volume b = VolumeIO.read(back); Volume in = VolumeIO.read(TestPaths.sample())) {
            assertThat(p.geometry().dims()).containsExactly(224, 224, 105);
            assertThat(b.geometry().affine()).containsExactly(in.geometry().affine());
        }
        Result q = run("preprocess", "-q", TestPaths.sample().toString(), tmp.resolve("q.nii.gz").toString(),
                "--spacing", "3,3,6", "--size", "0,0");
        assertThat(q.code()).as(q.err()).isZero();
        assertThat(q.out()).isEmpty();
    }

    @Test
    void errorsMapToDocumentedExitCodesWithClearMessages() throws IOException {
        Result missing = run("info", tmp.resolve("nope.nii.gz").toString());
        assertThat(missing.code()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(missing.err()).contains("nope.nii.gz").contains("no such file");

        Path junk = tmp.resolve("junk.nii");
        Files.writeString(junk, "this is not a volume at all, just some text to fill the header");
        Result bad = run("info", junk.toString());
        assertThat(bad.code()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(bad.err()).contains("junk.nii").contains("not a NIfTI file");

        Result usage = run("info");
        assertThat(usage.code()).isEqualTo(ExitCode.USAGE.code());
        assertThat(usage.err()).contains("Missing required parameter");

        Result unknown = run("preprocess", "--frobnicate", "a", "b");
        assertThat(unknown.code()).isEqualTo(ExitCode.USAGE.code());

        Result both = run("info", "-v", "-q", TestPaths.sample().toString());
        assertThat(both.code()).isEqualTo(ExitCode.USAGE.code());
        assertThat(both.err()).contains("mutually exclusive");

        Result badValue = run("preprocess", TestPaths.sample().toString(), tmp.resolve("o.nii.gz").toString(),
                "--spacing", "1,2");
        assertThat(badValue.code()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        assertThat(badValue.err()).contains("--spacing takes 3 values");

        Result device = run("preprocess", TestPaths.sample().toString(), tmp.resolve("o.nii.gz").toString(),
                "--device", "tpu");
        assertThat(device.code()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        assertThat(device.err()).contains("unknown device 'tpu'");

        Result badOut = run("preprocess", TestPaths.sample().toString(), tmp.resolve("o.png").toString());
        assertThat(badOut.code()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(badOut.err()).contains("o.png").contains("NIfTI");
        assertThat(tmp.resolve("o.png")).doesNotExist();

        Result oneStep = run("explain", TestPaths.sample().toString(), "--sweep-steps", "1", "-o",
                tmp.resolve("x").toString());
        assertThat(oneStep.code()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        assertThat(oneStep.err()).contains("--sweep-steps must be >= 2");

        Result noWeights = run("explain", TestPaths.sample().toString(), "--classifier",
                TestPaths.root().resolve("models/paper/lungmask-r231-lung-size.json").toString(), "-o",
                tmp.resolve("y").toString());
        assertThat(noWeights.code()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(noWeights.err()).contains("lungmask-r231-lung-size.json").contains("unet_r231-d5d2fc3d.pth")
                .contains("which is not there").contains("lungmask release v0.0");
        assertThat(tmp.resolve("y")).doesNotExist();

        Result noAe = run("explain", TestPaths.sample().toString(), "--autoencoder",
                TestPaths.root().resolve("models/paper/ct2-vqgan256.json").toString(), "-o",
                tmp.resolve("z").toString());
        assertThat(noAe.code()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(noAe.err()).contains("2023-12-25T10-26-40_ct2_vqgan256_sddd.ckpt, which is not there");
    }

    @Test
    void modelsListsEveryCardWithMissingWeightsAndTheBuiltins() {
        Result r = run("models");
        assertThat(r.code()).isEqualTo(0);
        assertThat(r.out()).contains("nodule-detector.json").contains("paper/ct2-vqgan256.json")
                .contains("paper/lungmask-r231-lung-size.json").contains("merlin/merlin-pleural-effusion.json")
                .contains("weights absent: put unet_r231-d5d2fc3d.pth in")
                .contains("weights absent: put i3_resnet_best_clip_04-02-2024_23-21-36_epoch_99.pt in")
                .contains("built-in architectures").contains("lungmask-unet").contains("i3resnet152")
                .contains("taming-vqgan").contains("ctcf-nodule3d");
    }

    @Test
    void doctorReportsTheLibraryAndPassesItsSelfTest() {
        Result r = run("doctor");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("native library:").contains("LibTorch").contains("self-test:      ok");
    }

    @Test
    void aeRoundtripWritesTheReconstructionOnTheInputGridAndPrintsErrorsInHu() throws IOException {
        Path out = tmp.resolve("rec.nii.gz");
        Result r = run("ae", "roundtrip", TestPaths.sample().toString(), "--autoencoder",
                TestPaths.vqgan("tiny_vqgan.ckpt").toString(), "--config", TestPaths.vqgan("tiny_vqgan.yaml").toString(),
                "--resize", "16", "-o", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("latents:      105 x 8 x 8 x 8").contains("PSNR:").contains("MAE:")
                .contains("236,969 parameters");
        try (Volume rec = VolumeIO.read(out); Volume in = VolumeIO.read(TestPaths.sample())) {
            assertThat(rec.geometry().affine()).containsExactly(in.geometry().affine());
            assertThat(rec.stats().nonFinite()).isZero();
        }
    }

    @Test
    void aeErrorsNameTheModelFile() throws IOException {
        Result missing = run("ae", "roundtrip", TestPaths.sample().toString(), "--autoencoder",
                tmp.resolve("none.ckpt").toString());
        assertThat(missing.code()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(missing.err()).contains("none.ckpt");

        Path evil = tmp.resolve("evil.pth");
        java.nio.file.Files.write(evil, "\u0080\u0002cos\nsystem\nX\u0002\u0000\u0000\u0000ls\u0085R."
                .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        // not a recognised container: refused before any pickle is read
        Result notCkpt = run("ae", "roundtrip", TestPaths.sample().toString(), "--autoencoder", evil.toString());
        assertThat(notCkpt.code()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(notCkpt.err()).contains("evil.pth");

        // issue 32: a legacy .pth whose main pickle uses a list that contains itself as a dict key, and one whose
        // key is a 2^100-leaf tuple: exit 3 with one line each (a StackOverflowError and a hang before)
        String header = "\u0080\u0002\u008a\nl\u00fc\u009cF\u00f9 j\u00a8P\u0019.\u0080\u0002M\u00e9\u0003.\u0080\u0002}.";
        for (String main : java.util.List.of("\u0080\u0002}]q\u0001h\u0001aK\u0001s.",
                "\u0080\u0002}K\u0001\u0085" + "2\u0086".repeat(100) + "K\u0001s]\u0085R.")) {
            Path bomb = tmp.resolve("bomb.pth");
            java.nio.file.Files.write(bomb, (header + main + "].").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            Result r = run("ae", "roundtrip", TestPaths.sample().toString(), "--autoencoder", bomb.toString());
            assertThat(r.code()).as(r.err()).isEqualTo(ExitCode.BAD_INPUT.code());
            assertThat(r.err().lines().toList()).as(r.err()).singleElement().asString().contains("bomb.pth")
                    .containsAnyOf("unhashable type: 'list'", "not a named function");
        }
    }

    @Test
    void benchAeRunsAndPrintsThroughputAndMemory() {
        Result r = run("bench", "ae", "--configs", "tiny", "--slices", "2", "--size", "32");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("cores").contains("encode/s").contains("peak RSS MiB").contains("tiny");
    }

    @Test
    void benchExplainRunsTheShippedModelsOnTheSampleOverASliceRange() {
        Result r = run("bench", "explain", "--defaults", "--chunks", "8", "--range", "56:64", "--no-reference");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("cip_ct64_nodule.nii.gz").contains("autoencoder.json")
                .contains("nodule-detector.json").contains("slices 56:64 of it as the volume")
                .contains("whole-volume latent gradient");
        // one chunk row: 8 fast, the 8-slice volume's reconstruction decoded at least
        String row = r.out().lines().filter(l -> l.strip().startsWith("8 fast")).findFirst().orElseThrow();
        long decoded = Long.parseLong(row.strip().split("\\s+")[3].replace(",", ""));
        assertThat(decoded).isGreaterThanOrEqualTo(8);

        Result bad = run("bench", "explain", "--defaults", "--range", "9:3");
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err()).contains("--range").contains("9:3");

        // the floor: printed with its terms and the fast / floor ratio, which cannot be below ~1 by much
        String floor = r.out().lines().filter(l -> l.strip().startsWith("8 floor")).findFirst().orElseThrow();
        double ratio = Double.parseDouble(floor.replaceAll(".*fast / floor ([0-9.]+)x.*", "$1"));
        assertThat(ratio).isGreaterThan(0.5);
        assertThat(r.out()).contains("floor = encode").contains("step slices x");
    }

    @Test
    void benchExplainAtThePapersShapeRunsBothModesAtAReducedSize() {
        Result r = run("bench", "explain", "--paper", "--slices", "2", "--size", "64", "--chunks", "1");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("paper-shaped random VQ-GAN").contains("Merlin I3ResNet-152")
                .contains("64x64x2 synthetic");
        assertThat(r.out().lines().filter(l -> l.strip().matches("1 (fast|floor|reference) .*")).count())
                .isEqualTo(3);
        Result mixed = run("bench", "explain", "--paper", "--defaults");
        assertThat(mixed.code()).isNotZero();
        assertThat(mixed.err()).contains("--paper brings its own models");
    }

    @Test
    void saliencyWritesEachMapOnTheInputGridAndAComparisonPanel() throws IOException {
        Path out = tmp.resolve("sal");
        Path sample = TestPaths.root().resolve("models/sample/cip_ct64_nodule.nii.gz");
        Result r = run("saliency", sample.toString(), "--methods", "gradient,occlusion,grad-cam", "--window",
                "35,112,112", "-o", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("gradient").contains("occlusion").contains("grad-cam").contains("saliency.png");
        try (Volume in = VolumeIO.read(sample); Volume g = VolumeIO.read(out.resolve("gradient.nii.gz"));
                Volume o = VolumeIO.read(out.resolve("occlusion.nii.gz"));
                Volume cam = VolumeIO.read(out.resolve("grad-cam.nii.gz"))) {
            assertThat(g.geometry().sameGrid(in.geometry(), 1e-4)).isTrue();
            assertThat(o.geometry().sameGrid(in.geometry(), 1e-4)).isTrue();
            assertThat(cam.geometry().sameGrid(in.geometry(), 1e-4)).isTrue();
            assertThat(g.stats().max() - g.stats().min()).isPositive();
            assertThat(cam.stats().min()).isGreaterThanOrEqualTo(0.0);
            assertThat(cam.stats().max()).isPositive();
        }
        var png = javax.imageio.ImageIO.read(out.resolve("saliency.png").toFile());
        assertThat(png.getWidth()).isEqualTo(4 * 224);
        Result bad = run("saliency", sample.toString(), "--methods", "guided", "-o", out.toString());
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err()).contains("guided-backprop");
        Result layer = run("saliency", sample.toString(), "--methods", "grad-cam", "--layer", "layer9", "-o",
                out.toString());
        assertThat(layer.code()).isNotZero();
        assertThat(layer.err()).contains("layer9").contains("features");
    }

    @Test
    void predictRunsATorchScriptClassifierFromItsCard() throws IOException {
        Path card = torchScriptCard("bright", "    m = x.mean(dim=[1, 2, 3, 4])\n"
                + "    return torch.stack([m, 1.0 - m], dim=1)\n", """
                {"name": "brightness", "model": {"torchscript": "bright.pt"}, "input": {"layout": "BCHWD"},
                 "output": {"kind": "probabilities", "classes": ["bright", "dark"]},
                 "score": {"target": "dark"}}
                """);
        Result r = run("predict", TestPaths.sample().toString(), "--classifier", card.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("classifier:   brightness (TorchScript)").contains("224x224x105")
                .contains("(dark, index 1, none)").contains("top outputs:").contains("bright");
        Result byName = run("predict", TestPaths.sample().toString(), "--classifier", card.toString(), "--target",
                "purple");
        assertThat(byName.code()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(byName.err()).contains("bright.json").contains("target 'purple'");
    }

    @Test
    void segmentRunsLungmasksOwnPipelineAndWritesLabelsOnTheInputGrid() throws IOException {
        try (org.ctcf.api.Kernel k = org.ctcf.api.Kernel.open();
                org.ctcf.api.Classifier c = org.ctcf.api.Classifier.builtin("lungmask-unet", 3,
                        org.ctcf.api.Classifier.Layout.BCDHW, 0, k)) {
            c.saveSafetensors(tmp.resolve("unet.safetensors"), "");
        }
        Path card = tmp.resolve("lungmask.json");
        Files.writeString(card, """
                {"name": "lungmask R231 (random weights)",
                 "model": {"architecture": "lungmask-unet", "weights": "unet.safetensors"},
                 "input": {"layout": "BCDHW"}, "preprocessing": {"mode": "lungmask"},
                 "output": {"kind": "log_probabilities", "classes": ["background", "right lung", "left lung"]},
                 "score": {"target": "background"}}
                """);
        // Two slices of the sample: the U-Net runs at 256 x 256 per slice, which is slow on two CPU cores.
        Path small = tmp.resolve("two-slices.nii.gz");
        try (Volume in = VolumeIO.read(TestPaths.sample())) {
            double[] a = in.geometry().affine();
            try (Volume two = Volume.allocate(new org.ctcf.core.Geometry(in.nx(), in.ny(), 2, a))) {
                for (int z = 0; z < 2; z++) {
                    for (int y = 0; y < in.ny(); y++) {
                        for (int x = 0; x < in.nx(); x++) {
                            two.set(x, y, z, in.get(x, y, 40 + z));
                        }
                    }
                }
                VolumeIO.write(two, small);
            }
        }
        Path out = tmp.resolve("labels.nii.gz");
        Result r = run("segment", small.toString(), "--classifier", card.toString(), "-o", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("label 0 background").contains("label 2 left lung").contains("wrote");
        try (Volume labels = VolumeIO.read(out); Volume in = VolumeIO.read(small)) {
            assertThat(labels.geometry().affine()).containsExactly(in.geometry().affine());
            Volume.VoxelStats st = labels.stats();
            assertThat(st.min()).isGreaterThanOrEqualTo(0.0);
            assertThat(st.max()).isLessThanOrEqualTo(2.0);
        }
    }

    @Test
    void explainWritesVolumesOnTheInputGridAndASummary() throws IOException {
        Path card = torchScriptCard("middle",
                "    return ((x[:, :, :, :, 40:60].mean(dim=[1, 2, 3, 4]) - 0.3) * 20.0).unsqueeze(1)\n", """
                {"name": "middle slices", "model": {"torchscript": "middle.pt"}, "input": {"layout": "BCHWD"},
                 "output": {"kind": "logits", "classes": ["bright middle"]},
                 "score": {"target": "bright middle", "activation": "sigmoid"}}
                """);
        Path outDir = tmp.resolve("explained");
        Result r = run("explain", TestPaths.sample().toString(), "--autoencoder",
                TestPaths.vqgan("tiny_vqgan.safetensors").toString(), "--resize", "16", "--classifier",
                card.toString(), "--chunk", "20", "-o", outDir.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("chunk 1/6 done").contains("outputs in")
                .containsPattern("chunk 6/6 done: lambda -?\\d+, prediction [0-9.]+; elapsed \\d+:\\d\\d:\\d\\d, ETA "
                        + "0:00:00");
        ArtifactChecks.checkAll(outDir, TestPaths.sample(), 10);
        try (Volume in = VolumeIO.read(TestPaths.sample())) {
            for (String f : new String[] {"counterfactual.nii.gz", "reconstruction.nii.gz", "heatmap.nii.gz"}) {
                try (Volume v = VolumeIO.read(outDir.resolve(f))) {
                    assertThat(v.geometry().affine()).as(f).containsExactly(in.geometry().affine());
                }
            }
        }
        var summary = new com.fasterxml.jackson.databind.ObjectMapper().readTree(outDir.resolve("summary.json").toFile());
        assertThat(summary.get("chunks")).hasSize(6);
        assertThat(summary.get("slice_prediction")).hasSize(105);
        assertThat(summary.get("initial_prediction").asDouble()).isBetween(0.0, 1.0);
        assertThat(summary.get("mode").asText()).isEqualTo("fast");
        try (var files = Files.list(outDir)) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".partial"))).isEmpty();
        }
        Result bad = run("explain", TestPaths.sample().toString(), "--autoencoder",
                TestPaths.vqgan("tiny_vqgan.safetensors").toString(), "--classifier", card.toString(), "--chunk", "500",
                "-o", outDir.toString());
        assertThat(bad.code()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        assertThat(bad.err()).contains("--chunk 500 must be between 1 and the processed volume's 105 slices");
        Result both = run("explain", TestPaths.sample().toString(), "--autoencoder",
                TestPaths.vqgan("tiny_vqgan.safetensors").toString(), "--classifier", card.toString(), "--chunk", "8",
                "--slices", "0:8");
        assertThat(both.code()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        assertThat(both.err()).contains("at most one of --slices");
        Result unknownTarget = run("explain", TestPaths.sample().toString(), "--autoencoder",
                TestPaths.vqgan("tiny_vqgan.safetensors").toString(), "--classifier", card.toString(), "--target",
                "spleen", "-o", outDir.toString());
        assertThat(unknownTarget.code()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(unknownTarget.err()).contains("spleen").contains("middle.json");
        Result badModel = run("explain", TestPaths.sample().toString(), "--autoencoder",
                tmp.resolve("nope.safetensors").toString(), "--classifier", card.toString(), "-o", outDir.toString());
        assertThat(badModel.code()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(badModel.err()).contains("nope.safetensors");
    }

    @Test
    void explainWithJsonProgressKeepsStdoutForTheSummaryAndQuietPrintsNothing() throws IOException {
        Path card = torchScriptCard("middle",
                "    return ((x[:, :, :, :, 40:60].mean(dim=[1, 2, 3, 4]) - 0.3) * 20.0).unsqueeze(1)\n", """
                {"name": "middle slices", "model": {"torchscript": "middle.pt"}, "input": {"layout": "BCHWD"},
                 "output": {"kind": "logits", "classes": ["bright middle"]},
                 "score": {"target": "bright middle", "activation": "sigmoid"}}
                """);
        String[] explain = {"explain", TestPaths.sample().toString(), "--autoencoder",
            TestPaths.vqgan("tiny_vqgan.safetensors").toString(), "--resize", "16", "--classifier", card.toString(),
            "--chunk", "35", "--no-report", "-o", tmp.resolve("json").toString()};
        String[] args = new String[explain.length + 2];
        args[0] = "--progress=json";
        System.arraycopy(explain, 0, args, 1, explain.length);
        args[args.length - 1] = "--json";
        Result r = run(args);
        assertThat(r.code()).as(r.err()).isZero();
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        assertThat(json.readTree(r.out()).get("chunks")).hasSize(3);  // stdout: the summary alone
        var events = r.err().lines().map(l -> {
            try {
                return json.readTree(l);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + l, e);
            }
        }).toList();
        assertThat(events).extracting(e -> e.get("phase").asText()).contains("ENCODE", "SEARCH_STEP", "CHUNK_DONE");
        var done = events.stream().filter(e -> e.get("phase").asText().equals("CHUNK_DONE")).toList();
        assertThat(done).extracting(e -> e.get("chunk").asInt()).containsExactly(1, 2, 3);
        assertThat(done).allSatisfy(e -> {
            assertThat(e.get("chunks").asInt()).isEqualTo(3);
            assertThat(e.get("elapsed_s").asDouble()).isPositive();
            assertThat(e.get("eta_s").asDouble()).isNotNegative();
        });
        Result q = run("-q", "explain", TestPaths.sample().toString(), "--autoencoder",
                TestPaths.vqgan("tiny_vqgan.safetensors").toString(), "--resize", "16", "--classifier",
                card.toString(), "--chunk", "35", "--no-report", "-o", tmp.resolve("quiet").toString());
        assertThat(q.code()).as(q.err()).isZero();
        assertThat(q.out()).isEmpty();
        assertThat(q.err()).isEmpty();
        Result bad = run("--progress=loud", "info", TestPaths.sample().toString());
        assertThat(bad.code()).isEqualTo(ExitCode.USAGE.code());
        assertThat(bad.err()).contains("auto, bar, plain, json, none");
    }

    @Test
    void helpEndsWithEveryExitCodeAndItsMeaning() {
        Result h = run("--help");
        // a long meaning continues on lines indented under it
        String footer = h.out().substring(h.out().indexOf("Exit codes:")).replaceAll("\\R {7}", " ");
        for (ExitCode c : ExitCode.values()) {
            assertThat(footer).as(c.name()).containsPattern("(?m)^ +" + c.code() + "  \\Q" + c.meaning() + "\\E$");
        }
    }

    /** README's exit-code table lists every code of ExitCode, and no other. */
    @Test
    void readmesExitCodeTableMatchesTheCode() throws IOException {
        String readme = java.nio.file.Files.readString(TestPaths.root().resolve("README.md"));
        String table = readme.substring(readme.indexOf("Exit codes:"), readme.indexOf("### Progress"));
        java.util.Set<Integer> listed = new java.util.TreeSet<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^\\| ([0-9, ]+) \\|").matcher(table);
        while (m.find()) {
            for (String c : m.group(1).split(",")) {
                listed.add(Integer.parseInt(c.strip()));
            }
        }
        java.util.Set<Integer> codes = new java.util.TreeSet<>();
        for (ExitCode c : ExitCode.values()) {
            codes.add(c.code());
        }
        codes.add(143);  // SIGTERM: the JVM's 128 + 15, documented beside 130 (ProcessExitTest)
        assertThat(listed).isEqualTo(codes);
    }

    @Test
    void exitCodeTableHasUniqueNumbers() {
        assertThat(java.util.Arrays.stream(ExitCode.values()).map(ExitCode::code).distinct().count())
                .isEqualTo(ExitCode.values().length);
    }
}
