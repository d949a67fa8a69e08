package org.ctcf.api;

import org.ctcf.internal.ModelCalls;
import org.ctcf.internal.NativeObject;

/**
 * A float32 tensor owned by the kernel — typically a volume's latents {@code [slices, C, h, w]}. The data stay
 * native; {@link #read()} copies them out when a caller needs them. Close it when done (idempotent; safe while
 * another thread uses it).
 */
public final class Latents extends NativeHandle {
    private final long[] shape;

    Latents(NativeObject tensor) {
        super(tensor);
        try (var lease = lease()) {
            shape = ModelCalls.tensorShape(tensor);
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
        return new Latents(ModelCalls.tensorCreate(values, shape));
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
        try (var lease = lease()) {
            return ModelCalls.tensorRead(object(), n);
        }
    }



}
