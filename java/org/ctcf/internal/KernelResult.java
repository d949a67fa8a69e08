package org.ctcf.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import org.ctcf.core.Volume;

/**
 * A kernel-owned ctcf_result (an explanation or a chunk sweep), read field by field and freed on {@link #close()}.
 * Not thread-safe: one owner reads it and closes it.
 */
public final class KernelResult implements AutoCloseable {
    private MemorySegment result;

    KernelResult(MemorySegment result) {
        this.result = result;
    }

    private MemorySegment r() {
        if (result == null) {
            throw new IllegalStateException("the kernel result was freed");
        }
        return result;
    }

    public Specs.ResultInfo info() {
        MemorySegment r = r();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment i = arena.allocate(NativeLib.RESULT_INFO);
            NativeLib.call("result info", err -> (int) NativeLib.H.RESULT_INFO_GET.invokeExact(r, i, err));
            return Structs.resultInfo(i);
        }
    }

    public double[] array(Specs.ResultArray which) {
        MemorySegment r = r();
        int code = which.code;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(ADDRESS);
            MemorySegment n = arena.allocate(JAVA_LONG);
            NativeLib.call("result array " + which,
                    err -> (int) NativeLib.H.RESULT_ARRAY_GET.invokeExact(r, code, data, n, err));
            long count = n.get(JAVA_LONG, 0);
            return count == 0 ? new double[0] : data.get(ADDRESS, 0).reinterpret(8 * count).toArray(JAVA_DOUBLE);
        }
    }

    public List<Specs.ChunkRow> chunks(long capacity) {
        MemorySegment r = r();
        List<Specs.ChunkRow> out = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment rows = arena.allocate(NativeLib.CHUNK_ROW, Math.max(1, capacity));
            MemorySegment n = arena.allocate(JAVA_LONG);
            NativeLib.call("result chunks",
                    err -> (int) NativeLib.H.RESULT_CHUNKS_GET.invokeExact(r, rows, capacity, n, err));
            long size = NativeLib.CHUNK_ROW.byteSize();
            for (long k = 0; k < Math.min(capacity, n.get(JAVA_LONG, 0)); k++) {
                out.add(Structs.chunkRow(rows.asSlice(k * size, size)));
            }
        }
        return out;
    }

    /** Copies result volume {@code which} (frame {@code index}) into {@code dst}, whose geometry is the result's. */
    public void copyVolume(Specs.ResultVolume which, long index, Volume dst) {
        try (var lease = dst.lease()) {
            read(which, index, 0, dst.nz(), dst.segmentUnderLease());
        }
    }

    /**
     * Slice {@code z} of result volume {@code which} (frame {@code index}), {@code nx * ny} values, x fastest: what
     * crosses the boundary is that slice alone.
     */
    public float[] slice(Specs.ResultVolume which, long index, int z, int nx, int ny) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(JAVA_FLOAT, (long) nx * ny);
            read(which, index, z, z + 1, dst);
            return dst.toArray(JAVA_FLOAT);
        }
    }

    private void read(Specs.ResultVolume which, long index, long z0, long z1, MemorySegment dst) {
        MemorySegment r = r();
        int code = which.code;
        NativeLib.call("result volume " + which + " [" + z0 + ", " + z1 + ")",
                err -> (int) NativeLib.H.RESULT_VOLUME_READ.invokeExact(r, code, index, z0, z1, dst, err));
    }

    /** A sweep's focus explanation, moved out of this result, or null when it has none. */
    public Focus takeFocus() {
        MemorySegment r = r();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            MemorySegment s = arena.allocate(JAVA_LONG);
            MemorySegment e = arena.allocate(JAVA_LONG);
            NativeLib.call("sweep focus", err -> (int) NativeLib.H.RESULT_TAKE_FOCUS.invokeExact(r, out, s, e, err));
            MemorySegment f = out.get(ADDRESS, 0);
            return f.equals(MemorySegment.NULL) ? null
                    : new Focus(new KernelResult(f), (int) s.get(JAVA_LONG, 0), (int) e.get(JAVA_LONG, 0));
        }
    }

    /** The focus explanation of a sweep and its chunk [start, end). */
    public record Focus(KernelResult result, int start, int end) {
    }

    /**
     * A new owner of this result's native object; this instance is left empty (its {@link #close()} does nothing),
     * so a try-with-resources that produced the result can hand it on.
     */
    public KernelResult moved() {
        KernelResult next = new KernelResult(r());
        result = null;
        return next;
    }

    @Override
    public void close() {
        if (result == null) {
            return;
        }
        MemorySegment r = result;
        result = null;
        try {
            NativeLib.H.RESULT_FREE.invokeExact(r);
        } catch (Throwable t) {
            throw new IllegalStateException("ctcf_result_free failed", t);
        }
    }
}
