package org.ctcf.io.dicom;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A parsed data set (or sequence item): its elements by tag, values as little-endian bytes (big-endian sources are
 * swapped while parsing), sequences as nested items. Only what the reader needs; strings are decoded as ISO 8859-1,
 * which is exact for the UIDs, codes and numbers it reads.
 */
final class DicomObject {
    /** One element: VR as read (or from the dictionary for implicit VR), value (null for sequences and skipped ones). */
    record Element(int tag, String vr, byte[] value, List<DicomObject> items) {
    }

    private final Map<Integer, Element> elements = new LinkedHashMap<>();

    /** Keeps the first occurrence of a tag (a repeated tag is a malformed file; the first is what viewers show). */
    void put(Element e) {
        elements.putIfAbsent(e.tag(), e);
    }

    Element get(int tag) {
        return elements.get(tag);
    }

    boolean contains(int tag) {
        return elements.containsKey(tag);
    }

    Iterable<Element> elements() {
        return elements.values();
    }

    /** The string value with trailing spaces and NULs removed; null when absent. */
    String string(int tag) {
        Element e = elements.get(tag);
        if (e == null || e.value() == null) {
            return null;
        }
        String s = new String(e.value(), StandardCharsets.ISO_8859_1);
        int end = s.length();
        while (end > 0 && (s.charAt(end - 1) == ' ' || s.charAt(end - 1) == '\0')) {
            end--;
        }
        int start = 0;
        while (start < end && s.charAt(start) == ' ') {
            start++;
        }
        return s.substring(start, end);
    }

    /** A multi-valued decimal/integer string as doubles; null when absent or empty; NaN for an unparsable value. */
    double[] decimals(int tag) {
        String s = string(tag);
        if (s == null || s.isEmpty()) {
            return null;
        }
        String[] parts = s.split("\\\\", 64);
        double[] out = new double[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                out[i] = Double.parseDouble(parts[i].trim());
            } catch (NumberFormatException ex) {
                out[i] = Double.NaN;
            }
        }
        return out;
    }

    /** The first value of a DS/IS, or {@code fallback} when absent. */
    double decimal(int tag, double fallback) {
        double[] d = decimals(tag);
        return d == null || d.length == 0 ? fallback : d[0];
    }

    /** An unsigned 16-bit value (US/SS raw bits), or the first value of an IS; {@code fallback} when absent. */
    int uint16(int tag, int fallback) {
        Element e = elements.get(tag);
        if (e == null || e.value() == null || e.value().length == 0) {
            return fallback;
        }
        if (isStringVr(e.vr())) {
            double d = decimal(tag, Double.NaN);
            return Double.isFinite(d) && d >= 0 && d <= Integer.MAX_VALUE ? (int) d : fallback;
        }
        byte[] v = e.value();
        if (v.length < 2) {
            return fallback;
        }
        return (v[0] & 0xff) | (v[1] & 0xff) << 8;
    }

    /** Whether the element is present with a non-empty value. */
    boolean hasValue(int tag) {
        Element e = elements.get(tag);
        return e != null && e.value() != null && e.value().length > 0;
    }

    /** The items of a sequence; empty when absent. */
    List<DicomObject> items(int tag) {
        Element e = elements.get(tag);
        return e == null || e.items() == null ? List.of() : Collections.unmodifiableList(e.items());
    }

    /** The first item of a sequence, or null. */
    DicomObject item(int tag) {
        List<DicomObject> l = items(tag);
        return l.isEmpty() ? null : l.get(0);
    }

    static boolean isStringVr(String vr) {
        return switch (vr) {
            case "AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT" ->
                true;
            default -> false;
        };
    }

    static List<DicomObject> newItems() {
        return new ArrayList<>();
    }
}
