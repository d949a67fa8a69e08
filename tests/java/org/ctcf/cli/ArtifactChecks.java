package org.ctcf.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** Checks every artifact of {@code ctcf explain}: valid files, input affine, GIF frame count, summary schema. */
final class ArtifactChecks {
    private ArtifactChecks() {
    }

    /** The summary's schema: key → JSON type every summary has. */
    static final Map<String, String> REQUIRED = Map.ofEntries(Map.entry("input", "string"),
            Map.entry("input_sha256", "string"), Map.entry("classifier", "string"), Map.entry("target", "object"),
            Map.entry("autoencoder", "string"), Map.entry("mode", "string"), Map.entry("versions", "object"),
            Map.entry("options", "object"), Map.entry("processed_grid", "string"),
            Map.entry("initial_prediction", "number"), Map.entry("outputs", "array"),
            Map.entry("wall_seconds", "number"), Map.entry("peak_resident_mib", "number"),
            Map.entry("timings", "object"));

    static void checkAll(Path dir, Path input, int frames) throws IOException {
        try (Volume in = VolumeIO.read(input)) {
            for (String f : new String[] {"counterfactual.nii.gz", "reconstruction.nii.gz", "heatmap.nii.gz"}) {
                try (Volume v = VolumeIO.read(dir.resolve(f))) {
                    assertThat(v.geometry().affine()).as(f).containsExactly(in.geometry().affine());
                    assertThat(v.stats().nonFinite()).as(f).isZero();
                }
            }
        }
        JsonNode s = new ObjectMapper().readTree(dir.resolve("summary.json").toFile());
        REQUIRED.forEach((k, type) -> {
            assertThat(s.has(k)).as("summary has " + k).isTrue();
            assertThat(s.get(k).getNodeType().name().toLowerCase()).as(k).isEqualTo(type);
        });
        assertThat(s.get("input_sha256").asText()).matches("[0-9a-f]{64}");
        boolean sweep = s.has("chunks");
        if (sweep) {
            assertThat(s.get("chunks").isArray()).isTrue();
            assertThat(s.get("explained_chunk").get("lambdas")).hasSize(frames);
            for (JsonNode c : s.get("chunks")) {
                for (String k : new String[] {"start", "end", "min_prediction", "lambda_bound", "stop_reason", "rank"}) {
                    assertThat(c.has(k)).as("chunk row has " + k).isTrue();
                }
            }
        } else {
            assertThat(s.get("lambdas")).hasSize(frames);
        }
        for (JsonNode o : s.get("outputs")) {
            assertThat(dir.resolve(o.asText())).as(o.asText()).isRegularFile();
            if (o.asText().endsWith(".png")) {
                assertThat(ImageIO.read(dir.resolve(o.asText()).toFile())).as(o.asText()).isNotNull();
            }
        }
        assertThat(gifFrames(dir.resolve("sweep.gif"))).isEqualTo(2 * frames);
        String html = Files.readString(dir.resolve("report.html"));
        assertThat(html).startsWith("<!DOCTYPE html>").contains("data:image/gif;base64,");
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.contains("partial")
                    || n.contains("report-tmp"))).isEmpty();
        }
    }

    static int gifFrames(Path gif) throws IOException {
        ImageReader r = ImageIO.getImageReadersByFormatName("gif").next();
        try (ImageInputStream in = ImageIO.createImageInputStream(gif.toFile())) {
            r.setInput(in);
            return r.getNumImages(true);
        }
    }
}
