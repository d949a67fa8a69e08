package org.ctcf.api;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import org.ctcf.internal.NativeLib;
import org.ctcf.internal.NativeLib.H;
import org.ctcf.internal.RefCounted;
import org.ctcf.io.checkpoint.ModelFormatException;

/**
 * A differentiable 3D classifier in the kernel (a TorchScript module) on the device of its {@link Kernel}. It
 * receives a processed volume as {@code [B, 1, D, H, W]} or, in the reference layout, {@code [B, 1, H, W, D]}
 * and returns {@code [B, classes]}. Owned by the caller; close it.
 */
public final class Classifier implements AutoCloseable {
    /** How a volume is laid out for the model; codes mirror {@code ctcf_layout}. */
    public enum Layout {
        /** {@code [B, 1, slices, y, x]}: ctcf's own order. */
        BCDHW(0),
        /** {@code [B, 1, x, y, slices]}: the reference's {@code [B, 1, H, W, D]} on a RAS volume. */
        BCHWD(1);

        final int code;

        Layout(int code) {
            this.code = code;
        }
    }

    private final MemorySegment handle;
    private final Kernel kernel;
    private final Layout layout;
    private final RefCounted life;

    private Classifier(MemorySegment handle, Kernel kernel, Layout layout) {
        this.handle = handle;
        this.kernel = kernel;
        this.layout = layout;
        this.life = new RefCounted("classifier", () -> {
            try {
                H.CLF_FREE.invokeExact(handle);
            } catch (Throwable t) {
                throw new IllegalStateException("ctcf_classifier_free failed", t);
            }
        });
    }

    /** Loads a TorchScript file. {@code maxBatch} is the largest batch it accepts (0 = any). */
    public static Classifier loadTorchScript(Path file, Layout layout, int maxBatch, Kernel kernel) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such TorchScript classifier");
        }
        NativeLib.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocateFrom(file.toString(), StandardCharsets.UTF_8);
            MemorySegment out = arena.allocate(ADDRESS);
            long mb = maxBatch;
            int l = layout.code;
            try {
                NativeLib.call("loading " + file, err -> (int) H.CLF_LOAD.invokeExact(p, l, mb, out, err));
            } catch (CtcfException.InvalidArgumentException e) {
                throw new ModelFormatException(file, e.getMessage(), e);
            }
            return bind(out.get(ADDRESS, 0), kernel, layout);
        }
    }

    /**
     * A classifier from TorchScript source defining {@code forward(self, x)} — how tests and tools make models
     * without Python.
     */
    public static Classifier define(String source, Layout layout, int maxBatch, Kernel kernel) {
        NativeLib.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocateFrom(source, StandardCharsets.UTF_8);
            MemorySegment out = arena.allocate(ADDRESS);
            long mb = maxBatch;
            int l = layout.code;
            NativeLib.call("defining a TorchScript classifier", err -> (int) H.CLF_DEFINE.invokeExact(src, l, mb, out,
                    err));
            return bind(out.get(ADDRESS, 0), kernel, layout);
        }
    }

    private static Classifier bind(MemorySegment h, Kernel kernel, Layout layout) {
        Classifier c = new Classifier(h, kernel, layout);
        try (var lease = c.life.acquire(); var kl = kernel.lease()) {
            MemorySegment ctx = kernel.handle();
            NativeLib.call("moving the classifier to " + kernel.device(), err -> (int) H.CLF_TO.invokeExact(h, ctx, err));
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    public Layout layout() {
        return layout;
    }

    Kernel kernel() {
        return kernel;
    }

    /** Saves the module as a TorchScript file. */
    public void save(Path file) {
        try (var lease = life.acquire(); Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocateFrom(file.toString(), StandardCharsets.UTF_8);
            NativeLib.call("saving " + file, err -> (int) H.CLF_SAVE.invokeExact(handle, p, err));
        }
    }

    /** The raw outputs (before any target spec) for one processed volume. */
    public float[] predict(Volume volume) {
        try (var lease = life.acquire(); var kl = kernel.lease(); var vl = volume.lease();
                Arena arena = Arena.ofConfined()) {
            MemorySegment in = Kernel.describe(arena, volume.segmentUnderLease(), volume.geometry().dims(),
                    volume.geometry().spacing());
            MemorySegment count = arena.allocate(JAVA_LONG);
            MemorySegment ctx = kernel.handle();
            NativeLib.call("classifying " + volume.geometry(), err -> (int) H.CLF_PREDICT.invokeExact(ctx, handle, in,
                    MemorySegment.NULL, 0L, count, err));
            long n = count.get(JAVA_LONG, 0);
            MemorySegment out = arena.allocate(JAVA_FLOAT, Math.max(1, n));
            NativeLib.call("classifying " + volume.geometry(), err -> (int) H.CLF_PREDICT.invokeExact(ctx, handle, in,
                    out, n, count, err));
            return out.asSlice(0, 4 * n).toArray(JAVA_FLOAT);
        }
    }

    RefCounted.Lease lease() {
        return life.acquire();
    }

    MemorySegment handle() {
        return handle;
    }

    @Override
    public void close() {
        life.close();
    }
}
