package org.ctcf.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
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
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The {@link StandaloneCluster} harness against a real Spark standalone cluster: a job survives the SIGKILL of a
 * worker and its executor, and a worker's GPU resources reach the tasks, one address each.
 */
class StandaloneClusterIT {
    private static final int ITEMS = 8;

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void jobSurvivesAWorkerKilledMidJob() throws Exception {
        Path work = freshDir("kill");
        Path jar = probeJar(work.resolve("probe.jar"));
        Path out = Files.createDirectories(work.resolve("out"));
        List<ProcessHandle> seen = new ArrayList<>();
        long t0 = System.nanoTime();
        try (StandaloneCluster cluster = StandaloneCluster.start(work, 2, List.of(), Map.of())) {
            long t1 = System.nanoTime();
            System.err.printf("StandaloneClusterIT kill: cluster of 2 workers started in %.1f s%n", secs(t0, t1));
            List<String> args = new ArrayList<>(common(cluster));
            args.addAll(List.of("--conf", "spark.task.maxFailures=4", "--conf", "spark.executor.cores=1",
                    "--class", ClusterProbeApp.class.getName(), jar.toString(), out.toString(),
                    Integer.toString(ITEMS), "2000"));
            Path log = work.resolve("logs/submit.log");
            Process job = cluster.submit(args, log);
            long killedAt = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (job.isAlive() && System.nanoTime() < deadline) {
                if (killedAt == 0) {
                    List<ProcessHandle> ex0 = cluster.executors(0);
                    seen.addAll(ex0);
                    seen.addAll(cluster.executors(1));
                    long markers = markers(out);
                    if (markers >= 1 && markers < ITEMS && !ex0.isEmpty()) {
                        cluster.kill(0);
                        killedAt = System.nanoTime();
                        System.err.printf("StandaloneClusterIT kill: worker 0 and executor(s) %s SIGKILLed %.1f s "
                                + "into the job, %d of %d markers written%n",
                                ex0.stream().map(ProcessHandle::pid).toList(), secs(t1, killedAt), markers, ITEMS);
                        assertThat(ex0).noneMatch(ProcessHandle::isAlive);
                    }
                }
                Thread.sleep(100);
            }
            if (job.isAlive()) {
                job.destroyForcibly();
                fail("the job did not finish within 120 s\n" + StandaloneCluster.tail(log, 80) + "\n"
                        + cluster.logTails(30));
            }
            long t2 = System.nanoTime();
            System.err.printf("StandaloneClusterIT kill: job finished in %.1f s (exit %d)%n", secs(t1, t2),
                    job.exitValue());
            String why = "\n" + StandaloneCluster.tail(log, 80) + "\n" + cluster.logTails(30);
            assertThat(killedAt).as("worker 0 was killed while the job ran" + why).isPositive();
            assertThat(job.exitValue()).as("SparkSubmit's exit status" + why).isZero();
            List<String> lines = Files.readAllLines(out.resolve("result.txt"));
            assertThat(lines.stream().map(l -> Integer.parseInt(l.split(" ")[0])).toList())
                    .as("result.txt: every item exactly once: " + lines + why)
                    .containsExactlyElementsOf(IntStream.range(0, ITEMS).boxed().toList());
            assertThat(Files.readString(log)).as("the driver saw the executor go" + why)
                    .containsAnyOf("Lost executor", "lost executor", "ExecutorLost", "Executor lost");
            assertThat(StandaloneCluster.leftovers(work)).as("leftovers() sees the running master and worker 1")
                    .hasSizeGreaterThanOrEqualTo(2);
            long t3 = System.nanoTime();
            cluster.close();
            System.err.printf("StandaloneClusterIT kill: shutdown in %.1f s%n", secs(t3, System.nanoTime()));
        }
        assertThat(seen).as("executors were seen").isNotEmpty().noneMatch(ProcessHandle::isAlive);
        assertThat(StandaloneCluster.leftovers(work)).as("processes left after close()").isEmpty();
    }

