package org.ctcf.core;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.ctcf.core.CtcfException.ResourceClosedException;

/**
 * One owner's lifetime for a native or off-heap resource, safe under concurrent use and close.
 *
 * <p>Users {@link #acquire()} a lease for the span of each native call; {@link #close()} marks the resource
 * closed at once (new leases fail with a clear message) and the release action runs exactly once, when the last
 * lease ends. So closing on one thread while another is inside a native call never frees memory under that call.
 */
public final class RefCounted {
    /** Bit 0: closed. Bits 1..: number of open leases. */
    private final AtomicLong state = new AtomicLong();
    private final AtomicBoolean released = new AtomicBoolean();
    private final String what;
    private final Runnable release;

    public RefCounted(String what, Runnable release) {
        this.what = what;
        this.release = release;
    }

    /** A lease that keeps the resource alive until closed. Throws if the resource is already closed. */
    public Lease acquire() {
        while (true) {
            long s = state.get();
            if ((s & 1L) != 0) {
                throw new ResourceClosedException(what + " is closed");
            }
            if (state.compareAndSet(s, s + 2)) {
                return new Lease();
            }
        }
    }

    /** Idempotent. Returns immediately; the release action waits for open leases to end. */
    public void close() {
        while (true) {
            long s = state.get();
            if ((s & 1L) != 0) {
                return;
            }
            if (state.compareAndSet(s, s | 1L)) {
                if ((s >>> 1) == 0) {
                    releaseOnce();
                }
                return;
            }
        }
    }

    public boolean isClosed() {
        return (state.get() & 1L) != 0;
    }

    /** Whether the release action has run (for tests and diagnostics). */
    public boolean isReleased() {
        return released.get();
    }

    private void endLease() {
        long s = state.addAndGet(-2);
        if (s == 1L) {
            releaseOnce();
        }
    }

    private void releaseOnce() {
        if (released.compareAndSet(false, true)) {
            release.run();
        }
    }

    /** A single use of the resource; close it exactly once (try-with-resources). */
    public final class Lease implements AutoCloseable {
        private final AtomicBoolean ended = new AtomicBoolean();

        private Lease() {
        }

        @Override
        public void close() {
            if (ended.compareAndSet(false, true)) {
                endLease();
            }
        }
    }
}
