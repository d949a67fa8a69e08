package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;
import org.ctcf.core.CtcfException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** Contract tests for handles: close twice, use after close, close while in use on another thread, cancel. */
class ResourceLifecycleTest {

    @Test
    void kernelCloseIsIdempotentAndUseAfterCloseIsAClearError() {
        Kernel k = Kernel.open();
        k.close();
        k.close();
        assertThat(k.isClosed()).isTrue();
        assertThatThrownBy(() -> k.selfTest(0, 0)).isInstanceOf(CtcfException.ResourceClosedException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(k::cancel).isInstanceOf(CtcfException.ResourceClosedException.class);
    }

    @Test
    void closingAKernelWhileAnotherThreadIsInsideANativeCallWaitsForThatCall() throws Exception {
        Kernel k = Kernel.open();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            CountDownLatch started = new CountDownLatch(1);
            Future<?> running = pool.submit(() -> {
                started.countDown();
                k.selfTest(5, 400); // 400 ms inside the kernel
                return null;
            });
            started.await();
            Thread.sleep(50);
            k.close(); // returns at once; the native context is freed when the call ends
            assertThat(k.isClosed()).isTrue();
            running.get(10, TimeUnit.SECONDS); // the call completed normally, nothing freed under it
            assertThatThrownBy(() -> k.selfTest(0, 0)).isInstanceOf(CtcfException.ResourceClosedException.class);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void cancelStopsARunningCallFromAnotherThread() throws Exception {
        try (Kernel k = Kernel.open()) {
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                CountDownLatch started = new CountDownLatch(1);
                long t0 = System.nanoTime();
                Future<?> running = pool.submit(() -> {
                    started.countDown();
                    k.selfTest(5, 60_000);
                    return null;
                });
                started.await();
                Thread.sleep(50);
                k.cancel();
                assertThatThrownBy(() -> running.get(10, TimeUnit.SECONDS))
                        .hasCauseInstanceOf(CtcfException.CancelledException.class);
                assertThat((System.nanoTime() - t0) / 1e9).isLessThan(10);
            } finally {
                pool.shutdownNow();
            }
            k.resetCancel();
            k.selfTest(0, 0);
        }
    }

    @Test
    void volumeCloseIsIdempotentAndUseAfterCloseIsAClearError() {
        Volume v = Volume.allocate(Geometry.of(4, 4, 4, 1, 1, 1, 0, 0, 0));
        v.set(1, 2, 3, 5f);
        assertThat(v.get(1, 2, 3)).isEqualTo(5f);
        v.close();
        v.close();
        assertThatThrownBy(() -> v.get(1, 2, 3)).isInstanceOf(CtcfException.ResourceClosedException.class)
                .hasMessageContaining("volume").hasMessageContaining("closed");
        assertThatThrownBy(v::stats).isInstanceOf(CtcfException.ResourceClosedException.class);
        assertThatThrownBy(() -> v.get(4, 0, 0)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void closingAVolumeWhileAnotherThreadReadsItKeepsTheMemoryValidUntilTheReaderIsDone() throws Exception {
        Volume v = Volume.filled(Geometry.of(64, 64, 64, 1, 1, 1, 0, 0, 0), 3f);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch closed = new CountDownLatch(1);
            Future<Double> reader = pool.submit(() -> v.withSegment(seg -> {
                inside.countDown();
                try {
                    closed.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                double s = 0;
                for (long i = 0; i < v.voxelCount(); i++) {
                    s += seg.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i);
                }
                return s;
            }));
            inside.await();
            v.close();
            closed.countDown();
            assertThat(reader.get(10, TimeUnit.SECONDS)).isEqualTo(3.0 * 64 * 64 * 64);
            assertThatThrownBy(() -> v.get(0, 0, 0)).isInstanceOf(CtcfException.ResourceClosedException.class);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void manyThreadsUsingAndClosingOneKernelNeverCrash() throws Exception {
        // Four threads call the kernel until it is closed under them: each must end with ResourceClosedException
        // (any other exception fails the Future), none may run past the deadline, and the JVM lives.
        for (int round = 0; round < 20; round++) {
            Kernel k = Kernel.open();
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                CountDownLatch go = new CountDownLatch(1);
                java.util.List<Future<Boolean>> results = new java.util.ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    results.add(pool.submit(() -> {
                        go.await();
                        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                        while (System.nanoTime() < deadline) {
                            try {
                                k.selfTest(0, 0);
                            } catch (CtcfException.ResourceClosedException e) {
                                return true;
                            }
                        }
                        return false;
                    }));
                }
                go.countDown();
                Thread.sleep(round % 3);
                k.close();
                for (Future<Boolean> f : results) {
                    assertThat(f.get(30, TimeUnit.SECONDS)).as("the thread saw the kernel closed").isTrue();
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
