package org.ctcf.internal;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import org.ctcf.core.RefCounted;

/**
 * One kernel-owned object (context, autoencoder, classifier, tensor, trainer, LPIPS model) behind its Java owner:
 * the opaque handle, the {@code ctcf_*_free} entry point of its {@link Kind}, and the {@link RefCounted} lifetime
 * that makes {@link #close()} idempotent and safe while another thread is inside a native call with it.
 *
 * <p>Only this package sees the raw handle ({@link #handle()}); the api layer holds a {@code NativeObject}, takes
 * {@link #lease() leases} on it around calls and passes it back to the call classes here.
 */
public final class NativeObject implements AutoCloseable {
    /** The kinds of kernel object, each with the entry point that frees it. */
    public enum Kind {
        CONTEXT, AUTOENCODER, CLASSIFIER, TENSOR, PERCEPTUAL, TRAINER;

        private MethodHandle free() {
            return switch (this) {
                case CONTEXT -> NativeLib.H.CONTEXT_FREE;
                case AUTOENCODER -> NativeLib.H.AE_FREE;
                case CLASSIFIER -> NativeLib.H.CLF_FREE;
                case TENSOR -> NativeLib.H.TENSOR_FREE;
                case PERCEPTUAL -> NativeLib.H.PERCEPTUAL_FREE;
                case TRAINER -> NativeLib.H.TRAINER_FREE;
            };
        }
    }

    private final MemorySegment handle;
    private final RefCounted life;

    NativeObject(String what, Kind kind, MemorySegment handle) {
        this.handle = handle;
        MethodHandle free = kind.free();
        this.life = new RefCounted(what, () -> {
            try {
                free.invokeExact(handle);
            } catch (Throwable t) {
                throw new IllegalStateException("freeing the native " + what + " failed", t);
            }
        });
    }

    /** A lease keeping the native object alive during a call. */
    public RefCounted.Lease lease() {
        return life.acquire();
    }

    /** The native object; valid only under a {@link #lease()}. */
    MemorySegment handle() {
        return handle;
    }

    public boolean isClosed() {
        return life.isClosed();
    }

    @Override
    public void close() {
        life.close();
    }
}
