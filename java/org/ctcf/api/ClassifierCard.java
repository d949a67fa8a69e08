package org.ctcf.api;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.ctcf.io.checkpoint.ModelFormatException;
import org.ctcf.io.checkpoint.WeightFiles;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A classifier's model card: which model (a TorchScript file, or a built-in architecture and its weights), how a
 * volume is laid out for it, how a CT is preprocessed for it, what it outputs, and which score is explained.
 * Paths are relative to the card's folder. Example:
 *
 * <pre>{@code
 * {
 *   "name": "lung-size",
 *   "model": {"architecture": "lungmask-unet", "weights": "unet_r231-d5d2fc3d.pth", "published": "where to get it"},
 *       (a weight file named NAME-HASH.EXT, as torch.hub names them, is checked against that SHA-256 prefix)
 *   "input": {"layout": "BCHWD", "depth": "free", "orientation": "display"},   (orientation: ras (default) or
 *       display, the radiological view ct-counterfactuals' dataset makes; see Classifier.Orientation)
 *   "preprocessing": {"spacing": [1.5, 1.5, 3], "window": [-1000, 1000], "size": [224, 224]},
 *   (or "preprocessing": {"mode": "lungmask"} for lungmask's own body-mask crop, see LungmaskPipeline)
 *   "output": {"kind": "segmentation", "classes": ["no lung", "right lung", "left lung"]},
 *   "score": {"target": "no lung", "activation": "sigmoid", "reducer": "one_minus_mean"},
 *   "domain": {"lung_fraction_min": 0.02, "min_slices": 16, "modality": "CT"}   (optional. lung_fraction_min:
 *       the smallest lung fraction, in (0, 1), of the volumes the classifier was trained on; a volume below it, e.g.
 *       no lungs in view, gets its score with a warning that it is not meaningful; see InputDomain. Needs the
 *       reference preprocessing with a window; absent: no check. min_slices: the fewest processed slices the
 *       classifier is meant for (its training crops' depth); fewer are refused. modality: what the classifier reads,
 *       CT when absent; a DICOM series of another Modality is refused unless --allow-modality names it)
 * }
 * }</pre>
 */
public record ClassifierCard(Path file, String name, String description, Path torchScript, String architecture,
        Path weights, String keyPrefix, Classifier.Layout layout, int inputNx, int inputNy, int depth, int maxBatch,
        PreprocessOptions preprocessing, String preprocessingMode, String outputKind, List<String> classes, int outputCount, Score score,
        Classifier.Orientation orientation, String published, InputDomain.Bounds domain, Limits limits) {

    /** What the card says its inputs must be: a modality (DICOM's Modality, e.g. CT) and the fewest slices. */
    public record Limits(String modality, int minSlices) {
        /** CT, any depth: the limits of a card that states none. */
        public static final Limits DEFAULT = new Limits("CT", 1);
    }

    /** The card's input domain ({@code "domain"}), or null: no check. */
    @Override
    public InputDomain.Bounds domain() {
        return domain;
    }

    /** What is explained (before the target is resolved to an index). */
    public record Score(String target, String activation, String reducer, double offset, boolean applySigmoid) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    public static ClassifierCard read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new java.nio.file.NoSuchFileException(file.toString(), null, "no such classifier card");
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(file, "the card is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(file, "the card must be a JSON object");
        }
        Path dir = file.toAbsolutePath().getParent();
        try {
            JsonNode model = required(root, "model");
            Path ts = model.has("torchscript") ? dir.resolve(model.get("torchscript").asText()) : null;
            String arch = model.has("architecture") ? model.get("architecture").asText() : null;
            if ("merlin-i3resnet152".equals(arch)) {
                arch = "i3resnet152";  // the name ctcf models lists it under, too
            }
            Path weights = model.has("weights") ? dir.resolve(model.get("weights").asText()) : null;
            if ((ts == null) == (arch == null)) {
                throw new IllegalArgumentException("model needs exactly one of \"torchscript\" or \"architecture\"");
            }
            if (arch != null && weights == null) {
                throw new IllegalArgumentException("model.architecture " + arch + " needs \"weights\"");
            }
            String published = model.path("published").asText("");
            for (Path p : new Path[] {ts, weights}) {
                if (p != null && !Files.isRegularFile(p)) {
                    throw new IllegalArgumentException(WeightFiles.missingMessage(p, published));
                }
            }
            if (weights != null) {
                WeightFiles.checkHashPrefix(weights);
            }
            String prefix = model.has("key_prefix") ? model.get("key_prefix").asText() : "auto";

            JsonNode input = root.path("input");
            Classifier.Layout layout = Classifier.Layout.valueOf(input.path("layout").asText("BCDHW")
                    .toUpperCase(Locale.ROOT));
            int[] size = pair(input.path("size"), "input.size");
            String depthText = input.path("depth").asText("free");
            int depth = depthText.equals("free") ? 0 : Integer.parseInt(depthText);
            int maxBatch = input.path("max_batch").asInt(0);
            Classifier.Orientation orientation = Classifier.Orientation.parse(input.path("orientation").asText("ras"));

            JsonNode pre = root.path("preprocessing");
            String mode = pre.path("mode").asText("reference");
            if (!mode.equals("reference") && !mode.equals("lungmask")) {
                throw new IllegalArgumentException("preprocessing.mode must be reference or lungmask, not " + mode);
            }
            PreprocessOptions p = PreprocessOptions.reference();
            if (pre.has("spacing")) {
                JsonNode s = pre.get("spacing");
                p = p.withSpacing(s.get(0).asDouble(), s.get(1).asDouble(), s.get(2).asDouble());
            }
            if (pre.has("window")) {
                p = p.withWindow(pre.get("window").get(0).asDouble(), pre.get("window").get(1).asDouble());
            }
            if (pre.has("size")) {
                int[] s = pair(pre.get("size"), "preprocessing.size");
                p = p.withInPlaneSize(s[0], s[1]);
            }

            JsonNode out = required(root, "output");
            String kind = out.path("kind").asText("logits");
            if (!List.of("logits", "probabilities", "log_probabilities", "segmentation").contains(kind)) {
                throw new IllegalArgumentException("output.kind must be logits, probabilities, log_probabilities or"
                        + " segmentation, not " + kind);
            }
            List<String> classes = new ArrayList<>();
            if (out.has("classes")) {
                out.get("classes").forEach(c -> classes.add(c.asText()));
            } else if (out.has("classes_file")) {
                Path cf = dir.resolve(out.get("classes_file").asText());
                if (!Files.isRegularFile(cf)) {
                    throw new IllegalArgumentException("output.classes_file " + cf + " does not exist");
                }
                for (String line : Files.readAllLines(cf)) {
                    if (!line.isBlank()) {
                        classes.add(line.strip());
                    }
                }
            }
            int count = out.path("count").asInt(classes.size());
            if (count < 1) {
                throw new IllegalArgumentException("output needs \"classes\", \"classes_file\" or \"count\"");
            }
            if (!classes.isEmpty() && classes.size() != count) {
                throw new IllegalArgumentException("output.count " + count + " disagrees with " + classes.size()
                        + " class names");
            }

            JsonNode sc = required(root, "score");
            String defaultActivation = switch (kind) {
                case "log_probabilities" -> "exp";
                case "probabilities" -> "none";
                default -> "sigmoid";
            };
            Score score = new Score(required(sc, "target").asText(), sc.path("activation").asText(defaultActivation),
                    sc.path("reducer").asText("none"),
                    sc.path("offset").asDouble(0.0), sc.path("apply_sigmoid").asBoolean(false));
            Target.Activation.parse(score.activation());
            Target.Reducer.parse(score.reducer());
            if (kind.equals("segmentation") == score.reducer().equals("none")) {
                throw new IllegalArgumentException(kind.equals("segmentation")
                        ? "a segmentation output needs score.reducer (one_minus_mean, mean, sum)"
                        : "score.reducer is only for segmentation outputs");
            }
            return new ClassifierCard(file, root.path("name").asText(file.getFileName().toString()),
                    root.path("description").asText(""), ts, arch, weights, prefix, layout, size[0], size[1], depth,
                    maxBatch, p, mode, kind, List.copyOf(classes), count, score, orientation, published,
                    domain(root.get("domain"), mode, p), limits(root.get("domain")));
        } catch (ModelFormatException e) {
            throw e;
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new ModelFormatException(file, "bad classifier card: " + e.getMessage(), e);
        }
    }

    private static final List<String> DOMAIN_KEYS = List.of("lung_fraction_min", "min_slices", "modality");

    /**
     * The optional {@code "domain"} object's lung fraction bound: {@code {"lung_fraction_min": x}} with x in (0, 1);
     * null when absent. Its other keys are {@link #limits}'.
     */
    private static InputDomain.Bounds domain(JsonNode d, String mode, PreprocessOptions p) {
        if (d == null || d.isNull()) {
            return null;
        }
        if (!d.isObject()) {
            throw new IllegalArgumentException("domain must be an object like {\"lung_fraction_min\": 0.02}");
        }
        for (var it = d.fieldNames(); it.hasNext();) {
            String key = it.next();
            if (!DOMAIN_KEYS.contains(key)) {
                throw new IllegalArgumentException("domain has an unknown key \"" + key
                        + "\" (known: " + String.join(", ", DOMAIN_KEYS) + ")");
            }
        }
        if (d.isEmpty()) {
            throw new IllegalArgumentException("domain is empty: missing lung_fraction_min, min_slices or modality");
        }
        JsonNode min = d.get("lung_fraction_min");
        if (min == null) {
            return null;
        }
        if (!min.isNumber() || !(min.asDouble() > 0 && min.asDouble() < 1)) {
            throw new IllegalArgumentException("domain.lung_fraction_min must be a number in (0, 1), not "
                    + min.toString());
        }
        if (!mode.equals("reference") || !p.windowEnabled()) {
            throw new IllegalArgumentException("domain.lung_fraction_min needs the reference preprocessing with an "
                    + "HU window (the lung fraction is counted in window units)");
        }
        return new InputDomain.Bounds(min.asDouble());
    }

    /** The {@code "domain"} object's {@code min_slices} (≥ 1, default 1) and {@code modality} (default CT). */
    private static Limits limits(JsonNode d) {
        if (d == null || !d.isObject()) {
            return Limits.DEFAULT;
        }
        JsonNode slices = d.get("min_slices");
        if (slices != null && (!slices.canConvertToInt() || !slices.isIntegralNumber() || slices.asInt() < 1)) {
            throw new IllegalArgumentException("domain.min_slices must be a whole number >= 1, not " + slices);
        }
        JsonNode modality = d.get("modality");
        if (modality != null && (!modality.isTextual() || modality.asText().isBlank())) {
            throw new IllegalArgumentException("domain.modality must be a DICOM Modality such as \"CT\", not "
                    + modality);
        }
        return new Limits(modality == null ? "CT" : modality.asText().strip().toUpperCase(Locale.ROOT),
                slices == null ? 1 : slices.asInt());
    }

    private static JsonNode required(JsonNode n, String key) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException("missing \"" + key + "\"");
        }
        return v;
    }

    private static int[] pair(JsonNode n, String what) {
        if (n.isMissingNode() || n.isNull()) {
            return new int[] {0, 0};
        }
        if (!n.isArray() || n.size() != 2) {
            throw new IllegalArgumentException(what + " must be [x, y]");
        }
        return new int[] {n.get(0).asInt(), n.get(1).asInt()};
    }

    /** The index of a class given by name or number; the error names the card and the choices. */
    public int classIndex(String target) throws ModelFormatException {
        int idx = classes.indexOf(target);
        if (idx >= 0) {
            return idx;
        }
        try {
            idx = Integer.parseInt(target);
        } catch (NumberFormatException e) {
            throw new ModelFormatException(file, "target '" + target + "' is not one of the " + classes.size()
                    + " class names" + (classes.isEmpty() ? "" : " (e.g. " + String.join(", ",
                            classes.subList(0, Math.min(5, classes.size()))) + ")"));
        }
        if (idx < 0 || idx >= outputCount) {
            throw new ModelFormatException(file, "target index " + idx + " is outside the " + outputCount + " outputs");
        }
        return idx;
    }
}