    /**
     * One worker with two GPUs (from a discovery script) and --cores 2, one executor of 2 cores and 2 GPUs, tasks
     * of 1 GPU each: two tasks run at once, each with one address of its own. (With --cores 1, the executor has one
     * task slot, and the scheduler hands out the lowest free address, so every task would see "0".)
     */
    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void tasksGetOneGpuAddressEach() throws Exception {
        Path work = freshDir("gpu");
        Path jar = probeJar(work.resolve("probe.jar"));
        Path out = Files.createDirectories(work.resolve("out"));
        Path script = work.resolve("gpus.sh");
        Files.writeString(script, "#!/bin/sh\necho '{\"name\":\"gpu\",\"addresses\":[\"0\",\"1\"]}'\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        long t0 = System.nanoTime();
        try (StandaloneCluster cluster = StandaloneCluster.start(work, 1, 2,
                List.of("-Dspark.worker.resource.gpu.amount=2",
                        "-Dspark.worker.resource.gpu.discoveryScript=" + script),
                Map.of())) {
            long t1 = System.nanoTime();
            System.err.printf("StandaloneClusterIT gpu: cluster of 1 worker started in %.1f s%n", secs(t0, t1));
            List<String> args = new ArrayList<>(common(cluster));
            args.addAll(List.of("--conf", "spark.executor.cores=2",
                    "--conf", "spark.executor.resource.gpu.amount=2",
                    "--conf", "spark.task.resource.gpu.amount=1",
                    "--conf", "spark.executor.resource.gpu.discoveryScript=" + script,
                    "--class", ClusterProbeApp.class.getName(), jar.toString(), out.toString(), "4", "1500"));
            Path log = work.resolve("logs/submit.log");
            Process job = cluster.submit(args, log);
            boolean done = job.waitFor(120, TimeUnit.SECONDS);
            String why = "\n" + StandaloneCluster.tail(log, 80) + "\n" + cluster.logTails(30);
            if (!done) {
                job.destroyForcibly();
                fail("the job did not finish within 120 s" + why);
            }
            long t2 = System.nanoTime();
            System.err.printf("StandaloneClusterIT gpu: job finished in %.1f s (exit %d)%n", secs(t1, t2),
                    job.exitValue());
            assertThat(job.exitValue()).as("SparkSubmit's exit status" + why).isZero();
            List<String> lines = Files.readAllLines(out.resolve("result.txt"));
            assertThat(lines).as("result.txt" + why).hasSize(4);
            Set<String> addresses = new HashSet<>();
            for (String l : lines) {
                String gpus = l.split(" ")[3];
                assertThat(gpus.split(",")).as("a task's GPU addresses: " + l + why).hasSize(1);
                addresses.add(gpus);
            }
            assertThat(addresses).as("addresses across tasks: " + lines + why).containsExactlyInAnyOrder("0", "1");
            long t3 = System.nanoTime();
            cluster.close();
            System.err.printf("StandaloneClusterIT gpu: shutdown in %.1f s%n", secs(t3, System.nanoTime()));
        }
        assertThat(StandaloneCluster.leftovers(work)).as("processes left after close()").isEmpty();
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

    /** A jar of ClusterProbeApp's compiled class files (and its nested classes, if any), from the test classes. */
    static Path probeJar(Path jar) throws IOException, URISyntaxException {
        Path classes = Path.of(ClusterProbeApp.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String pkg = ClusterProbeApp.class.getPackageName().replace('.', '/');
        String simple = ClusterProbeApp.class.getSimpleName();
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().put(Attributes.Name.MAIN_CLASS, ClusterProbeApp.class.getName());
        List<Path> files;
        try (Stream<Path> s = Files.list(classes.resolve(pkg))) {
            files = s.filter(p -> {
                String n = p.getFileName().toString();
                return n.equals(simple + ".class") || n.startsWith(simple + "$");
            }).sorted().toList();
        }
        assertThat(files).as("class files of " + simple + " under " + classes).isNotEmpty();
        Files.createDirectories(jar.getParent());
        try (OutputStream o = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(o, manifest)) {
            for (Path f : files) {
                j.putNextEntry(new JarEntry(pkg + "/" + f.getFileName()));
                j.write(Files.readAllBytes(f));
                j.closeEntry();
            }
        }
        return jar;
    }

    private static long markers(Path out) throws IOException {
        try (Stream<Path> s = Files.list(out)) {
            return s.filter(p -> p.getFileName().toString().startsWith("done-")).count();
        }
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
