package org.ctcf.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.io.AtomicFiles;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * The model cards training writes: the classifier cards {@code ctcf explain} loads (model, input, preprocessing,
 * output, score) plus how the model was trained and what it scored, and the autoencoder's card.
 */
public final class ModelCards {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ModelCards() {
    }

    public static String json(Object o) {
        try {
            return new ObjectMapper().writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static Map<String, Object> preprocessing() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("spacing", List.of(1.5, 1.5, 3.0));
        p.put("window", List.of(-1000, 1000));
        p.put("size", List.of(224, 224));
        return p;
    }

    /** {@code lungFractionMin}: the card's input domain ({@code "domain"}), NaN for none. */
    public static Path writeClassifierCard(Path dir, ClassifierTraining.Task task, String architecture, Path weights,
            Map<String, Object> training, Map<String, Object> metrics, double lungFractionMin) throws IOException {
        Map<String, Object> c = new LinkedHashMap<>();
        boolean lungs = task == ClassifierTraining.Task.LUNG_SIZE;
        c.put("name", task.fileName);
        c.put("description", lungs
                ? "ctcf demo (paper section 5.1): per-slice lung segmenter; the score is the mean lung probability"
                        + " over the volume, i.e. the lung size. Trained by ctcf on real chest CTs."
                : "ctcf demo (paper section 5.2 with ground truth): 3-D CNN detecting synthetic 5-20 mm soft-tissue"
                        + " nodules inside the lungs; the score is the volume's nodule probability (the maximum of the"
                        + " logit map, calibrated on whole volumes). Trained by ctcf.");
        c.put("model", ordered("architecture", architecture, "weights", weights.getFileName().toString()));
        c.put("input", ordered("layout", "BCDHW", "size", List.of(ClassifierTraining.MODEL_SIZE,
                ClassifierTraining.MODEL_SIZE)));
        c.put("preprocessing", preprocessing());
        if (lungs) {
            c.put("output", ordered("kind", "segmentation", "classes", List.of("lung")));
            c.put("score", ordered("target", "lung", "activation", "sigmoid", "reducer", "mean"));
        } else {
            c.put("output", ordered("kind", "logits", "classes", List.of("nodule")));
            c.put("score", ordered("target", "nodule", "activation", "sigmoid"));
        }
        if (!Double.isNaN(lungFractionMin)) {
            c.put("domain", lungs ? ordered("lung_fraction_min", lungFractionMin)
                    : ordered("lung_fraction_min", lungFractionMin, "min_slices", ClassifierTraining.NODULE_DEPTH));
        }
        c.put("training", training);
        c.put("metrics", metrics);
        return write(dir.resolve(task.fileName + ".json"), c);
    }

    /** A map of key, value pairs in the order given (Map.of's order changes from one JVM run to the next). */
    static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    public static Path write(Path file, Map<String, Object> card) throws IOException {
        AtomicFiles.write(file, JSON.writeValueAsBytes(card));
        return file;
    }
}
