package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;
import org.ctcf.core.CtcfException;
import org.ctcf.core.ErrorCode;

import java.util.EnumSet;

import org.ctcf.internal.ContextCalls;
import org.ctcf.internal.NativeLib;
import org.ctcf.internal.NativeObject;
import org.ctcf.internal.Specs;

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

    private Kernel(NativeObject context, Device device) {
        super(context);
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
        var flags = tensorOpsOnly ? EnumSet.of(Specs.ContextFlag.TENSOR_OPS_ONLY)
                : EnumSet.noneOf(Specs.ContextFlag.class);
        return new Kernel(ContextCalls.create("kernel context (" + device + ")", device.kind().code(), device.index(),
                threads, flags), device);
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
        try (var lease = lease()) {
            return ContextCalls.devicePeakBytes(object(), reset);
        }
    }

    /** Asks running calls on this context to stop; they throw {@link CtcfException.CancelledException}. */
    public void cancel() {
        try (var lease = lease()) {
            ContextCalls.cancel(object());
        }
    }

    /** Clears a previous {@link #cancel()} so the context can be used again. */
    public void resetCancel() {
        try (var lease = lease()) {
            ContextCalls.resetCancel(object());
        }
    }

    /**
     * Preprocesses {@code input} as the reference does (see {@link PreprocessOptions}); the result is a new
     * volume on {@link PreprocessPlan#output()}, owned by the caller. A preprocessing that would hold more voxels at
     * once than the process's limit ({@link org.ctcf.io.ReadOptions#maxVoxelsByDefault()}) is refused before
     * anything is allocated.
     */
    public Volume preprocess(Volume input, PreprocessOptions options) {
        PreprocessPlan plan = PreprocessPlan.of(input.geometry(), options);
        plan.checkSize(input.geometry(), options, org.ctcf.io.ReadOptions.maxVoxelsByDefault());
        Geometry og = plan.output();
        Volume out = Volume.allocate(og);
        boolean ok = false;
        try (var k = lease(); var in = input.lease(); var o = out.lease()) {
            Specs.Preprocess params = spec(plan, options);
            long[] dims = ContextCalls.preprocessDims(input, params);
            int[] expected = og.dims();
            for (int ax = 0; ax < 3; ax++) {
                if (dims[ax] != expected[ax]) {
                    throw new CtcfException(ErrorCode.INTERNAL, "kernel and Java disagree on the processed size: "
                            + dims[0] + "x" + dims[1] + "x" + dims[2] + " vs " + og);
                }
            }
            ContextCalls.preprocess(object(), input, params, out);
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
        try (var k = lease(); var in = processed.lease(); var o = out.lease()) {
            ContextCalls.restore(object(), processed, spec(plan, options), invertWindow, out);
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
            ContextCalls.selfTest(object(), what, arg);
        }
    }


    private static Specs.Preprocess spec(PreprocessPlan plan, PreprocessOptions o) {
        return new Specs.Preprocess(plan.axisPerm().clone(), plan.axisFlip().clone(), o.spacing().clone(), o.windowLow(), o.windowHigh(),
                o.inPlaneX(), o.inPlaneY(), o.padValue());
    }
}
