package org.ctcf.core;

/**
 * Stable numeric error codes. Values 0–99 mirror {@code ctcf_status} in {@code native/include/ctcf.h} one for one;
 * 100 and up are raised by the Java layer itself. Codes map by value through {@link #fromCode(int)}, never by
 * position, so reordering this enum cannot change what a number means.
 */
public enum ErrorCode {
    OK(0),
    INVALID_ARGUMENT(1),
    TORCH(2),
    OUT_OF_MEMORY(3),
    INTERNAL(4),
    UNKNOWN(5),
    UNSUPPORTED(6),
    CANCELLED(7),
    /** The native library could not be found, loaded or bound. */
    LIBRARY_UNAVAILABLE(100),
    /** The native library was built for another ABI version than this Java layer. */
    ABI_MISMATCH(101),
    /** A handle or volume was used after it was closed. */
    RESOURCE_CLOSED(102);

    private final int code;

    ErrorCode(int code) {
        this.code = code;
    }

    /** The numeric value that crosses the native boundary and appears in messages. */
    public int code() {
        return code;
    }

    /** The constant for a numeric code; unknown numbers become {@link #UNKNOWN} (a newer library may add codes). */
    public static ErrorCode fromCode(int code) {
        for (ErrorCode c : values()) {
            if (c.code == code) {
                return c;
            }
        }
        return UNKNOWN;
    }
}
