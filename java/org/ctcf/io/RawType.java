package org.ctcf.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** On-disk voxel types both readers understand, with their byte size and how to read one as a double. */
public enum RawType {
    INT8(1), UINT8(1), INT16(2), UINT16(2), INT32(4), UINT32(4), FLOAT32(4), FLOAT64(8);

    private final int bytes;

    RawType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    public boolean isFloat() {
        return this == FLOAT32 || this == FLOAT64;
    }

    private static final ValueLayout.OfShort S16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort S16_BE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt S32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt S32_BE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32_BE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfDouble F64_LE =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64_BE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    /** Element {@code i} of {@code src} (packed, unaligned, big-endian if {@code big}) as a double. */
    double read(MemorySegment src, long i, boolean big) {
        long off = i * bytes;
        return switch (this) {
            case INT8 -> src.get(ValueLayout.JAVA_BYTE, off);
            case UINT8 -> Byte.toUnsignedInt(src.get(ValueLayout.JAVA_BYTE, off));
            case INT16 -> src.get(big ? S16_BE : S16_LE, off);
            case UINT16 -> Short.toUnsignedInt(src.get(big ? S16_BE : S16_LE, off));
            case INT32 -> src.get(big ? S32_BE : S32_LE, off);
            case UINT32 -> Integer.toUnsignedLong(src.get(big ? S32_BE : S32_LE, off));
            case FLOAT32 -> src.get(big ? F32_BE : F32_LE, off);
            case FLOAT64 -> src.get(big ? F64_BE : F64_LE, off);
        };
    }
}
