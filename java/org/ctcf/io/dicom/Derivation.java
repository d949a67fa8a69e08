package org.ctcf.io.dicom;

import java.util.Objects;

/**
 * How a derived DICOM object came about, written into its Derivation Description (and Series Description): ctcf's
 * counterfactual of the source study under a classifier, toward a target, and how the prediction changed.
 *
 * @param description free text (e.g. the method, "Latent Shift, lambda -30"); may be empty
 * @param classifier the classifier's name (e.g. "lung-nodule-malignancy")
 * @param target the target output's name (e.g. "malignant")
 * @param initialPrediction the classifier's output for the input
 * @param counterfactualPrediction its output for the counterfactual
 */
public record Derivation(String description, String classifier, String target, double initialPrediction,
        double counterfactualPrediction) {

    public Derivation {
        description = Objects.requireNonNullElse(description, "");
        Objects.requireNonNull(classifier, "classifier");
        Objects.requireNonNull(target, "target");
    }

    /** The Derivation Description text (ST, at most 1024 characters; cut there). */
    public String text() {
        String s = "ctcf counterfactual explanation; classifier " + classifier + "; target " + target
                + String.format(java.util.Locale.ROOT, "; prediction %.4f -> %.4f", initialPrediction,
                        counterfactualPrediction)
                + (description.isBlank() ? "" : "; " + description);
        s = s.replaceAll("[\\p{Cntrl}&&[^\\r\\n]]", " "); // ST: text, CR and LF only
        return s.length() <= 1024 ? s : s.substring(0, 1024);
    }
}
