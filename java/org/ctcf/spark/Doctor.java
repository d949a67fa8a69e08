package org.ctcf.spark;

import java.io.PrintStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.ctcf.api.Device;
import org.ctcf.api.Kernel;
import org.ctcf.cli.ExitCode;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * {@code ctcf spark doctor}: tasks that report, from where they run, what a scan task would get: the host and
 * executor, the Java version, whether the native kernel loads (and its LibTorch), the GPU address Spark assigned and
 * the device the task asks the kernel for, and whether that device opens. A cluster's set-up is checked before a
 * cohort is submitted to it.
 */
final class Doctor {
    private Doctor() {
    }

    /** One task's findings; {@code problem} is null when a scan task could run there. */
    record Report(int task, String host, String executor, long pid, String java, String gpuAddress, String device,
            int threads, String kernel, String problem) implements Serializable {
        private static final long serialVersionUID = 1L;
    }

    static int run(JavaSparkContext jsc, int tasks, boolean json, PrintStream out, PrintStream err)
            throws java.io.IOException {
        List<Integer> ids = IntStream.range(0, tasks).boxed().toList();
        List<Report> reports;
        try {
            reports = new ArrayList<>(jsc.parallelize(ids, tasks).map(Doctor::check).collect());
        } catch (Exception e) {  // Spark's exceptions come undeclared
            throw new java.io.IOException("the doctor's job failed: " + e.getMessage(), e);
        }
        ObjectMapper mapper = new ObjectMapper();
        int bad = 0;
        for (Report r : reports) {
            if (r.problem() != null) {
                bad++;
            }
            if (json) {
                try {
                    out.println(mapper.writeValueAsString(r));
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    throw new IllegalStateException(e);
                }
            } else {
                out.printf(Locale.ROOT, "task %d: executor %s on %s (pid %d), Java %s, %s%s, %d thread%s: %s%n",
                        r.task(), r.executor(), r.host(), r.pid(), r.java(), r.device(),
                        r.gpuAddress() != null ? " (GPU " + r.gpuAddress() + " assigned by Spark)" : "", r.threads(),
                        r.threads() == 1 ? "" : "s", r.problem() == null ? "ok (" + r.kernel() + ")" : r.problem());
            }
        }
        out.flush();
        err.printf(Locale.ROOT, "ctcf spark doctor: %d of %d tasks can run ctcf%n", tasks - bad, tasks);
        return bad == 0 ? ExitCode.OK.code() : ExitCode.NATIVE_UNAVAILABLE.code();
    }

    static Report check(int task) {
        TaskContext ctx = TaskContext.get();
        String java = Runtime.version().toString();
        String problem = SparkMain.javaProblem(Runtime.version());
        String gpu = null;
        String device = "cpu";
        int threads = Math.max(1, ctx.cpus());
        String kernel = null;
        try {
            ExecutorModels.Placement p = ExecutorModels.placement(ctx);
            gpu = p.gpuAddress();
            device = p.device() != null ? p.device() : "cpu";
            threads = p.threads();
            if (problem == null) {
                kernel = Kernel.buildInfo();
                try (Kernel k = Kernel.open(Device.parse(device), threads)) {
                    kernel = kernel + ", " + k.device();
                }
            }
        } catch (RuntimeException | LinkageError e) {
            problem = (kernel == null ? "the native kernel does not load: " : device + " does not open: ")
                    + e.getMessage();
        }
        return new Report(task, ExecutorModels.host(), ExecutorModels.executorId(), ProcessHandle.current().pid(),
                java, gpu, device, threads, kernel, problem);
    }
}
