package org.ctcf.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.ctcf.eval.Evaluation;
import org.ctcf.eval.EvaluationShardTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The Spark application ({@code target/ctcf-spark.jar}, submitted through {@code SparkSubmit}) on a real standalone
 * cluster on 127.0.0.1 ({@link StandaloneCluster}: a master and worker JVMs from the Maven jars): a worker killed
 * with SIGKILL while scans run does not cost a scan or add one; GPU addresses from Spark's resource scheduling
 * become the devices the tasks ask the kernel for; a worker without the native kernel stops the job with one message
 * that names it.
 */
class SparkClusterIT {
    private static final int SCANS = 10;

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void aWorkerKilledWhileScansRunCostsNoScanAndAddsNone() throws Exception {
        Path work = freshDir("kill");
        Path data = Files.createDirectories(work.resolve("data"));
        Path manifest = TinyCohort.manifest(data, SCANS);
        List<String> evaluate = new ArrayList<>(TinyCohort.models(data));
        evaluate.set(evaluate.indexOf("--chunks") + 1, "16,8,4");  // more work per scan: the kill lands mid-job

        // the reference: the local ctcf evaluate, one thread (spark.task.cpus = 1 on the executors)
        Path local = work.resolve("local");
        TinyCohort.evaluateLocally(manifest, evaluate, local);

        Path out = work.resolve("out");
        Path rows = out.resolve("rows");
        List<ProcessHandle> seen = new ArrayList<>();
        long t0 = System.nanoTime();
        try (StandaloneCluster cluster = StandaloneCluster.start(work, 2, List.of(), workerEnv())) {
            long t1 = System.nanoTime();
            System.err.printf("SparkClusterIT kill: cluster of 2 workers started in %.1f s%n", secs(t0, t1));
            List<String> submit = new ArrayList<>(common(cluster));
            submit.addAll(List.of("--conf", "spark.task.maxFailures=4", "--conf", "spark.executor.cores=1",
                    "--class", SparkMain.class.getName(), appJar().toString(), "evaluate", manifest.toString(),
                    "-o", out.toString()));
            submit.addAll(evaluate);
            Path log = work.resolve("logs/submit.log");
            Process job = cluster.submit(submit, log);
            long killedAt = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(200);
            while (job.isAlive() && System.nanoTime() < deadline) {
                if (killedAt == 0) {
                    List<ProcessHandle> ex0 = cluster.executors(0);
                    seen.addAll(ex0);
                    seen.addAll(cluster.executors(1));
                    long committed = committedRows(rows);
                    if (committed >= 1 && committed < SCANS - 2 && !ex0.isEmpty()) {
                        cluster.kill(0);
                        killedAt = System.nanoTime();
                        System.err.printf("SparkClusterIT kill: worker 0 and executor(s) %s SIGKILLed %.1f s into "
                                + "the job, %d of %d rows committed%n", ex0.stream().map(ProcessHandle::pid).toList(),
                                secs(t1, killedAt), committed, SCANS);
                    }
                }
                Thread.sleep(50);
            }
            String why = "\n" + StandaloneCluster.tail(log, 80) + "\n" + cluster.logTails(30);
            if (job.isAlive()) {
                job.destroyForcibly();
                fail("the job did not finish within 200 s" + why);
            }
            System.err.printf("SparkClusterIT kill: job finished in %.1f s (exit %d)%n", secs(t1, System.nanoTime()),
                    job.exitValue());
            assertThat(killedAt).as("worker 0 was killed while scans ran" + why).isPositive();
            assertThat(job.exitValue()).as("the application's exit status" + why).isZero();
            String driver = Files.readString(log);
            assertThat(driver).as(why).contains(SCANS + "/" + SCANS + " scans done");

            // every scan exactly once, the local run's values
            List<String> spark = Files.readAllLines(out.resolve(Evaluation.RESULTS));
            assertThat(spark).as(why).hasSize(SCANS + 1);
            assertThat(EvaluationShardTest.withoutSeconds(spark)).as(why).isEqualTo(
                    EvaluationShardTest.withoutSeconds(Files.readAllLines(local.resolve(Evaluation.RESULTS))));
            ObjectMapper json = new ObjectMapper();
            assertThat(EvaluationShardTest.withoutTiming(json.readTree(out.resolve(Evaluation.SUMMARY).toFile())))
                    .isEqualTo(EvaluationShardTest.withoutTiming(json.readTree(
                            local.resolve(Evaluation.SUMMARY).toFile())));
            // no half-written commit left behind by the killed executor
            try (Stream<Path> s = Files.walk(out)) {
                assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".partial"));
            }
            // the models loaded once per executor JVM, not once per scan
            JsonNode record = json.readTree(out.resolve(SparkCohort.RECORD).toFile());
            int scans = 0;
            for (JsonNode e : record.path("executors")) {
                assertThat(e.path("loads").asInt()).as(record.toString()).isEqualTo(1);
                scans += e.path("scans").asInt();
            }
            assertThat(scans).isEqualTo(SCANS);
            assertThat(record.path("executors").size()).as(record.toString()).isBetween(1, 3);
            // and each executor logged its one load
            long loadLines = 0;
            for (int w = 0; w < 2; w++) {
                for (Path l : cluster.executorLogs(w)) {
                    long n = Files.readAllLines(l).stream().filter(x -> x.contains("loaded the kernel and the models"))
                            .count();
                    assertThat(n).as(l.toString()).isLessThanOrEqualTo(1);
                    loadLines += n;
                }
            }
            assertThat(loadLines).as(why).isBetween(1L, 3L);

