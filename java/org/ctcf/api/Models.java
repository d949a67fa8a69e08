package org.ctcf.api;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.ctcf.io.checkpoint.ModelFormatException;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The shipped models: where they live ({@link #home()}), the defaults {@code ctcf explain} uses, and the cards in
 * that folder. An autoencoder card is a JSON object with {@code "kind": "autoencoder"} and {@code "weights"}
 * (relative to the card); classifier cards are {@link ClassifierCard}s.
 */
public final class Models {
    public static final String DEFAULT_AUTOENCODER = "autoencoder.json";
    public static final String DEFAULT_CLASSIFIER = "nodule-detector.json";

    private Models() {
    }

    /**
     * The models folder: system property {@code ctcf.models}, else environment variable {@code CTCF_MODELS}, else
     * {@code models/} next to the folder holding the ctcf jar (the source tree's layout), else {@code ./models}.
     */
    public static Path home() {
        String p = System.getProperty("ctcf.models");
        if (p == null || p.isBlank()) {
            p = System.getenv("CTCF_MODELS");
        }
        if (p != null && !p.isBlank()) {
            return Path.of(p);
        }
        try {
            var src = Models.class.getProtectionDomain().getCodeSource();
            if (src != null) {
                Path jar = Path.of(src.getLocation().toURI());
                for (Path d = jar.getParent(); d != null; d = d.getParent()) {
                    if (Files.isRegularFile(d.resolve("models").resolve(DEFAULT_AUTOENCODER))) {
                        return d.resolve("models");
                    }
                }
            }
        } catch (URISyntaxException | SecurityException | IllegalArgumentException e) {
            // fall through to the working directory
        }
        return Path.of("models");
    }

    public static Path defaultAutoencoder() {
        return home().resolve(DEFAULT_AUTOENCODER);
    }

    public static Path defaultClassifier() {
        return home().resolve(DEFAULT_CLASSIFIER);
    }

    /** One card in the models folder: file, kind (autoencoder or classifier), name, description, metrics (JSON). */
    public record Entry(Path card, String kind, String name, String description, JsonNode metrics) {
    }

    /** The cards in {@code dir} (JSON files with a "model" or "kind" key), sorted by file name. */
    public static List<Entry> list(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dir.toString(), null, "no models folder");
        }
        List<Entry> out = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.filter(x -> x.toString().endsWith(".json")).sorted().toList()) {
                JsonNode n;
                try {
                    n = json.readTree(f.toFile());
                } catch (IOException e) {
                    continue;  // not a card
                }
                if (n == null || !n.isObject()) {
                    continue;
                }
                String kind = n.path("kind").asText(n.has("model") ? "classifier" : "");
                if (kind.isEmpty()) {
                    continue;
                }
                out.add(new Entry(f, kind, n.path("name").asText(f.getFileName().toString()),
                        n.path("description").asText(""), n.path("metrics")));
            }
        }
        return out;
    }

    /** The weights an autoencoder card names (or the file itself when it is not a card). */
    public static Path autoencoderWeights(Path cardOrWeights) throws IOException {
        if (!cardOrWeights.toString().endsWith(".json")) {
            return cardOrWeights;
        }
        if (!Files.isRegularFile(cardOrWeights)) {
            throw new NoSuchFileException(cardOrWeights.toString(), null, "no such autoencoder card");
        }
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(cardOrWeights.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(cardOrWeights, "the card is not valid JSON: " + e.getMessage(), e);
        }
        if (n == null || !n.path("kind").asText().equals("autoencoder") || !n.has("weights")) {
            throw new ModelFormatException(cardOrWeights, "not an autoencoder card (needs \"kind\": \"autoencoder\" "
                    + "and \"weights\")");
        }
        Path w = cardOrWeights.toAbsolutePath().getParent().resolve(n.get("weights").asText());
        if (!Files.isRegularFile(w)) {
            throw new ModelFormatException(cardOrWeights, "the card references " + w + ", which does not exist");
        }
        return w;
    }
}
