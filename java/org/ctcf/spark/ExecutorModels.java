package org.ctcf.spark;

import java.io.IOException;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.ctcf.cli.CohortJobs;
import org.ctcf.core.CtcfException;
import org.ctcf.core.ErrorCode;
import org.ctcf.io.ReadOptions;

/**
 * The kernel and the models of an executor JVM, loaded on its first task and kept for the others (a lazy per-JVM
 * holder): loads = executors (times devices), not scans. Each load logs one line on the executor's stderr and is
 * counted, so the driver and the tests can check it. On a worker, volume headers that reference files outside their
 * own folder are refused ({@link ReadOptions#confineByDefault}): inputs on shared workers come from many hands.
 */
final class ExecutorModels {
    /** This JVM's identity in the task results: a load from another JVM has another one. */
    static final String JVM_ID = UUID.randomUUID().toString();
    private static final AtomicInteger LOADS = new AtomicInteger();
    /** By device ("cpu/2", "cuda:1/1"): one command line's models at a time per device. */
    private static final Map<String, Entry> LOADED = new HashMap<>();

    private record Entry(CohortJobs.Spec spec, CohortJobs.Loaded loaded) {
    }

    /**
     * Where a task runs: the device it asks the kernel for (null: the command line's), its threads, and the GPU
     * address Spark gave it (null: none).
     */
    record Placement(String device, int threads, String gpuAddress) {
    }

    /** The models of a task, and whether it loaded them (the first task of this JVM and device) or found them. */
    record Handle(CohortJobs.Loaded models, boolean loaded) {
    }

    /** The models of {@code spec} for a task placed at {@code p}, loaded now if this JVM has not loaded them yet. */
    static Handle get(CohortJobs.Spec spec, Placement p) {
        String problem = SparkMain.javaProblem(Runtime.version());
        if (problem != null) {
            throw new ExecutorSetupException(where() + ": " + problem);
        }
        ReadOptions.confineByDefault(true);
        String key = p.device() + "/" + p.threads();
        synchronized (LOADED) {
            Entry e = LOADED.get(key);
            if (e != null && e.spec().equals(spec)) {
                return new Handle(e.loaded(), false);
            }
            if (e != null) {  // another job in the same executor (a long-lived session): its models go
                synchronized (e.loaded()) {  // after the scan that may be running on them
                    e.loaded().close();
                }
                LOADED.remove(key);
            }
            long t0 = System.nanoTime();
            CohortJobs.Loaded loaded;
            try {
                loaded = CohortJobs.load(spec, p.device(), p.threads());
            } catch (CtcfException ce) {
                if (ce.code() == ErrorCode.LIBRARY_UNAVAILABLE || ce.code() == ErrorCode.ABI_MISMATCH) {
                    throw new ExecutorSetupException(where() + " cannot load the ctcf native kernel: " + ce.getMessage()
                            + " (every worker needs LibTorch where libctcf was built against it, or on "
                            + "spark.executorEnv.LD_LIBRARY_PATH; see README, Cohorts)");
                }
                throw new ExecutorSetupException(where() + " cannot open the kernel on " + p.device() + ": "
                        + ce.getMessage());
            } catch (IOException | RuntimeException | LinkageError ex) {
                throw new ExecutorSetupException(where() + " cannot load the models: " + ex);
            }
            int n = LOADS.incrementAndGet();
            System.err.printf(java.util.Locale.ROOT, "ctcf: %s loaded the kernel and the models in %.1f s: %s "
                    + "(load %d of this JVM)%n", where(), (System.nanoTime() - t0) / 1e9, loaded.description(), n);
            LOADED.put(key, new Entry(spec, loaded));
            return new Handle(loaded, true);
        }
    }

    /**
     * The placement of the running task: with Spark's GPU scheduling ({@code spark.task.resource.gpu.amount=1}),
     * {@code cuda:<the address Spark assigned>}; otherwise the command line's {@code --device} (device null). The
     * kernel's LibTorch threads are the task's {@code spark.task.cpus}.
     */
    static Placement placement(TaskContext ctx) {
        int threads = Math.max(1, ctx.cpus());
        ResourceInformation gpu = ctx.resourcesJMap().get("gpu");
        if (gpu == null) {
            return new Placement(null, threads, null);
        }
        String[] a = gpu.addresses();
        if (a.length != 1) {
            throw new ExecutorSetupException(where() + ": a task holds " + a.length + " GPUs (" + String.join(",", a)
                    + "); ctcf runs a scan on one: set spark.task.resource.gpu.amount=1");
        }
        if (!a[0].matches("\\d+")) {
            throw new ExecutorSetupException(where() + ": GPU address '" + a[0] + "' from the discovery script is not "
                    + "a CUDA device index");
        }
        return new Placement("cuda:" + a[0], threads, a[0]);
    }

    /** "executor 1 on host (pid 123)". */
    static String where() {
        SparkEnv env = SparkEnv.get();
        String id = env == null ? "?" : env.executorId();
        return "executor " + id + " on " + host() + " (pid " + ProcessHandle.current().pid() + ")";
    }

    static String executorId() {
        SparkEnv env = SparkEnv.get();
        return env == null ? "?" : env.executorId();
    }

    static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "unknown-host";
        }
    }

    /** How the message of an {@link ExecutorSetupException} starts: the driver recognizes a task's failure by it. */
    static final String SETUP_PREFIX = "ctcf: executor ";

    /** A worker that cannot run ctcf (Java, LibTorch, devices): the driver stops the job and shows this message. */
    static final class ExecutorSetupException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ExecutorSetupException(String message) {
            super("ctcf: " + message);
        }
    }

    private ExecutorModels() {
    }
}
