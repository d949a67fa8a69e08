package org.ctcf.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.ctcf.api.Kernel;

/**
 * Ctrl-C (SIGINT/SIGTERM) during a long kernel call: a shutdown hook cancels the kernel and waits until the
 * command has unwound (the kernel stops at its next safe point, files in progress stay under temporary names), so
 * the JVM never exits while native threads are still running.
 */
final class CancelOnExit implements AutoCloseable {
    private final Kernel kernel;
    private final CountDownLatch done = new CountDownLatch(1);
    private final Thread hook;
    /** Whether a signal is ending the process: then the hook says "cancelled", not the command's error handler. */
    private static volatile boolean signalled;

    CancelOnExit(Kernel kernel) {
        this.kernel = kernel;
        this.hook = new Thread(() -> {
            signalled = true;
            kernel.cancel();
            try {
                done.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            // the JVM exits with 128 + the signal (130 for SIGINT, 143 for SIGTERM) once the hooks return
            System.err.println("ctcf: cancelled (interrupted by a signal); outputs in progress were removed");
            System.err.flush();
        }, "ctcf-cancel-on-exit");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    @Override
    public void close() {
        done.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook is running and now returns
        }
    }

    Kernel kernel() {
        return kernel;
    }

    /** Whether a signal (SIGINT, SIGTERM) is ending the process. */
    static boolean signalled() {
        return signalled;
    }
}