            // re-submitted: nothing to do, the same rows
            Process again = cluster.submit(submit, work.resolve("logs/submit-again.log"));
            assertThat(again.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(again.exitValue()).isZero();
            assertThat(Files.readString(work.resolve("logs/submit-again.log")))
                    .contains(SCANS + " done already, 0 to evaluate");
            assertThat(Files.readAllLines(out.resolve(Evaluation.RESULTS))).isEqualTo(spark);
        }
        assertThat(seen).as("executors were seen").isNotEmpty().noneMatch(ProcessHandle::isAlive);
        assertThat(StandaloneCluster.leftovers(work)).as("processes left after close()").isEmpty();
    }

    /**
     * One worker with two GPUs from a discovery script (and --cores 2, so that two tasks run at once; with one task
     * slot the scheduler hands out the lowest free address every time): each doctor task gets one address and asks
     * the kernel for cuda:<that address>, which does not open on this machine. Then a job whose executors cannot load
     * the native kernel stops with one message naming the executor's host and what is missing.
     */
    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void gpuAddressesBecomeDevicesAndAWorkerWithoutTheKernelStopsTheJob() throws Exception {
        Path work = freshDir("gpu");
        Path script = work.resolve("gpus.sh");
        Files.writeString(script, "#!/bin/sh\necho '{\"name\":\"gpu\",\"addresses\":[\"0\",\"1\"]}'\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path data = Files.createDirectories(work.resolve("data"));
        Path manifest = TinyCohort.manifest(data, 2);
        List<String> evaluate = TinyCohort.models(data);
        try (StandaloneCluster cluster = StandaloneCluster.start(work, 1, 2,
                List.of("-Dspark.worker.resource.gpu.amount=2",
                        "-Dspark.worker.resource.gpu.discoveryScript=" + script), workerEnv())) {
            List<String> submit = new ArrayList<>(common(cluster));
            submit.addAll(List.of("--conf", "spark.executor.cores=2",
                    "--conf", "spark.executor.resource.gpu.amount=2",
                    "--conf", "spark.task.resource.gpu.amount=1",
                    "--conf", "spark.executor.resource.gpu.discoveryScript=" + script,
                    "--class", SparkMain.class.getName(), appJar().toString(), "doctor", "--tasks", "6", "--json"));
            Path log = work.resolve("logs/doctor.log");
            Process job = cluster.submit(submit, log);
            String why = "\n" + StandaloneCluster.tail(log, 80) + "\n" + cluster.logTails(30);
            if (!job.waitFor(120, TimeUnit.SECONDS)) {
                job.destroyForcibly();
                fail("the doctor did not finish within 120 s" + why);
            }
            assertThat(job.exitValue()).as("no task can open a GPU here" + why).isEqualTo(5);
            ObjectMapper json = new ObjectMapper();
            List<JsonNode> reports = new ArrayList<>();
            for (String l : Files.readAllLines(log)) {
                if (l.startsWith("{\"task\"")) {
                    reports.add(json.readTree(l));
                }
            }
            assertThat(reports).as(why).hasSize(6);
            Set<String> addresses = new HashSet<>();
            for (JsonNode r : reports) {
                String a = r.path("gpuAddress").asText();
                assertThat(a).as(r.toString()).isIn("0", "1");
                assertThat(r.path("device").asText()).as(r.toString()).isEqualTo("cuda:" + a);
                assertThat(r.path("problem").asText()).as(r.toString()).startsWith("cuda:" + a + " does not open");
                addresses.add(a);
            }
            assertThat(addresses).as(reports.toString()).containsExactlyInAnyOrder("0", "1");

            // executors without the native kernel: the job stops at the first task with a message naming the host
            List<String> bad = new ArrayList<>(common(cluster));
            bad.addAll(List.of("--conf", "spark.executorEnv.CTCF_LIBRARY_PATH=/nonexistent/libctcf.so",
                    "--class", SparkMain.class.getName(), appJar().toString(), "evaluate", manifest.toString(),
                    "-o", work.resolve("bad").toString()));
            bad.addAll(evaluate);
            Path badLog = work.resolve("logs/no-kernel.log");
            Process b = cluster.submit(bad, badLog);
            assertThat(b.waitFor(120, TimeUnit.SECONDS)).isTrue();
            String text = Files.readString(badLog);
            assertThat(b.exitValue()).as(text).isEqualTo(5);
            assertThat(text).contains("cannot load the ctcf native kernel").contains("/nonexistent/libctcf.so")
                    .contains(" on " + ExecutorModels.host() + " ").contains("stopping the job");

            // the launcher: ./ctcf spark with SPARK_HOME (here the cluster's, a folder of the Spark jars)
            String root = System.getProperty("ctcf.test.root", ".");
            ProcessBuilder pb = new ProcessBuilder(Path.of(root).resolve("ctcf").toString(), "spark", "doctor",
                    "--master", cluster.masterUrl(), "--tasks", "2", "--json", "--conf", "spark.driver.host=127.0.0.1",
                    "--conf", "spark.ui.enabled=false", "--conf", "spark.executor.memory=512m")
                    .directory(work.toFile()).redirectErrorStream(true)
                    .redirectOutput(work.resolve("logs/launcher.log").toFile());
            pb.environment().put("SPARK_HOME", cluster.sparkHome().toString());
            pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
            Process l = pb.start();
            assertThat(l.waitFor(120, TimeUnit.SECONDS)).isTrue();
            String launched = Files.readString(work.resolve("logs/launcher.log"));
            assertThat(l.exitValue()).as(launched).isZero();
            assertThat(launched.lines().filter(x -> x.startsWith("{\"task\"") && x.contains("\"problem\":null")))
                    .as(launched).hasSize(2);
        }
        assertThat(StandaloneCluster.leftovers(work)).as("processes left after close()").isEmpty();
    }

    /** The application jar that mvn package built (the integration tests run after it). */
    private static Path appJar() {
        String r = System.getProperty("ctcf.test.root");
        Path jar = (r != null ? Path.of(r) : Path.of("").toAbsolutePath()).resolve("target/ctcf-spark.jar");
        assertThat(jar).as("target/ctcf-spark.jar (mvn package)").isRegularFile();
        return jar;
    }

    /** The workers' environment: the test build's native library when one is named (else the jar's own). */
    private static Map<String, String> workerEnv() {
        String lib = System.getenv("CTCF_LIBRARY_PATH");
        return lib == null ? Map.of() : Map.of("CTCF_LIBRARY_PATH", lib);
    }

    private static long committedRows(Path rows) throws IOException {
        if (!Files.isDirectory(rows)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(rows)) {
            return s.filter(p -> p.getFileName().toString().matches("v\\d+\\.nii\\.gz\\.csv")).count();
        }
    }

    /** SparkSubmit's options for a client-mode driver on the cluster, module options on driver and executors. */
    private static List<String> common(StandaloneCluster cluster) {
        String modules = String.join(" ", cluster.moduleOptions());
        return List.of("--master", cluster.masterUrl(), "--deploy-mode", "client",
                "--conf", "spark.executor.extraJavaOptions=" + modules,
                "--conf", "spark.driver.extraJavaOptions=" + modules,
                "--conf", "spark.executor.memory=512m",
                "--conf", "spark.ui.enabled=false",
                "--conf", "spark.driver.host=127.0.0.1");
    }

    private static Path freshDir(String name) throws IOException {
        String r = System.getProperty("ctcf.test.root");
        Path root = r != null ? Path.of(r) : Path.of("").toAbsolutePath();
        Path dir = root.resolve("target/standalone-cluster-it").resolve(name);
        if (Files.exists(dir)) {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        return Files.createDirectories(dir);
    }

    private static double secs(long from, long to) {
        return (to - from) / 1e9;
    }
}
