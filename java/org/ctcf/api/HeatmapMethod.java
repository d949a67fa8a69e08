package org.ctcf.api;

/** How the heatmap summarises the sweep frames; codes mirror {@code ctcf_heatmap}. */
public enum HeatmapMethod {
    /** mean over i of |frame_i − frame_{i+1}| (the reference's default). */
    INT(0),
    /** mean over i of |x0 − frame_i|. */
    MEAN(1),
    /** max over i of |x0 − frame_i|. */
    MAX(2),
    /** |frame_0 − frame_last|. */
    MM(3);

    final int code;

    HeatmapMethod(int code) {
        this.code = code;
    }

    public static HeatmapMethod parse(String s) {
        return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
    }
}
