package org.ctcf.api;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.ctcf.internal.NativeLib;
import org.ctcf.internal.NativeLib.H;

/**
 * A float32 tensor owned by the kernel — typically a volume's latents {@code [slices, C, h, w]}. The data stay
 * native; {@link #read()} copies them out when a caller needs them. Close it when done (idempotent; safe while
 * another thread uses it).
 */
public final class Latents extends NativeHandle {
    private final long[] shape;

    Latents(MemorySegment handle) {
        super("latents", handle, H.TENSOR_FREE);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ndim = arena.allocate(JAVA_INT);
            MemorySegment dims = arena.allocate(JAVA_LONG, NativeLib.MAX_DIMS);
            NativeLib.call("tensor info", err -> (int) H.TENSOR_INFO.invokeExact(handle, ndim, dims, err));
            int n = ndim.get(JAVA_INT, 0);
            shape = new long[n];
            for (int i = 0; i < n; i++) {
                shape[i] = dims.getAtIndex(JAVA_LONG, i);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** A kernel tensor holding a copy of {@code values} with {@code shape}. */
    public static Latents of(float[] values, long... shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        if (n != values.length) {
            throw new IllegalArgumentException("shape holds " + n + " values, got " + values.length);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocateFrom(JAVA_FLOAT, values);
            MemorySegment dims = arena.allocateFrom(JAVA_LONG, shape);
            MemorySegment out = arena.allocate(ADDRESS);
            int nd = shape.length;
            NativeLib.call("tensor create", err -> (int) H.TENSOR_CREATE.invokeExact(data, nd, dims, out, err));
            return new Latents(out.get(ADDRESS, 0));
        }
    }


    public long[] shape() {
        return shape.clone();
    }

    public long numel() {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        return n;
    }

    /** A heap copy of the values (row-major). For inspection and tests; latents are small next to volumes. */
    public float[] read() {
        long n = numel();
        if (n > Integer.MAX_VALUE) {
            throw new IllegalStateException("tensor too large to copy to the heap: " + n);
        }
        try (var lease = lease(); Arena arena = Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(JAVA_FLOAT, Math.max(1, n));
            NativeLib.call("tensor read", err -> (int) H.TENSOR_READ.invokeExact(handle(), dst, n, err));
            return dst.asSlice(0, 4 * n).toArray(JAVA_FLOAT);
        }
    }



}
