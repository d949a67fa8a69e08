package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;
import org.ctcf.core.CtcfException;
import org.ctcf.core.ErrorCode;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.ctcf.internal.NativeLib;
import org.ctcf.internal.NativeLib.H;

/**
 * A handle on the native kernel: one execution context (device, threads, cancellation) through which volume
 * operations run. Thread-safe; calls from several threads may run at once.
 *
 * <p>Ownership: the caller owns the {@code Kernel} and must close it. {@link #close()} is idempotent; if a call
 * is still running on another thread the native context is freed when that call returns, and every later use
 * throws {@link CtcfException.ResourceClosedException}.
 */
public final class Kernel extends NativeHandle {
    private final Device device;

    private Kernel(MemorySegment handle, Device device) {
        super("kernel context (" + device + ")", handle, H.CONTEXT_FREE);
        this.device = device;
    }

    /**
     * Opens a context on the CPU using every available processor for LibTorch's intra-op threads (LibTorch's own
     * default counts physical cores, which virtual machines often under-report).
     */
    public static Kernel open() {
        return open(Device.CPU, Runtime.getRuntime().availableProcessors());
    }

    /**
     * Opens a context. {@code threads > 0} sets LibTorch's intra-op thread count (process-wide: LibTorch has one
     * pool); 0 keeps the current setting.
     */
    public static Kernel open(Device device, int threads) {
        return open(device, threads, false);
    }

