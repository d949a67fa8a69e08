package org.ctcf.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Set;

import org.ctcf.core.Volume;

/** The execution context (ctcf_context_*), preprocessing, lungmask's pre/post-processing and the self-tests. */
public final class ContextCalls {
    private ContextCalls() {
    }

    /** A new context; {@code deviceKind} is a ctcf_device_kind value. */
    public static NativeObject create(String what, int deviceKind, int deviceIndex, int threads,
            Set<Specs.ContextFlag> flags) {
        NativeLib.ensureLoaded();
        int bits = flags.stream().mapToInt(f -> f.bit).reduce(0, (a, b) -> a | b);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            NativeLib.call("opening a " + what, err -> (int) NativeLib.H.CONTEXT_CREATE.invokeExact(deviceKind,
                    deviceIndex, threads, bits, out, err));
            return new NativeObject(what, NativeObject.Kind.CONTEXT, out.get(ADDRESS, 0));
        }
    }

    public static void cancel(NativeObject ctx) {
        MemorySegment c = ctx.handle();
        NativeLib.call("cancel", err -> (int) NativeLib.H.CONTEXT_CANCEL.invokeExact(c, err));
    }

    public static void resetCancel(NativeObject ctx) {
        MemorySegment c = ctx.handle();
        NativeLib.call("reset cancel", err -> (int) NativeLib.H.CONTEXT_RESET_CANCEL.invokeExact(c, err));
    }

    public static long devicePeakBytes(NativeObject ctx, boolean reset) {
        MemorySegment c = ctx.handle();
        int r = reset ? 1 : 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            NativeLib.call("device memory", err -> (int) NativeLib.H.CONTEXT_DEVICE_MEMORY.invokeExact(c, r, out, err));
            return out.get(JAVA_LONG, 0);
        }
    }

    public static void selfTest(NativeObject ctx, int what, long arg) {
        MemorySegment c = ctx.handle();
        NativeLib.call("selftest " + what, err -> (int) NativeLib.H.SELFTEST.invokeExact(c, what, arg, err));
    }

    /** The processed dims (nx, ny, nz) the kernel computes for {@code input} under {@code p}. */
    public static long[] preprocessDims(Volume input, Specs.Preprocess p) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = Structs.volume(arena, input);
            MemorySegment params = Structs.preprocess(arena, p);
            MemorySegment dims = arena.allocate(JAVA_LONG, 3);
            NativeLib.call("preprocess sizes",
                    err -> (int) NativeLib.H.PREPROCESS_DIMS.invokeExact(in, params, dims, err));
            return dims.toArray(JAVA_LONG);
        }
    }

    /** Preprocesses {@code input} into {@code output} (leases on both held by the caller). */
    public static void preprocess(NativeObject ctx, Volume input, Specs.Preprocess p, Volume output) {
        MemorySegment c = ctx.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = Structs.volume(arena, input);
            MemorySegment params = Structs.preprocess(arena, p);
            MemorySegment out = Structs.volume(arena, output);
            NativeLib.call("preprocess " + input.geometry(),
                    err -> (int) NativeLib.H.PREPROCESS.invokeExact(c, in, params, out, err));
        }
    }

    /** Maps a processed volume back onto the original grid of {@code output}. */
    public static void restore(NativeObject ctx, Volume processed, Specs.Preprocess p, boolean invertWindow,
            Volume output) {
        MemorySegment c = ctx.handle();
        int inv = invertWindow ? 1 : 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = Structs.volume(arena, processed);
            MemorySegment params = Structs.preprocess(arena, p);
            MemorySegment out = Structs.volume(arena, output);
            NativeLib.call("restore onto " + output.geometry(),
                    err -> (int) NativeLib.H.PREPROCESS_INVERSE.invokeExact(c, in, params, inv, out, err));
        }
    }

    /**
     * lungmask's original preprocessing of an LPS volume in HU into {@code out} ([nz, size, size] slices); returns
     * the crop boxes (4 per slice).
     */
    public static long[] lungmaskPreprocess(Volume lpsHu, long size, Volume out, int boxCount) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = Structs.volume(arena, lpsHu);
            MemorySegment b = arena.allocate(JAVA_LONG, boxCount);
            MemorySegment dst = out.segmentUnderLease();
            NativeLib.call("lungmask preprocessing",
                    err -> (int) NativeLib.H.LUNGMASK_PREPROCESS.invokeExact(in, size, dst, b, err));
            return b.toArray(JAVA_LONG);
        }
    }

    /** Undoes lungmask's crops: labels [nz, size, size] back onto {@code out}'s LPS grid. */
    public static void lungmaskRestore(Volume labels, long size, long[] boxes, Volume out) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment lab = labels.segmentUnderLease();
            MemorySegment b = arena.allocateFrom(JAVA_LONG, boxes);
            MemorySegment o = Structs.volume(arena, out);
            NativeLib.call("lungmask restore",
                    err -> (int) NativeLib.H.LUNGMASK_RESTORE.invokeExact(lab, size, b, o, err));
        }
    }
}
