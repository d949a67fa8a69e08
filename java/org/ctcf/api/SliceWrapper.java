package org.ctcf.api;

/**
 * How volume slices become autoencoder images and back (the kernel's {@code ctcf_slice_wrapper}). A slice
 * (processed volume, values in [0, 1]) is optionally transposed, mapped {@code x·inScale + inShift}, resized to
 * {@code resize²} (bilinear, 0 = keep), and in the reference orientation rotated by rot90(k=1) then flipped;
 * decoding undoes each step and maps the output {@code y·outScale + outShift}.
 */
public record SliceWrapper(double inScale, double inShift, double outScale, double outShift, int resize,
        boolean transpose, boolean referenceOrientation) {

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
     * ct-counterfactuals' wrapper exactly: {@code 2x − 1}, resize to 256, the reference's slice axes (the
     * transpose of ctcf's RAS slice), rot90(k=1) then flip; decoding ends with the reference's
     * {@code (xp + 2) / 4} output map (its quirk; {@link #referenceSymmetric()} uses {@code (xp + 1) / 2}).
     */
    public static SliceWrapper reference() {
        return new SliceWrapper(2.0, -1.0, 0.25, 0.5, 256, true, true);
    }

    /** The reference wrapper with the output map that inverts its input map, {@code (xp + 1) / 2}. */
    public static SliceWrapper referenceSymmetric() {
        return new SliceWrapper(2.0, -1.0, 0.5, 0.5, 256, true, true);
    }

    /** A plain wrapper: [0, 1] slices mapped to [−1, 1] and back, at their own size, no reorientation. */
    public static SliceWrapper plain() {
        return new SliceWrapper(2.0, -1.0, 0.5, 0.5, 0, false, false);
    }

    /** The identity: slices go to the model as they are, outputs come back as they are. */
    public static SliceWrapper identity() {
        return new SliceWrapper(1.0, 0.0, 1.0, 0.0, 0, false, false);
    }

    /** By name: reference, reference-symmetric, plain, identity. */
    public static SliceWrapper named(String name) {
        return switch (name) {
            case "reference" -> reference();
            case "reference-symmetric" -> referenceSymmetric();
            case "plain" -> plain();
            case "identity" -> identity();
            default -> throw new IllegalArgumentException("unknown slice wrapper '" + name
                    + "' (reference, reference-symmetric, plain, identity)");
        };
    }

    /** This wrapper as a JSON object (the training metadata of ctcf-trained models). */
    public String toJson() {
        return String.format(java.util.Locale.ROOT, "{\"in_scale\": %s, \"in_shift\": %s, \"out_scale\": %s, "
                + "\"out_shift\": %s, \"resize\": %d, \"transpose\": %b, \"reference_orientation\": %b}",
                inScale, inShift, outScale, outShift, resize, transpose, referenceOrientation);
    }

    public static SliceWrapper fromJson(String json) {
        try {
            var n = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
            for (String k : new String[] {"in_scale", "in_shift", "out_scale", "out_shift", "resize"}) {
                if (!n.has(k)) {
                    throw new IllegalArgumentException("missing " + k);
                }
            }
            return new SliceWrapper(n.get("in_scale").asDouble(), n.get("in_shift").asDouble(),
                    n.get("out_scale").asDouble(), n.get("out_shift").asDouble(), n.get("resize").asInt(),
                    n.path("transpose").asBoolean(false), n.path("reference_orientation").asBoolean(false));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("not JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** The same wrapper with another slice size (0 = slices at their own size). */
    public SliceWrapper withResize(int size) {
        return new SliceWrapper(inScale, inShift, outScale, outShift, size, transpose, referenceOrientation);
    }

    /** A short name: the preset it equals (with its slice size), else the maps. */
    public String describe() {
        for (String n : new String[] {"reference", "reference-symmetric", "plain", "identity"}) {
            SliceWrapper p = named(n);
            if (p.withResize(resize).equals(this)) {
                return n + (resize != p.resize() ? " (slices resized to " + resize + ")" : "");
            }
        }
        return toString();
    }
}
