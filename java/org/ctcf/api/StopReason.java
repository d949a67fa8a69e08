package org.ctcf.api;

/** Why the λ search stopped; codes mirror {@code ctcf_stop_reason}. */
public enum StopReason {
    /** A fixed λ range was given: no search. */
    NONE(0, "fixed range"),
    PREDICTION_ROSE(1, "the prediction stopped decreasing"),
    BELOW_THRESHOLD(2, "the prediction fell below the threshold"),
    DROPPED_ENOUGH(3, "the prediction dropped by search_pred_diff"),
    MAX_STEPS(4, "lambda reached -search_max_steps"),
    PIXEL_CAP(5, "the pixel change exceeded its cap");

    private final int code;
    private final String description;

    StopReason(int code, String description) {
        this.code = code;
        this.description = description;
    }

    public int code() {
        return code;
    }

    public String description() {
        return description;
    }

    public static StopReason fromCode(int code) {
        for (StopReason r : values()) {
            if (r.code == code) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown stop reason code " + code);
    }
}
