package org.ctcf.io.dicom;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * DICOM UIDs under the {@code 2.25.} root (PS3.5 B.2): the 128 bits of a UUID written as one unsigned decimal
 * integer, so no organisation root needs registering. At most 5 + 39 = 44 characters.
 */
public final class DicomUids {
    /** ctcf's Implementation Class UID (File Meta Information), made once from a random UUID. */
    public static final String IMPLEMENTATION_CLASS_UID = "2.25.259475847846488185918344679140252309368";
    /** Implementation Version Name (SH, at most 16 characters). */
    public static final String IMPLEMENTATION_VERSION_NAME = "CTCF_1";

    private DicomUids() {
    }

    /** A new UID from a random (version 4) UUID. */
    public static String newUid() {
        return fromUuid(UUID.randomUUID());
    }

    /** The {@code 2.25.} UID of {@code uuid}. */
    public static String fromUuid(UUID uuid) {
        ByteBuffer b = ByteBuffer.allocate(16);
        b.putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits());
        return "2.25." + new BigInteger(1, b.array());
    }

    /** A UID that is the same for the same {@code parts} (name-based, version 3 UUID of their joined text). */
    public static String nameBased(String... parts) {
        return fromUuid(UUID.nameUUIDFromBytes(String.join("\u0000", parts).getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * Whether {@code uid} is a valid UID (PS3.5 9.1): 1..64 characters, components of digits separated by single
     * dots, no component with a leading zero (a lone "0" is allowed).
     */
    public static boolean isValid(String uid) {
        if (uid == null || uid.isEmpty() || uid.length() > 64) {
            return false;
        }
        for (String c : uid.split("\\.", -1)) {
            if (c.isEmpty() || (c.length() > 1 && c.charAt(0) == '0')) {
                return false;
            }
            for (int i = 0; i < c.length(); i++) {
                if (c.charAt(i) < '0' || c.charAt(i) > '9') {
                    return false;
                }
            }
        }
        return true;
    }
}
