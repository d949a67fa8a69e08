package org.ctcf.api;

import org.ctcf.internal.Specs;

import java.util.Iterator;
import java.util.Set;

/**
 * How volume slices become autoencoder images and back (the kernel's {@code ctcf_slice_wrapper}). A slice
 * (processed volume, RAS, stored {@code [y][x]}, values in [0, 1]) is optionally transposed, mapped
 * {@code x·inScale + inShift}, resized to {@code resize²} (bilinear, 0 = keep; {@code antialias} as torchvision's
 * {@code Resize}), and with {@code referenceOrientation} rotated by rot90(k=1) then flipped; decoding undoes each
 * step and maps the output {@code y·outScale + outShift}.
 *
 * <p>Orientation of the published pipeline (ct-counterfactuals {@code datasets.py} and {@code ae.py}): the dataset
 * turns each RAS slice {@code M[x][y]} into its display view (rot90(k=1) then flip: the anti-transpose), and the
 * wrapper's encode applies that same involution again, so the VQ-GAN sees {@code M} itself: rows along x. ctcf
 * keeps slices as {@code Mᵀ}, so the reference preset transposes and does not rotate.
 */
public record SliceWrapper(double inScale, double inShift, double outScale, double outShift, int resize,
        boolean transpose, boolean referenceOrientation, boolean antialias) {

    /** The JSON keys of a wrapper (training metadata, autoencoder cards); any other key is an error. */
    public static final Set<String> JSON_KEYS = Set.of("in_scale", "in_shift", "out_scale", "out_shift", "resize",
            "transpose", "reference_orientation", "antialias");

    public SliceWrapper {
        if (!Double.isFinite(inScale) || !Double.isFinite(inShift) || !Double.isFinite(outScale)
                || !Double.isFinite(outShift)) {
            throw new IllegalArgumentException("slice wrapper maps must be finite");
        }
        if (resize < 0) {
            throw new IllegalArgumentException("resize must be >= 0");
        }
    }

    /**
     * ct-counterfactuals' wrapper for the published VQ-GAN on ctcf's RAS slices: {@code 2x − 1}, resize to 256, the
     * RAS slice with rows along x (a transpose of ctcf's {@code [y][x]}; see the class comment), decoding ending with
     * the reference's {@code (xp + 2) / 4} output map (its quirk; {@link #referenceSymmetric()} uses
     * {@code (xp + 1) / 2}). The resizes are antialiased: the reference calls torchvision's {@code Resize} without an
     * {@code antialias} argument, which means antialiasing from torchvision 0.17 on, and its notebooks were run in
     * 2024 (September, with matplotlib 3.8.4) without the warning torchvision 0.15–0.16 print for that call.
     * {@link #withAntialias(boolean)} gives the pre-0.17 behaviour.
     */
    public static SliceWrapper reference() {
        return new SliceWrapper(2.0, -1.0, 0.25, 0.5, 256, true, false, true);
    }

    /** The reference wrapper with the output map that inverts its input map, {@code (xp + 1) / 2}. */
    public static SliceWrapper referenceSymmetric() {
        return new SliceWrapper(2.0, -1.0, 0.5, 0.5, 256, true, false, true);
    }

    /** A plain wrapper: [0, 1] slices mapped to [−1, 1] and back, at their own size, no reorientation. */
    public static SliceWrapper plain() {
        return new SliceWrapper(2.0, -1.0, 0.5, 0.5, 0, false, false, false);
    }

    /** The identity: slices go to the model as they are, outputs come back as they are. */
    public static SliceWrapper identity() {
        return new SliceWrapper(1.0, 0.0, 1.0, 0.0, 0, false, false, false);
    }

    /** The preset names {@link #named} knows. */
    public static final java.util.List<String> PRESETS = java.util.List.of("reference", "reference-symmetric",
            "plain", "identity");

    /** By name: reference, reference-symmetric, plain, identity. */
    public static SliceWrapper named(String name) {
        return switch (name) {
            case "reference" -> reference();
            case "reference-symmetric" -> referenceSymmetric();
            case "plain" -> plain();
            case "identity" -> identity();
            default -> throw new IllegalArgumentException("unknown slice wrapper '" + name
                    + "' (" + String.join(", ", PRESETS) + ")");
        };
    }

    /** This wrapper as a JSON object (the training metadata of ctcf-trained models). */
    public String toJson() {
        return String.format(java.util.Locale.ROOT, "{\"in_scale\": %s, \"in_shift\": %s, \"out_scale\": %s, "
                + "\"out_shift\": %s, \"resize\": %d, \"transpose\": %b, \"reference_orientation\": %b, "
                + "\"antialias\": %b}",
                inScale, inShift, outScale, outShift, resize, transpose, referenceOrientation, antialias);
    }

    /**
     * A wrapper from JSON: either a preset name (a string, or {@code {"preset": "reference", ...}} with overrides)
     * or all four maps and {@code resize}. Unknown keys are errors, so a misspelt option is never ignored.
     */
    public static SliceWrapper fromJson(String json) {
        try {
            return fromJson(new com.fasterxml.jackson.databind.ObjectMapper().readTree(json));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("not JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** See {@link #fromJson(String)}. */
    public static SliceWrapper fromJson(com.fasterxml.jackson.databind.JsonNode n) {
        if (n.isTextual()) {
            return named(n.asText());
        }
        if (!n.isObject()) {
            throw new IllegalArgumentException("a slice wrapper is a preset name or an object");
        }
        SliceWrapper base = null;
        for (Iterator<String> it = n.fieldNames(); it.hasNext();) {
            String k = it.next();
            if (!JSON_KEYS.contains(k) && !k.equals("preset")) {
                throw new IllegalArgumentException("unknown slice wrapper option '" + k + "' (known: preset, "
                        + String.join(", ", new java.util.TreeSet<>(JSON_KEYS)) + ")");
            }
        }
        if (n.has("preset")) {
            base = named(n.get("preset").asText());
        } else {
            for (String k : new String[] {"in_scale", "in_shift", "out_scale", "out_shift", "resize"}) {
                if (!n.has(k)) {
                    throw new IllegalArgumentException("missing " + k);
                }
            }
        }
        double inScale = number(n, "in_scale", base == null ? 0 : base.inScale);
        double inShift = number(n, "in_shift", base == null ? 0 : base.inShift);
        double outScale = number(n, "out_scale", base == null ? 0 : base.outScale);
        double outShift = number(n, "out_shift", base == null ? 0 : base.outShift);
        int resize = (int) number(n, "resize", base == null ? 0 : base.resize);
        return new SliceWrapper(inScale, inShift, outScale, outShift, resize,
                flag(n, "transpose", base != null && base.transpose),
                flag(n, "reference_orientation", base != null && base.referenceOrientation),
                flag(n, "antialias", base != null && base.antialias));
    }

    private static double number(com.fasterxml.jackson.databind.JsonNode n, String key, double fallback) {
        if (!n.has(key)) {
            return fallback;
        }
        if (!n.get(key).isNumber()) {
            throw new IllegalArgumentException("slice wrapper option " + key + " must be a number, not "
                    + n.get(key));
        }
        return n.get(key).asDouble();
    }

    private static boolean flag(com.fasterxml.jackson.databind.JsonNode n, String key, boolean fallback) {
        if (!n.has(key)) {
            return fallback;
        }
        if (!n.get(key).isBoolean()) {
            throw new IllegalArgumentException("slice wrapper option " + key + " must be true or false, not "
                    + n.get(key));
        }
        return n.get(key).asBoolean();
    }

    /** The same wrapper with another slice size (0 = slices at their own size). */
    public SliceWrapper withResize(int size) {
        return new SliceWrapper(inScale, inShift, outScale, outShift, size, transpose, referenceOrientation,
                antialias);
    }

    /** The same wrapper with antialiased resizes on or off. */
    public SliceWrapper withAntialias(boolean on) {
        return new SliceWrapper(inScale, inShift, outScale, outShift, resize, transpose, referenceOrientation, on);
    }

    /** A short name: the preset it equals (with its slice size and antialiasing), else the maps. */
    public String describe() {
        for (String n : PRESETS) {
            SliceWrapper p = named(n);
            if (p.withResize(resize).withAntialias(antialias).equals(this)) {
                return n + (resize != p.resize() ? " (slices resized to " + resize + ")" : "")
                        + (antialias != p.antialias() ? (antialias ? " (antialiased)" : " (no antialiasing)") : "");
            }
        }
        return toString();
    }

    /** The kernel's ctcf_slice_wrapper for this mapping. */
    Specs.Wrapper spec() {
        return new Specs.Wrapper(inScale, inShift, outScale, outShift, resize, transpose, referenceOrientation,
                antialias);
    }
}
