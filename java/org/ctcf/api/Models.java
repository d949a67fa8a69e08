package org.ctcf.api;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;


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

    /**
     * One card in the models folder: file, kind (autoencoder or classifier), name, description, metrics (JSON), the
     * weights it names (absolute; null when it names none) and whether they are there, and where they are
     * published (empty if the card does not say).
     */
    public record Entry(Path card, String kind, String name, String description, JsonNode metrics, Path weights,
            boolean weightsPresent, String published) {
    }

    /** A model architecture built into the kernel (no card needed; weights by state_dict names). */
    public record Builtin(String name, String kind, String description) {
    }

    /** The kernel's built-in architectures. */
    public static final List<Builtin> BUILTINS = List.of(
            new Builtin("taming-vqgan", "autoencoder", "taming-transformers' VQModel (encoder, quant_conv, codebook, "
                    + "post_quant_conv, decoder), any ddconfig; loads Lightning .ckpt, .pth and safetensors by name"),
            new Builtin("lungmask-unet", "classifier", "lungmask's U-Net (R231 and relatives), run on every slice; "
                    + "loads lungmask's published .pth"),
            new Builtin("i3resnet152", "classifier", "Merlin's I3D-inflated ResNet-152 image encoder with its "
                    + "phenotype head (alias merlin-i3resnet152); loads Merlin's checkpoints"),
            new Builtin("ctcf-nodule3d", "classifier", "ctcf's demo 3-D nodule detector (fully convolutional, max-pooled "
                    + "logit map; 8 base channels, ctcf-nodule3d-wN: N)"),
            new Builtin("ctcf-lungseg", "classifier", "ctcf's demo per-slice lung segmenter"));

    /**
     * The cards in {@code dir} and its sub-folders (JSON files with a "model" or "kind" key), sorted by path; a card
     * whose weights are absent is listed too ({@link Entry#weightsPresent()}).
     */
    public static List<Entry> list(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dir.toString(), null, "no models folder");
        }
        List<Entry> out = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        try (Stream<Path> s = Files.walk(dir, 4)) {
            for (Path f : s.filter(x -> x.toString().endsWith(".json") && Files.isRegularFile(x)).sorted().toList()) {
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
                JsonNode m = kind.equals("autoencoder") ? n : n.path("model");
                String w = m.has("weights") ? m.get("weights").asText() : m.path("torchscript").asText(null);
                Path weights = w == null ? null : f.toAbsolutePath().getParent().resolve(w).normalize();
                String published = (kind.equals("autoencoder") ? n : m).path("published").asText("");
                out.add(new Entry(f, kind, n.path("name").asText(f.getFileName().toString()),
                        n.path("description").asText(""), n.path("metrics"), weights,
                        weights != null && Files.isRegularFile(weights), published));
            }
        }
        return out;
    }

    /** The weights an autoencoder card names (or the file itself when it is not a card). */
    public static Path autoencoderWeights(Path cardOrWeights) throws IOException {
        if (!cardOrWeights.toString().endsWith(".json")) {
            return cardOrWeights;
        }
        return AutoencoderCard.read(cardOrWeights).weights();
    }
}