    /**
     * As {@link #open(Device, int)}; {@code tensorOpsOnly} makes the kernel use LibTorch tensor operations even
     * where it has a faster fused CPU loop for the same result (for cross-checking the two).
     */
    public static Kernel open(Device device, int threads, boolean tensorOpsOnly) {
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0");
        }
        NativeLib.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int flags = tensorOpsOnly ? 1 : 0;
            NativeLib.call("opening a kernel context on " + device, err -> (int) H.CONTEXT_CREATE.invokeExact(
                    device.kind().code(), device.index(), threads, flags, out, err));
            return new Kernel(out.get(ADDRESS, 0), device);
        }
    }


    public Device device() {
        return device;
    }

    /** The library's self-description: ctcf version, LibTorch version, CUDA availability, threads. */
    public static String buildInfo() {
        return NativeLib.buildInfo();
    }

    /**
     * Peak bytes the device's caching allocator handed out since the last reset (CUDA's allocator statistics, not
     * nvidia-smi), -1 on the CPU; {@code reset} starts a new peak first. For benchmarks.
     */
    public long devicePeakBytes(boolean reset) {
        try (var lease = lease(); java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment out = arena.allocate(java.lang.foreign.ValueLayout.JAVA_LONG);
            int r = reset ? 1 : 0;
            NativeLib.call("device memory", err -> (int) H.CONTEXT_DEVICE_MEMORY.invokeExact(handle(), r, out, err));
            return out.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0);
        }
    }

    /** Asks running calls on this context to stop; they throw {@link CtcfException.CancelledException}. */
    public void cancel() {
        try (var lease = lease()) {
            NativeLib.call("cancel", err -> (int) H.CONTEXT_CANCEL.invokeExact(handle(), err));
        }
    }

    /** Clears a previous {@link #cancel()} so the context can be used again. */
    public void resetCancel() {
        try (var lease = lease()) {
            NativeLib.call("reset cancel", err -> (int) H.CONTEXT_RESET_CANCEL.invokeExact(handle(), err));
        }
    }

    /**
     * Preprocesses {@code input} as the reference does (see {@link PreprocessOptions}); the result is a new
     * volume on {@link PreprocessPlan#output()}, owned by the caller.
     */
    public Volume preprocess(Volume input, PreprocessOptions options) {
        PreprocessPlan plan = PreprocessPlan.of(input.geometry(), options);
        Geometry og = plan.output();
        Volume out = Volume.allocate(og);
        boolean ok = false;
        try (var k = lease(); var in = input.lease(); var o = out.lease(); Arena arena = Arena.ofConfined()) {
            MemorySegment inDesc = describe(arena, input.segmentUnderLease(), input.geometry().dims(),
                    input.geometry().spacing());
            MemorySegment params = params(arena, plan, options);
            MemorySegment dims = arena.allocate(JAVA_LONG, 3);
            NativeLib.call("preprocess sizes", err -> (int) H.PREPROCESS_DIMS.invokeExact(inDesc, params, dims, err));
            int[] expected = og.dims();
            for (int ax = 0; ax < 3; ax++) {
                if (dims.getAtIndex(JAVA_LONG, ax) != expected[ax]) {
                    throw new CtcfException(ErrorCode.INTERNAL, "kernel and Java disagree on the processed size: "
                            + dims.getAtIndex(JAVA_LONG, 0) + "x" + dims.getAtIndex(JAVA_LONG, 1) + "x"
                            + dims.getAtIndex(JAVA_LONG, 2) + " vs " + og);
                }
            }
            MemorySegment outDesc = describe(arena, out.segmentUnderLease(), og.dims(), og.spacing());
            MemorySegment ctx = handle();
            NativeLib.call("preprocess " + input.geometry(),
                    err -> (int) H.PREPROCESS.invokeExact(ctx, inDesc, params, outDesc, err));
            ok = true;
            return out;
        } finally {
            if (!ok) {
                out.close();
            }
        }
    }

    /**
     * Maps a processed volume back onto the original grid {@code original} (the input's geometry, affine included):
     * undoes the in-plane pad/crop (voxels cropped away become the pad value), resamples back trilinearly and
     * undoes the reorientation. With {@code invertWindow}, values go back from [0, 1] to HU.
     */
    public Volume restore(Volume processed, Geometry original, PreprocessOptions options, boolean invertWindow) {
        PreprocessPlan plan = PreprocessPlan.of(original, options);
        if (!plan.output().sameGrid(processed.geometry(), 1e-6)) {
            throw new CtcfException.InvalidArgumentException("the processed volume (" + processed.geometry()
                    + ") is not what preprocessing " + original + " gives (" + plan.output() + ")");
        }
        Volume out = Volume.allocate(original);
        boolean ok = false;
        try (var k = lease(); var in = processed.lease(); var o = out.lease();
                Arena arena = Arena.ofConfined()) {
            MemorySegment inDesc = describe(arena, processed.segmentUnderLease(), processed.geometry().dims(),
                    processed.geometry().spacing());
            MemorySegment outDesc = describe(arena, out.segmentUnderLease(), original.dims(), original.spacing());
            MemorySegment params = params(arena, plan, options);
            int inv = invertWindow ? 1 : 0;
            MemorySegment ctx = handle();
            NativeLib.call("restore onto " + original,
                    err -> (int) H.PREPROCESS_INVERSE.invokeExact(ctx, inDesc, params, inv, outDesc, err));
            ok = true;
            return out;
        } finally {
            if (!ok) {
                out.close();
            }
        }
    }

    /**
     * Kernel diagnostics ({@code ctcf doctor} and the boundary tests): 0 = a small LibTorch computation,
     * 1 = provoke a LibTorch shape error, 2 = a std::runtime_error, 3 = a non-standard C++ exception,
     * 4 = std::bad_alloc, 5 = sleep {@code arg} ms while honouring cancellation.
     */
    public void selfTest(int what, long arg) {
        try (var lease = lease()) {
            MemorySegment ctx = handle();
            NativeLib.call("selftest " + what, err -> (int) H.SELFTEST.invokeExact(ctx, what, arg, err));
        }
    }





    static MemorySegment describe(Arena arena, MemorySegment data, int[] dims, double[] spacing) {
        MemorySegment d = arena.allocate(NativeLib.VOLUME);
        d.set(ADDRESS, NativeLib.VOLUME_DATA, data);
        for (int i = 0; i < 3; i++) {
            d.set(JAVA_LONG, NativeLib.VOLUME_DIMS + 8L * i, dims[i]);
            d.set(JAVA_DOUBLE, NativeLib.VOLUME_SPACING + 8L * i, spacing[i]);
        }
        return d;
    }

    private static MemorySegment params(Arena arena, PreprocessPlan plan, PreprocessOptions o) {
        MemorySegment p = arena.allocate(NativeLib.PREPROCESS_PARAMS);
        double[] target = o.spacing();
        for (int i = 0; i < 3; i++) {
            p.set(JAVA_INT, NativeLib.PP_PERM + 4L * i, plan.axisPerm()[i]);
            p.set(JAVA_INT, NativeLib.PP_FLIP + 4L * i, plan.axisFlip()[i] ? 1 : 0);
            p.set(JAVA_DOUBLE, NativeLib.PP_TARGET + 8L * i, target[i]);
        }
        p.set(JAVA_DOUBLE, NativeLib.PP_WLOW, o.windowLow());
        p.set(JAVA_DOUBLE, NativeLib.PP_WHIGH, o.windowHigh());
        p.set(JAVA_LONG, NativeLib.PP_SIZE, o.inPlaneX());
        p.set(JAVA_LONG, NativeLib.PP_SIZE + 8, o.inPlaneY());
        p.set(JAVA_DOUBLE, NativeLib.PP_PAD, o.padValue());
        return p;
    }
}
