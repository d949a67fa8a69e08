package org.ctcf.io;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fault injection for the tests of ctcf's atomic outputs: every file ctcf writes goes through {@link AtomicFiles},
 * which asks here before each one. {@link #failWrite(long)} arms the N-th write from now (1 = the next) to fail in
 * the middle of its bytes, as a full disk does; nothing is armed unless a test arms it.
 */
public final class WriteFaults {
    private static final AtomicLong COUNTDOWN = new AtomicLong();
    private static final AtomicLong WRITES = new AtomicLong();

    private WriteFaults() {
    }

    /** Makes the {@code n}-th file write from now fail ({@code n} ≥ 1); 0 disarms. */
    public static void failWrite(long n) {
        if (n < 0) {
            throw new IllegalArgumentException("n must be >= 0");
        }
        COUNTDOWN.set(n);
    }

    /** Whether a fault is still armed (a test that armed one past the last write sees it here). */
    public static boolean armed() {
        return COUNTDOWN.get() > 0;
    }

    /** How many files this process has written through {@link AtomicFiles} (or begun to). */
    public static long writes() {
        return WRITES.get();
    }

    /** The stream a write of {@code file} goes to: {@code out}, or one failing after its first bytes. */
    static OutputStream wrap(Path file, OutputStream out) {
        WRITES.incrementAndGet();
        if (COUNTDOWN.get() <= 0 || COUNTDOWN.decrementAndGet() != 0) {
            return out;
        }
        return new FilterOutputStream(out) {
            @Override
            public void write(int b) throws IOException {
                throw full();
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len / 2);  // some of the bytes reach the disk, then it is full
                throw full();
            }

            private IOException full() {
                return new java.nio.file.FileSystemException(file.toString(), null,
                        "No space left on device (injected by WriteFaults)");
            }
        };
    }
}
