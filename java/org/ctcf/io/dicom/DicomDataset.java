package org.ctcf.io.dicom;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;

/**
 * A DICOM data set being built for writing, encoded as Explicit VR Little Endian (PS3.5 7.1.2) with defined
 * lengths everywhere (sequences and items too). Elements are kept in ascending tag order; putting a tag again
 * replaces it. Values are padded to even length: UI and binary VRs with NUL, text VRs with a space.
 */
final class DicomDataset {
    /** VRs whose explicit-VR header has 2 reserved bytes and a 4-byte length (PS3.5 table 7.1-1). */
    static final Set<String> LONG_VRS = Set.of("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR",
            "UT", "UV");
    private static final Set<String> NUL_PADDED = Set.of("UI", "OB", "OD", "OF", "OL", "OV", "OW", "UN");

    private record Element(String vr, byte[] value, List<DicomDataset> items) {
    }

    private final TreeMap<Integer, Element> elements = new TreeMap<>(Integer::compareUnsigned);

    void remove(int tag) {
        elements.remove(tag);
    }

    boolean has(int tag) {
        return elements.containsKey(tag);
    }

    /** Raw value bytes (little endian), as read or encoded by the caller. */
    DicomDataset put(int tag, String vr, byte[] value) {
        if (vr.length() != 2 || "SQ".equals(vr)) {
            throw new IllegalArgumentException("bad VR " + vr + " for " + tagString(tag));
        }
        byte[] v = value;
        if ((v.length & 1) == 1) {
            v = java.util.Arrays.copyOf(v, v.length + 1);
            v[v.length - 1] = NUL_PADDED.contains(vr) ? 0 : (byte) ' ';
        }
        if (!LONG_VRS.contains(vr) && v.length > 0xFFFF) {
            throw new IllegalArgumentException(tagString(tag) + " " + vr + " value too long: " + v.length);
        }
        elements.put(tag, new Element(vr, v, null));
        return this;
    }

    /** A text value; several values are joined with backslashes. Text is written as ASCII ('?' for others). */
    DicomDataset str(int tag, String vr, String... values) {
        return put(tag, vr, String.join("\\", values).getBytes(StandardCharsets.US_ASCII));
    }

    /** A Type 2 element present with no value. */
    DicomDataset empty(int tag, String vr) {
        if ("SQ".equals(vr)) {
            return seq(tag);
        }
        return put(tag, vr, new byte[0]);
    }

    DicomDataset us(int tag, int... values) {
        ByteBuffer b = le(2 * values.length);
        for (int v : values) {
            b.putShort((short) v);
        }
        return put(tag, "US", b.array());
    }

    DicomDataset ul(int tag, long... values) {
        ByteBuffer b = le(4 * values.length);
        for (long v : values) {
            b.putInt((int) v);
        }
        return put(tag, "UL", b.array());
    }

    DicomDataset fd(int tag, double... values) {
        ByteBuffer b = le(8 * values.length);
        for (double v : values) {
            b.putDouble(v);
        }
        return put(tag, "FD", b.array());
    }

    /** Attribute Tag values (AT): each tag as group then element, little endian. */
    DicomDataset at(int tag, int... tags) {
        ByteBuffer b = le(4 * tags.length);
        for (int t : tags) {
            b.putShort((short) (t >>> 16)).putShort((short) t);
        }
        return put(tag, "AT", b.array());
    }

    /** Decimal String values, each at most 16 characters ({@link #ds(double)}). */
    DicomDataset ds(int tag, double... values) {
        String[] s = new String[values.length];
        for (int i = 0; i < values.length; i++) {
            s[i] = ds(values[i]);
        }
        return str(tag, "DS", s);
    }

    /** Integer String values. */
    DicomDataset is(int tag, long... values) {
        String[] s = new String[values.length];
        for (int i = 0; i < values.length; i++) {
            s[i] = Long.toString(values[i]);
        }
        return str(tag, "IS", s);
    }

    /** A sequence of the given items (none: an empty sequence). */
    DicomDataset seq(int tag, DicomDataset... items) {
        elements.put(tag, new Element("SQ", null, List.of(items)));
        return this;
    }

    /** A sequence of the given items. */
    DicomDataset seq(int tag, List<DicomDataset> items) {
        elements.put(tag, new Element("SQ", null, List.copyOf(items)));
        return this;
    }

    /**
     * {@code v} as a DS value of at most 16 characters with as many significant digits as fit; magnitudes below
     * 1e-12 are written as 0 (rounding noise of rotations).
     */
    static String ds(double v) {
        if (!Double.isFinite(v)) {
            throw new IllegalArgumentException("DS value not finite: " + v);
        }
        if (Math.abs(v) < 1e-12) {
            return "0";
        }
        for (int digits = 16; digits >= 1; digits--) {
            BigDecimal d = new BigDecimal(v).round(new MathContext(digits)).stripTrailingZeros();
            String s = Math.abs(v) >= 1e-4 && Math.abs(v) < 1e15 ? d.toPlainString() : d.toString();
            if (s.length() <= 16) {
                return s;
            }
        }
        throw new IllegalArgumentException("DS value does not fit 16 characters: " + v);
    }

    /** The encoded data set (every element, in tag order). */
    byte[] encode() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            encodeTo(out);
        } catch (IOException e) {
            throw new IllegalStateException(e); // a ByteArrayOutputStream does not fail
        }
        return out.toByteArray();
    }

    void encodeTo(OutputStream out) throws IOException {
        for (var e : elements.entrySet()) {
            int tag = e.getKey();
            Element el = e.getValue();
            if (el.items() != null) {
                ByteArrayOutputStream items = new ByteArrayOutputStream();
                for (DicomDataset item : el.items()) {
                    byte[] body = item.encode();
                    items.write(itemHeader(0xFFFEE000, body.length));
                    items.write(body);
                }
                out.write(header(tag, "SQ", items.size()));
                items.writeTo(out);
            } else {
                out.write(header(tag, el.vr(), el.value().length));
                out.write(el.value());
            }
        }
    }

    /** The explicit-VR little-endian header of an element of {@code length} bytes. */
    static byte[] header(int tag, String vr, long length) {
        boolean longVr = LONG_VRS.contains(vr);
        ByteBuffer b = le(longVr ? 12 : 8);
        b.putShort((short) (tag >>> 16)).putShort((short) tag);
        b.put((byte) vr.charAt(0)).put((byte) vr.charAt(1));
        if (longVr) {
            if (length > 0xFFFFFFFEL) {
                throw new IllegalArgumentException(tagString(tag) + " too long for DICOM: " + length + " bytes");
            }
            b.putShort((short) 0).putInt((int) length);
        } else {
            b.putShort((short) length);
        }
        return b.array();
    }

    private static byte[] itemHeader(int tag, int length) {
        return le(8).putShort((short) (tag >>> 16)).putShort((short) tag).putInt(length).array();
    }

    static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    static String tagString(int tag) {
        return String.format(java.util.Locale.ROOT, "(%04X,%04X)", tag >>> 16, tag & 0xFFFF);
    }

    /** The tags present, in order (for tests). */
    List<Integer> tags() {
        return new ArrayList<>(elements.keySet());
    }
}
