package org.ctcf.core;

/**
 * Text from files (DICOM descriptions, paths, error messages that quote them) made safe to print: control
 * characters (C0, DEL, C1; a terminal takes ESC sequences from them) are written as {@code \xHH}, a backslash that
 * would make such an escape ambiguous stays one backslash. Line breaks are escaped too: one printed line per value.
 */
public final class Text {
    private Text() {
    }

    /** {@code s} with every control character as {@code \xHH} (null: "null"). */
    public static String printable(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (isControl(c)) {
                if (b == null) {
                    b = new StringBuilder(s.length() + 8).append(s, 0, i);
                }
                b.append(String.format("\\x%02x", (int) c));
            } else if (b != null) {
                b.append(c);
            }
        }
        return b == null ? s : b.toString();
    }

    /** {@code s} as {@link #printable} makes it, but keeping line breaks (for multi-line messages). */
    public static String printableLines(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder(s.length());
        for (String line : s.split("\n", -1)) {
            if (!b.isEmpty()) {
                b.append('\n');
            }
            b.append(printable(line));
        }
        return b.toString();
    }

    /** Whether {@code c} is a C0 control, DEL or a C1 control. */
    public static boolean isControl(char c) {
        return c < 0x20 || (c >= 0x7f && c < 0xa0);
    }
}
