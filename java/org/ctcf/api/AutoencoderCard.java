package org.ctcf.api;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import org.ctcf.io.checkpoint.ModelFormatException;
import org.ctcf.io.checkpoint.WeightFiles;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * An autoencoder's model card: {@code "kind": "autoencoder"}, the weights (relative to the card: a Lightning
 * {@code .ckpt}, a {@code .pth} or safetensors), optionally the taming config ({@code "config_file"}: the YAML
 * published with the checkpoint; else the file's ctcf metadata or the tensor shapes), the slice wrapper
 * ({@code "slice_wrapper"}: a preset name or {@link SliceWrapper#fromJson an object}; else the one stored with a
 * ctcf-trained model, else {@link SliceWrapper#reference()}) and where the weights are published. Example:
 *
 * <pre>{@code
 * {"kind": "autoencoder", "name": "ct2-vqgan256",
 *  "weights": "2023-12-25T10-26-40_ct2_vqgan256_sddd.ckpt", "config_file": "2023-12-25T10-26-40_ct2_vqgan256_sddd.yaml",
 *  "slice_wrapper": {"preset": "reference", "antialias": true}, "published": "where to get it"}
 * }</pre>
 */
public record AutoencoderCard(Path file, String name, String description, Path weights, Path configFile,
        SliceWrapper wrapper, String published) {

    /** Reads a card; its weights must exist (and match a hash in their name), the config file too if named. */
    public static AutoencoderCard read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such autoencoder card");
        }
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(file, "the card is not valid JSON: " + e.getMessage(), e);
        }
        if (n == null || !n.path("kind").asText().equals("autoencoder") || !n.has("weights")) {
            throw new ModelFormatException(file, "not an autoencoder card (needs \"kind\": \"autoencoder\" "
                    + "and \"weights\")");
        }
        Path dir = file.toAbsolutePath().getParent();
        String published = n.path("published").asText("");
        Path w = dir.resolve(n.get("weights").asText());
        if (!Files.isRegularFile(w)) {
            throw new ModelFormatException(file, WeightFiles.missingMessage(w, published));
        }
        WeightFiles.checkHashPrefix(w);
        Path cfg = null;
        if (n.has("config_file")) {
            cfg = dir.resolve(n.get("config_file").asText());
            if (!Files.isRegularFile(cfg)) {
                throw new ModelFormatException(file, "the config " + cfg.getFileName() + " is not there: put the "
                        + "taming YAML published with the weights in " + cfg.getParent()
                        + (published.isBlank() ? "" : " (published: " + published + ")"));
            }
        }
        SliceWrapper wrapper = null;
        if (n.has("slice_wrapper")) {
            try {
                wrapper = SliceWrapper.fromJson(n.get("slice_wrapper"));
            } catch (IllegalArgumentException e) {
                throw new ModelFormatException(file, "bad slice_wrapper: " + e.getMessage(), e);
            }
        }
        return new AutoencoderCard(file, n.path("name").asText(file.getFileName().toString()),
                n.path("description").asText(""), w, cfg, wrapper, published);
    }
}
