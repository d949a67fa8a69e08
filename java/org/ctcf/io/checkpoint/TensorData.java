package org.ctcf.io.checkpoint;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One tensor of a checkpoint as a view into its storage bytes (usually a memory-mapped region of the file, so
 * nothing is copied until the kernel copies it into the model): element type, shape, strides and offset in
 * elements. Valid while the {@link Checkpoint} that produced it is open.
 */
public record TensorData(String name, DType dtype, long[] shape, long[] strides, long offset, MemorySegment storage,
        long storageElements) {

    public long numel() {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        return n;
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    /** Whether the view lies inside its storage (checked before the kernel reads it). */
    boolean inBounds() {
        if (offset < 0) {
            return false;
        }
        long max = offset;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0 || strides[i] < 0) {
                return false;
            }
            if (shape[i] == 0) {
                return true;
            }
            max += (shape[i] - 1) * strides[i];
        }
        return max < storageElements && storageElements * dtype.size() <= storage.byteSize();
    }

    /** Contiguous row-major strides for a shape. */
    static long[] contiguousStrides(long[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= Math.max(shape[i], 1);
        }
        return s;
    }

    /** Reads element {@code i} (row-major index over the shape) as a double; for tests and small tensors. */
    public double get(long i) {
        long off = offset;
        long rem = i;
        for (int d = shape.length - 1; d >= 0; d--) {
            long idx = rem % shape[d];
            rem /= shape[d];
            off += idx * strides[d];
        }
        long b = off * dtype.size();
        var le = java.nio.ByteOrder.LITTLE_ENDIAN;
        return switch (dtype) {
            case F32 -> storage.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(le), b);
            case F64 -> storage.get(java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(le), b);
            case F16 -> Float.float16ToFloat(storage.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(le), b));
            case BF16 -> Float.intBitsToFloat(
                    (storage.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(le), b) & 0xffff) << 16);
            case I64 -> storage.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(le), b);
            case I32 -> storage.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(le), b);
            case I16 -> storage.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(le), b);
            case I8 -> storage.get(java.lang.foreign.ValueLayout.JAVA_BYTE, b);
            case U8, BOOL -> Byte.toUnsignedInt(storage.get(java.lang.foreign.ValueLayout.JAVA_BYTE, b));
        };
    }
}
