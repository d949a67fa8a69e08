package org.ctcf.report;

import java.util.Locale;

/**
 * How every picture ctcf draws puts the patient on the screen. {@link #RADIOLOGICAL} (the default) is the clinical
 * convention for axial CT: the patient's right on the screen's left, as if facing the patient from the feet;
 * {@link #NEUROLOGICAL} mirrors it (the patient's right on the screen's right). Anterior is up in both.
 */
public enum Display {
    RADIOLOGICAL, NEUROLOGICAL;

    /** The lower-case name used on the command line and in {@code summary.json}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The letter at the screen's left edge of an axial view: R (radiological) or L. */
    public char leftEdge() {
        return this == RADIOLOGICAL ? 'R' : 'L';
    }

    /** The letter at the screen's right edge of an axial view. */
    public char rightEdge() {
        return this == RADIOLOGICAL ? 'L' : 'R';
    }

    /** {@code radiological} or {@code neurological} (any case); anything else is an error that lists both. */
    public static Display parse(String s) {
        String t = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        for (Display d : values()) {
            if (d.id().equals(t)) {
                return d;
            }
        }
        throw new IllegalArgumentException("unknown display '" + s + "': use radiological (the patient's right on "
                + "the screen's left; the default) or neurological (the patient's right on the screen's right)");
    }

    @Override
    public String toString() {
        return id();
    }
}
