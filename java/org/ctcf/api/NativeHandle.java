package org.ctcf.api;

import org.ctcf.core.RefCounted;
import org.ctcf.internal.NativeObject;

/**
 * The base of every api class that owns a kernel object: it holds the {@link NativeObject} (the handle, its free
 * function and its reference-counted lifetime) and forwards lifecycle calls to it, so {@link #close()} is idempotent
 * and safe while another thread is inside a native call with the object.
 */
abstract class NativeHandle implements AutoCloseable {
    private final NativeObject object;

    NativeHandle(NativeObject object) {
        this.object = object;
    }

    /** A lease keeping the native object alive during a call. */
    RefCounted.Lease lease() {
        return object.lease();
    }

    /** The kernel object, for the call classes of {@code org.ctcf.internal}; use it only under a {@link #lease()}. */
    NativeObject object() {
        return object;
    }

    public boolean isClosed() {
        return object.isClosed();
    }

    @Override
    public void close() {
        object.close();
    }
}
