package org.ctcf.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

import org.ctcf.core.CtcfException;
import org.ctcf.core.ErrorCode;

/**
 * Receives the kernel's progress reports (ctcf_progress_fn) during a long call; returning false cancels the call.
 * {@link #during} bridges it to native code: the upcall never lets an exception reach the kernel — a failing sink
 * cancels the call, and the failure is re-thrown here instead of the cancellation.
 */
@FunctionalInterface
public interface ProgressSink {
    boolean report(Specs.Phase phase, long chunk, long chunks, long step, double lambda, double prediction);

    ProgressSink NONE = (phase, chunk, chunks, step, lambda, prediction) -> true;

    /** A native call that takes the progress callback stub. */
    @FunctionalInterface
    interface CallbackCall {
        int invoke(MemorySegment callback, MemorySegment error) throws Throwable;
    }

    /** Runs {@code call} (checked as {@link NativeLib#call}) with an upcall stub delivering to {@code sink}. */
    static void during(String what, ProgressSink sink, CallbackCall call) {
        Upcall upcall = new Upcall(sink == null ? NONE : sink);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment stub = upcall.stub(arena);
            NativeLib.call(what, err -> call.invoke(stub, err));
        } catch (CtcfException.CancelledException e) {
            if (upcall.failure != null) {
                throw new CtcfException(ErrorCode.INTERNAL, "the progress listener failed: " + upcall.failure,
                        upcall.failure);
            }
            throw e;
        }
    }

    /** The upcall target; package-private so only {@link #during} makes stubs. */
    final class Upcall {
        private final ProgressSink sink;
        private Throwable failure;

        private Upcall(ProgressSink sink) {
            this.sink = sink;
        }

        @SuppressWarnings("unused") // called from native code through the upcall stub
        private int onProgress(MemorySegment user, int phase, long chunk, long chunks, long step, double lambda,
                double prediction) {
            try {
                return sink.report(Specs.Phase.of(phase), chunk, chunks, step, lambda, prediction) ? 0 : 1;
            } catch (Throwable t) {
                failure = t;
                return 1;
            }
        }

        private MemorySegment stub(Arena arena) {
            try {
                MethodHandle mh = MethodHandles.lookup().findVirtual(Upcall.class, "onProgress", MethodType.methodType(int.class, MemorySegment.class,
                                int.class, long.class, long.class, long.class, double.class, double.class))
                        .bindTo(this);
                return Linker.nativeLinker().upcallStub(mh, NativeLib.PROGRESS_FN, arena);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
