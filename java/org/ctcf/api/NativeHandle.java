package org.ctcf.api;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import org.ctcf.core.RefCounted;

/**
 * One kernel-owned object (context, autoencoder, classifier, tensor) behind a Java owner: the opaque handle, its
 * {@code ctcf_*_free} function, and the {@link RefCounted} lifetime that makes {@link #close()} idempotent and safe
 * while another thread is inside a native call with it.
 */
abstract class NativeHandle implements AutoCloseable {
    private final MemorySegment handle;
    private final RefCounted life;

    /** {@code free} is the entry point of type {@code (MemorySegment)void} that releases {@code handle}. */
    NativeHandle(String what, MemorySegment handle, MethodHandle free) {
        this.handle = handle;
        this.life = new RefCounted(what, () -> {
            try {
                free.invokeExact(handle);
            } catch (Throwable t) {
                throw new IllegalStateException("freeing the native " + what + " failed", t);
            }
        });
    }

    /** A lease keeping the native object alive during a call. */
    RefCounted.Lease lease() {
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
