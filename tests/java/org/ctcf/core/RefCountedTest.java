package org.ctcf.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

class RefCountedTest {
    @Test
    void releaseRunsOnceWhenTheLastLeaseEnds() {
        AtomicInteger released = new AtomicInteger();
        RefCounted r = new RefCounted("thing", released::incrementAndGet);
        RefCounted.Lease a = r.acquire();
        RefCounted.Lease b = r.acquire();
        r.close();
        assertThat(r.isClosed()).isTrue();
        assertThat(released).hasValue(0);
        a.close();
        a.close(); // a lease closed twice counts once
        assertThat(released).hasValue(0);
        b.close();
        assertThat(released).hasValue(1);
        r.close();
        assertThat(released).hasValue(1);
        assertThatThrownBy(r::acquire).isInstanceOf(CtcfException.ResourceClosedException.class)
                .hasMessage("thing is closed");
    }

    @Test
    void concurrentAcquireAndCloseReleaseExactlyOnceAndNeverUnderALease() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            for (int round = 0; round < 500; round++) {
                AtomicInteger released = new AtomicInteger();
                AtomicInteger inUse = new AtomicInteger();
                AtomicInteger violations = new AtomicInteger();
                RefCounted r = new RefCounted("r", () -> {
                    if (inUse.get() != 0) {
                        violations.incrementAndGet();
                    }
                    released.incrementAndGet();
                });
                Future<?>[] fs = new Future<?>[3];
                for (int t = 0; t < 3; t++) {
                    fs[t] = pool.submit(() -> {
                        for (int i = 0; i < 100; i++) {
                            try (RefCounted.Lease l = r.acquire()) {
                                inUse.incrementAndGet();
                                inUse.decrementAndGet();
                            } catch (CtcfException.ResourceClosedException e) {
                                return;
                            }
                        }
                    });
                }
                r.close();
                for (Future<?> f : fs) {
                    f.get(10, TimeUnit.SECONDS);
                }
                assertThat(released).hasValue(1);
                assertThat(violations).hasValue(0);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
