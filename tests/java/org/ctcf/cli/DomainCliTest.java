package org.ctcf.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.ctcf.TestPaths;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A card's input domain on the command line: {@code predict} and {@code explain} report the lung fraction of the
 * processed volume and, outside the domain (no lungs in view), never print the score without the warning.
 */
class DomainCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int N = 32;
    private static final int NZ = 6;

    @TempDir
    Path tmp;

    /** A TorchScript classifier (mean intensity) on a 32 × 32 in-plane grid at 1.5 × 1.5 × 3 mm, with a domain. */
    private Path card(String domain) throws IOException {
        try (org.ctcf.api.Kernel k = org.ctcf.api.Kernel.open();
                org.ctcf.api.Classifier c = org.ctcf.api.Classifier.define("def forward(self, x):\n"
                        + "    return ((x.mean(dim=[1, 2, 3, 4]) - 0.3) * 20.0).unsqueeze(1)\n",
                        org.ctcf.api.Classifier.Layout.BCHWD, 0, k)) {
            c.save(tmp.resolve("mean.pt"));
        }
        Path card = tmp.resolve("mean.json");
        Files.writeString(card, """
                {"name": "mean", "model": {"torchscript": "mean.pt"}, "input": {"layout": "BCHWD"},
                 "preprocessing": {"spacing": [1.5, 1.5, 3], "window": [-1000, 1000], "size": [32, 32]},
                 "output": {"kind": "logits", "classes": ["bright"]},
                 "score": {"target": "bright", "activation": "sigmoid"}%s}
                """.formatted(domain));
        return card;
    }

    /** A 32 × 32 × 6 volume at the card's spacing: a 40 HU body ellipse, with two −800 HU lungs if asked. */
    private Path volume(String name, boolean lungs) throws IOException {
        float[] v = new float[N * N * NZ];
        for (int z = 0; z < NZ; z++) {
            for (int y = 0; y < N; y++) {
                for (int x = 0; x < N; x++) {
                    double hu = -1000;
                    if (in(x, y, 16, 16, 14, 11)) {
                        hu = 40;
                        if (lungs && (in(x, y, 10, 16, 4, 6) || in(x, y, 22, 16, 4, 6))) {
                            hu = -800;
                        }
                    }
                    v[(z * N + y) * N + x] = (float) hu;
                }
            }
        }
        Path f = tmp.resolve(name + ".nii.gz");
        try (Volume vol = Volume.of(Geometry.of(N, N, NZ, 1.5, 1.5, 3, -24, -24, 0), v)) {
            VolumeIO.write(vol, f);
        }
        return f;
    }

    private static boolean in(int x, int y, double cx, double cy, double ax, double ay) {
        double dx = (x - cx) / ax;
        double dy = (y - cy) / ay;
        return dx * dx + dy * dy <= 1;
    }

    @Test
    void predictWarnsOnAVolumeWithoutLungsAndStillGivesTheScore() throws IOException {
        Path card = card(", \"domain\": {\"lung_fraction_min\": 0.02}");
        Path noLungs = volume("abdomen", false);
        CliTest.Result r = CliTest.run("predict", noLungs.toString(), "--classifier", card.toString());
        assertThat(r.code()).as(r.err()).isZero();
        String warning = "lung fraction 0.000 — below the detector's training domain (≥ 0.020): no lungs in view, "
                + "the score is not meaningful";
        assertThat(r.out()).contains("WARNING:      " + warning).contains("[out of domain, not meaningful]");
        // the warning comes before the number
        assertThat(r.out().indexOf("WARNING:")).isLessThan(r.out().indexOf("score:"));
        assertThat(r.err()).contains("ctcf: warning: " + noLungs + ": " + warning);

        CliTest.Result j = CliTest.run("predict", noLungs.toString(), "--classifier", card.toString(), "--json");
        assertThat(j.code()).as(j.err()).isZero();
        JsonNode m = JSON.readTree(j.out());
        assertThat(m.get("in_domain").asBoolean()).isFalse();
        assertThat(m.get("lung_fraction").asDouble()).isZero();
        assertThat(m.get("lung_fraction_min").asDouble()).isEqualTo(0.02);
        assertThat(m.get("warning").asText()).isEqualTo(warning);
        assertThat(m.get("score").asDouble()).isBetween(0.0, 1.0);
        assertThat(j.err()).contains(warning);
    }

    @Test
    void predictReportsTheLungFractionOfAChestAndNothingWithoutADomain() throws IOException {
        Path chest = volume("chest", true);
        Path card = card(", \"domain\": {\"lung_fraction_min\": 0.02}");
        CliTest.Result j = CliTest.run("predict", chest.toString(), "--classifier", card.toString(), "--json");
        assertThat(j.code()).as(j.err()).isZero();
        JsonNode m = JSON.readTree(j.out());
        assertThat(m.get("in_domain").asBoolean()).isTrue();
        assertThat(m.has("warning")).isFalse();
        // the two lungs are 2 × π·4·6 ≈ 150 of the 1024 voxels of a slice
        assertThat(m.get("lung_fraction").asDouble()).isBetween(0.10, 0.18);
        CliTest.Result t = CliTest.run("predict", chest.toString(), "--classifier", card.toString());
        assertThat(t.out()).containsPattern("domain: +lung fraction 0\\.1\\d\\d \\(domain ≥ 0\\.020\\)")
                .doesNotContain("WARNING");
        assertThat(t.err()).doesNotContain("warning");

        Files.delete(card);
        Path plain = card("");
        CliTest.Result p = CliTest.run("predict", volume("abdomen", false).toString(), "--classifier",
                plain.toString(), "--json");
        assertThat(p.code()).as(p.err()).isZero();
        assertThat(JSON.readTree(p.out()).has("in_domain")).isFalse();
        assertThat(p.err()).doesNotContain("lung fraction");
    }

    /** The shipped sample with the shipped nodule detector, its card given a domain: in the domain. */
    @Test
    void theShippedSampleIsInsideTheNoduleDetectorsDomain() throws IOException {
        Path shipped = TestPaths.root().resolve("models/nodule-detector.json");
        ObjectMapper om = new ObjectMapper();
        var c = (com.fasterxml.jackson.databind.node.ObjectNode) om.readTree(shipped.toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) c.get("model")).put("weights",
                TestPaths.root().resolve("models").resolve(c.get("model").get("weights").asText()).toString());
        c.putObject("domain").put("lung_fraction_min", 0.02);
        Path card = tmp.resolve("nodule-detector.json");
        om.writeValue(card.toFile(), c);
        CliTest.Result r = CliTest.run("predict", TestPaths.root().resolve("models/sample/cip_ct64_nodule.nii.gz")
                .toString(), "--classifier", card.toString(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode m = JSON.readTree(r.out());
        assertThat(m.get("in_domain").asBoolean()).isTrue();
        assertThat(m.get("lung_fraction").asDouble()).isBetween(0.05, 0.3);
        assertThat(m.get("score").asDouble()).isBetween(0.0, 1.0);
    }

    @Test
    void explainRecordsTheDomainAndWarnsInTheSummaryTheReportAndTheConsole() throws IOException {
        Path card = card(", \"domain\": {\"lung_fraction_min\": 0.02}");
        String ae = TestPaths.vqgan("tiny_vqgan.safetensors").toString();
        Path out = tmp.resolve("abdomen-out");
        Path noLungs = volume("abdomen", false);
        CliTest.Result r = CliTest.run("explain", noLungs.toString(), "--autoencoder", ae, "--resize", "16",
                "--classifier", card.toString(), "--slices", "0:6", "--frames", "2", "--fix-range=-20,0",
                "-o", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("WARNING: lung fraction 0.000 — below the detector's training domain")
                .contains("[out of domain, not meaningful]");
        assertThat(r.err()).contains("ctcf: warning: " + noLungs + ": lung fraction 0.000");
        JsonNode s = JSON.readTree(out.resolve("summary.json").toFile());
        assertThat(s.get("lung_fraction").asDouble()).isZero();
        assertThat(s.get("lung_fraction_min").asDouble()).isEqualTo(0.02);
        assertThat(s.get("in_domain").asBoolean()).isFalse();
        String html = Files.readString(out.resolve("report.html"));
        assertThat(html).contains("id=\"domain-warning\"").contains("Outside the classifier's input domain")
                .contains("OUT OF DOMAIN");

        Path chestOut = tmp.resolve("chest-out");
        CliTest.Result c = CliTest.run("explain", volume("chest", true).toString(), "--autoencoder", ae,
                "--resize", "16", "--classifier", card.toString(), "--slices", "0:6", "--frames", "2",
                "--fix-range=-20,0", "-o", chestOut.toString());
        assertThat(c.code()).as(c.err()).isZero();
        assertThat(c.out()).containsPattern("lung fraction 0\\.1\\d\\d \\(domain ≥ 0\\.020\\)").doesNotContain("WARNING");
        JsonNode cs = JSON.readTree(chestOut.resolve("summary.json").toFile());
        assertThat(cs.get("in_domain").asBoolean()).isTrue();
        assertThat(cs.get("lung_fraction").asDouble()).isBetween(0.10, 0.18);
        assertThat(Files.readString(chestOut.resolve("report.html"))).doesNotContain("id=\"domain-warning\"")
                .contains("in domain");
    }
}
