package org.ctcf.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.ctcf.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ctcf check-reference} on the reference port's own logged cases (tests/fixtures/reference_port/port.py writes
 * them for its antialias setting, on): the tiny VQ-GAN with the reference wrapper at the port's slice size.
 */
class CheckReferenceCommandTest {
    private static final Path PORT = TestPaths.root().resolve("tests/fixtures/reference_port");

    @TempDir
    Path tmp;

    private static CliTest.Result check(Path logged) {
        return CliTest.run("check-reference", PORT.resolve("ct_crop.nii.gz").toString(), "--logged", logged.toString(),
                "--autoencoder", TestPaths.vqgan("tiny_vqgan.safetensors").toString(), "--wrapper", "reference",
                "--resize", "48");
    }

    @Test
    void theSettingThePortRanWithMatchesTheOtherDoesNotAndTheVerdictSaysWhich() {
        CliTest.Result r = check(PORT.resolve("check_logged.json"));
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.out().lines().filter(l -> l.startsWith("  antialias true")))
                .hasSize(2).allSatisfy(l -> assertThat(l).endsWith("  match"));
        assertThat(r.out().lines().filter(l -> l.startsWith("  antialias false")))
                .hasSize(2).anySatisfy(l -> assertThat(l).endsWith("mismatch"));
        assertThat(r.out()).contains("bound -63").contains("verdict: the logged numbers were made with antialias "
                + "true (torchvision >= 0.17)");
    }

    @Test
    void numbersNeitherSettingGivesAreExitTenAndCardsAreFoundBesideTheLog() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("log"));
        for (String f : new String[] {"tiny_classifier.json", "tiny_classifier.pt"}) {
            Files.copy(PORT.resolve(f), dir.resolve(f));
        }
        String json = Files.readString(PORT.resolve("check_logged.json"));
        // the first logged p0, moved by 0.01: no setting reproduces it
        com.fasterxml.jackson.databind.node.ObjectNode root = (com.fasterxml.jackson.databind.node.ObjectNode)
                new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
        var first = (com.fasterxml.jackson.databind.node.ObjectNode) root.get("cases").get(0);
        first.put("p0", first.get("p0").asDouble() + 0.01);
        Path logged = dir.resolve("logged.json");
        Files.writeString(logged, root.toString());
        CliTest.Result r = check(logged);
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(ExitCode.CHECK_FAILED.code());
        assertThat(r.out()).contains("verdict: neither setting reproduces the logged numbers");
        Files.writeString(logged, "{\"cases\": []}");
        CliTest.Result empty = check(logged);
        assertThat(empty.code()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        assertThat(empty.err()).contains(logged.toString(), "no \"cases\" array");
    }
}
