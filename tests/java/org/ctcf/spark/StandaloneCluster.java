package org.ctcf.spark;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.spark.launcher.JavaModuleOptions;

/**
 * A real Spark standalone cluster for integration tests, started from the Maven jars of the test build (no Spark
 * distribution needed): one Master JVM and N Worker JVMs on 127.0.0.1; applications go through
 * {@code org.apache.spark.deploy.SparkSubmit} in a JVM of their own.
 *
 * <p>What Spark 4.2 needs to run this way on Java 25:
 * <ul>
 * <li>every JVM (master, workers, SparkSubmit, executors) gets the flags of
 * {@link JavaModuleOptions#defaultModuleOptions()}; executors get them through
 * {@code spark.executor.extraJavaOptions}, which the caller passes to {@link #submit} ({@link #moduleOptions()});
 * <li>a worker builds its executors' command line from {@code SPARK_HOME/jars/*}, so the SPARK_HOME this lays out is a
 * folder whose {@code jars/} holds symlinks to {@link #sparkJars()}, and the worker's environment has
 * {@code SPARK_SCALA_VERSION=2.13} (without it, the launcher looks for a source build's directories and fails with
 * "Cannot find any build directories").
 * </ul>
 * Every JVM it starts carries {@code -Dctcf.test.cluster=<work>} and executors' class paths point into
 * {@code <work>/spark-home}, so {@link #leftovers(Path)} finds any process a cluster under {@code work} left behind.
 */
public final class StandaloneCluster implements AutoCloseable {
    private static final String HOST = "127.0.0.1";
    private static final String SCALA_VERSION = "2.13";
    private static final Duration REGISTRATION_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);
    private static final String EXECUTOR_CLASS = "org.apache.spark.executor.CoarseGrainedExecutorBackend";

    private final Path work;
    private final Path sparkHome;
    private final List<Path> jars;
    private final List<String> moduleOptions;
    private volatile String masterUrl;
    private final Process master;
    private final List<Process> workers = new ArrayList<>();
    private final List<Process> submitted = new ArrayList<>();
    /** Every executor JVM seen under a worker (killing a worker orphans its executors, which then are no descendants). */
    private final Set<ProcessHandle> executorsSeen = new LinkedHashSet<>();

    private StandaloneCluster(Path work, Path sparkHome, List<Path> jars, List<String> moduleOptions, String masterUrl,
            Process master) {
        this.work = work;
        this.sparkHome = sparkHome;
        this.jars = jars;
        this.moduleOptions = moduleOptions;
        this.masterUrl = masterUrl;
        this.master = master;
    }

    /** The Spark jars of the test build: the paths listed in target/spark-classpath.txt. */
    public static List<Path> sparkJars() throws IOException {
        String r = System.getProperty("ctcf.test.root");
        Path root = r != null ? Path.of(r) : Path.of("").toAbsolutePath();
        Path list = root.resolve("target/spark-classpath.txt");
        if (!Files.isRegularFile(list)) {
            throw new IOException(list + " missing: run mvn generate-test-resources (maven-dependency-plugin writes it)");
        }
        List<Path> jars = new ArrayList<>();
        for (String s : Files.readString(list, StandardCharsets.UTF_8).trim().split(File.pathSeparator)) {
            if (!s.isBlank()) {
                jars.add(Path.of(s.trim()));
            }
        }
        if (jars.isEmpty()) {
            throw new IOException(list + " lists no jars");
        }
        return List.copyOf(jars);
    }

    /** {@link #start(Path, int, int, List, Map)} with one core per worker. */
    public static StandaloneCluster start(Path work, int workers, List<String> workerJavaOptions,
            Map<String, String> workerEnv) throws IOException, InterruptedException {
        return start(work, workers, 1, workerJavaOptions, workerEnv);
    }

    /**
     * Starts a master and {@code workers} workers on 127.0.0.1 (free ports, web UIs on random ports), each worker
     * {@code --cores cores --memory 1g}, with work dirs and logs under {@code work}; {@code workerJavaOptions} are
     * extra options for every worker JVM, {@code workerEnv} extra environment for the workers (their executors
     * inherit it). Waits until every worker registered with the master; on failure, throws with the logs' tails.
     * (A worker's cores come only from {@code --cores}: the command line wins over SPARK_WORKER_CORES.)
     */
    public static StandaloneCluster start(Path work, int workers, int cores, List<String> workerJavaOptions,
            Map<String, String> workerEnv) throws IOException, InterruptedException {
        work = work.toAbsolutePath();
        Files.createDirectories(work.resolve("logs"));
        List<Path> jars = sparkJars();
        Path home = layOutSparkHome(work.resolve("spark-home"), jars);
        List<String> modules = Arrays.stream(JavaModuleOptions.defaultModuleOptions().trim().split("\\s+"))
                .filter(s -> !s.isEmpty()).toList();
        // a free port, but the master's URL is read from its log: Spark moves to port+1.. when a port is taken
        int port = freePort();
        String url = "spark://" + HOST + ":" + port;

        List<String> masterCmd = daemon(work, modules, jars, List.of(), "org.apache.spark.deploy.master.Master");
        masterCmd.addAll(List.of("--host", HOST, "--port", Integer.toString(port), "--webui-port", "0"));
        Process m = launch(masterCmd, work, env(home, work, Map.of()), logPath(work, "master"));
        StandaloneCluster c = new StandaloneCluster(work, home, jars, modules, url, m);
        try {
            c.await("master", List.of(m), List.of(logPath(work, "master")), "I have been elected leader");
            Matcher at = Pattern.compile("Starting Spark master at (spark://\\S+)")
                    .matcher(Files.readString(logPath(work, "master"), StandardCharsets.ISO_8859_1));
            if (at.find()) {
                url = at.group(1);
                c.masterUrl = url;
            }
            for (int i = 0; i < workers; i++) {
                Path dir = Files.createDirectories(work.resolve("worker-" + i));
                List<String> cmd = daemon(work, modules, jars, workerJavaOptions,
                        "org.apache.spark.deploy.worker.Worker");
                cmd.addAll(List.of("--host", HOST, "--port", "0", "--webui-port", "0", "--cores",
                        Integer.toString(cores), "--memory", "1g", "--work-dir", dir.toString(), url));
                Map<String, String> e = new HashMap<>(workerEnv);
                e.putIfAbsent("SPARK_LOCAL_DIRS", Files.createDirectories(dir.resolve("local")).toString());
                c.workers.add(launch(cmd, dir, env(home, work, e), logPath(work, "worker-" + i)));
            }
            List<Path> logs = new ArrayList<>();
            for (int i = 0; i < workers; i++) {
                logs.add(logPath(work, "worker-" + i));
            }
            List<Process> all = new ArrayList<>(c.workers);
            all.add(m);
            c.await("workers", all, logs, "Successfully registered with master");
            return c;
        } catch (IOException | InterruptedException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    public String masterUrl() {
        return masterUrl;
    }

    /** The SPARK_HOME laid out for the workers: {@code jars/} holds symlinks to {@link #sparkJars()}. */
    public Path sparkHome() {
        return sparkHome;
    }

    /** {@link JavaModuleOptions#defaultModuleOptions()} split on spaces. */
    public List<String> moduleOptions() {
        return moduleOptions;
    }

    /**
     * Runs {@code java <moduleOptions> -cp <sparkJars> org.apache.spark.deploy.SparkSubmit <args>} (cwd = work),
     * stdout and stderr to {@code log}. The JVM has -Xmx1g (a client-mode driver runs in it), the workers' SPARK_HOME
     * and SPARK_LOCAL_DIRS={@code work/driver-local} (so the driver's scratch files stay under work, not /tmp).
     */
    public Process submit(List<String> args, Path log) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBin());
        cmd.addAll(moduleOptions);
        cmd.add("-Xmx1g");
        cmd.add("-Dctcf.test.cluster=" + work);
        cmd.add("-cp");
        cmd.add(classPath(jars));
        cmd.add("org.apache.spark.deploy.SparkSubmit");
        cmd.addAll(args);
        Files.createDirectories(log.toAbsolutePath().getParent());
        Path local = Files.createDirectories(work.resolve("driver-local"));
        Process p = launch(cmd, work, env(sparkHome, work, Map.of("SPARK_LOCAL_DIRS", local.toString())), log);
        synchronized (this) {
            submitted.add(p);
        }
        return p;
    }

    /** The executor JVMs (CoarseGrainedExecutorBackend) now running under worker i (descendants of its process). */
    public List<ProcessHandle> executors(int worker) {
        List<ProcessHandle> found = workers.get(worker).descendants()
                .filter(h -> commandLine(h).contains(EXECUTOR_CLASS)).toList();
        synchronized (this) {
            executorsSeen.addAll(found);
        }
        return found;
    }

    /** SIGKILLs worker i's JVM and its executor JVMs, waiting (bounded) until they are gone. */
    public void kill(int worker) throws InterruptedException {
        Process w = workers.get(worker);
        List<ProcessHandle> victims = new ArrayList<>(w.descendants().toList());
        synchronized (this) {
            executorsSeen.addAll(victims);
        }
        victims.addFirst(w.toHandle());
        victims.forEach(ProcessHandle::destroyForcibly);
        waitGone(victims);
        List<ProcessHandle> alive = victims.stream().filter(ProcessHandle::isAlive).toList();
        if (!alive.isEmpty()) {
            throw new IllegalStateException("worker " + worker + ": still alive after SIGKILL: " + alive);
        }
    }

    /** Destroys every process it started (submitted JVMs, workers, executors, master) and waits for them, bounded. */
    @Override
    public void close() {
        List<ProcessHandle> all = new ArrayList<>();
        synchronized (this) {
            for (Process p : submitted) {
                all.addAll(p.descendants().toList());
                all.add(p.toHandle());
            }
            for (Process p : workers) {
                all.addAll(p.descendants().toList());
                all.add(p.toHandle());
            }
            all.addAll(executorsSeen);
        }
        all.addAll(master.descendants().toList());
        all.add(master.toHandle());
        // SIGTERM first (Spark's shutdown hooks clean up their temp dirs), then SIGKILL what is still there.
        all.forEach(ProcessHandle::destroy);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        for (ProcessHandle h : all) {
            long left = deadline - System.nanoTime();
            if (left > 0) {
                try {
                    h.onExit().get(left, TimeUnit.NANOSECONDS);
                } catch (Exception e) {
                    // killed below
                }
            }
        }
        all.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
        try {
            waitGone(all);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The processes still alive that a cluster under {@code work} started (by their command lines). */
    public static List<ProcessHandle> leftovers(Path work) {
        String w = work.toAbsolutePath().toString();
        long self = ProcessHandle.current().pid();
        return ProcessHandle.allProcesses().filter(h -> h.pid() != self).filter(ProcessHandle::isAlive)
                .filter(h -> commandLine(h).contains(w)).toList();
    }

    /** The last {@code lines} lines of a log, for assertion messages. */
    static String tail(Path log, int lines) {
        try {
            if (!Files.exists(log)) {
                return "(" + log + ": no such file)";
            }
            List<String> all = Files.readAllLines(log, StandardCharsets.ISO_8859_1);
            return "---- " + log + " (last " + Math.min(lines, all.size()) + " of " + all.size() + " lines)\n"
                    + String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(" + log + ": " + e + ")";
        }
    }

    /** The tails of the master's and workers' logs and of the executors' stderr ({@code worker-i/app-.../N/stderr}). */
    public String logTails(int lines) {
        StringBuilder b = new StringBuilder(tail(logPath(work, "master"), lines));
        for (int i = 0; i < workers.size(); i++) {
            b.append('\n').append(tail(logPath(work, "worker-" + i), lines));
            for (Path e : executorLogs(i)) {
                b.append('\n').append(tail(e, lines));
            }
        }
        return b.toString();
    }

    /** The stderr files of the executors worker i ran (its work dir's {@code app-<id>/<executor>/stderr}). */
    public List<Path> executorLogs(int worker) {
        Path dir = work.resolve("worker-" + worker);
        try (var s = Files.find(dir, 3, (p, a) -> p.getFileName().toString().equals("stderr") && a.isRegularFile())) {
            return s.sorted().toList();
        } catch (IOException | UncheckedIOException e) {
            return List.of();
        }
    }

    // ---- internals

    private void await(String what, List<Process> processes, List<Path> logs, String line)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + REGISTRATION_TIMEOUT.toNanos();
        while (true) {
            boolean all = true;
            for (Path l : logs) {
                all &= contains(l, line);
            }
            if (all) {
                return;
            }
            Optional<Process> dead = processes.stream().filter(p -> !p.isAlive()).findFirst();
            if (dead.isPresent() || System.nanoTime() > deadline) {
                String why = dead.map(p -> "a process exited (" + p.exitValue() + ") ")
                        .orElse("timed out after " + REGISTRATION_TIMEOUT.toSeconds() + " s ");
                throw new IOException("Spark standalone cluster: " + what + " not ready, " + why + "waiting for '"
                        + line + "'\n" + logTails(40));
            }
            Thread.sleep(200);
        }
    }

    private static boolean contains(Path log, String s) throws IOException {
        return Files.exists(log) && Files.readString(log, StandardCharsets.ISO_8859_1).contains(s);
    }

    private static List<String> daemon(Path work, List<String> modules, List<Path> jars, List<String> extra,
            String mainClass) {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBin());
        cmd.addAll(modules);
        cmd.add("-Xmx512m");
        cmd.add("-XX:+UseSerialGC");
        cmd.add("-XX:TieredStopAtLevel=1"); // C1 only: the daemons start faster on a small machine, and do little
        cmd.add("-Dctcf.test.cluster=" + work);
        cmd.addAll(extra);
        cmd.add("-cp");
        cmd.add(classPath(jars));
        cmd.add(mainClass);
        return cmd;
    }

    private static Map<String, String> env(Path home, Path work, Map<String, String> extra) {
        Map<String, String> e = new HashMap<>();
        e.put("SPARK_HOME", home.toString());
        e.put("SPARK_SCALA_VERSION", SCALA_VERSION);
        e.put("SPARK_LOCAL_IP", HOST);
        e.put("SPARK_LOCAL_HOSTNAME", HOST);
        e.put("SPARK_LOG_DIR", work.resolve("logs").toString());
        e.put("SPARK_PID_DIR", work.toString());
        e.put("JAVA_HOME", System.getProperty("java.home"));
        e.putAll(extra);
        return e;
    }

    private static Process launch(List<String> cmd, Path cwd, Map<String, String> env, Path log) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().keySet().removeIf(k -> k.startsWith("SPARK_") || k.startsWith("PYSPARK_"));
        pb.environment().putAll(env);
        return pb.start();
    }

    private static Path layOutSparkHome(Path home, List<Path> jars) throws IOException {
        Path dir = Files.createDirectories(home.resolve("jars"));
        for (Path jar : jars) {
            Path link = dir.resolve(jar.getFileName().toString());
            if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.createSymbolicLink(link, jar.toAbsolutePath());
            }
        }
        // A distribution's marker (not needed by the launcher, which only looks for jars/, but harmless)
        Path release = home.resolve("RELEASE");
        if (!Files.exists(release)) {
            Files.writeString(release, "Spark (from the Maven jars of the ctcf test build)\n");
        }
        return home;
    }

    private static void waitGone(List<ProcessHandle> handles) throws InterruptedException {
        long deadline = System.nanoTime() + STOP_TIMEOUT.toNanos();
        for (ProcessHandle h : handles) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            try {
                h.onExit().get(left, TimeUnit.NANOSECONDS);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                // reported by the caller through isAlive
            }
        }
    }

    private static String commandLine(ProcessHandle h) {
        // /proc/<pid>/cmdline in full (ProcessHandle.Info may leave the arguments out)
        try {
            byte[] b = Files.readAllBytes(Path.of("/proc", Long.toString(h.pid()), "cmdline"));
            return new String(b, StandardCharsets.UTF_8).replace('\0', ' ');
        } catch (IOException | UncheckedIOException | SecurityException e) {
            return h.info().commandLine().orElse("");
        }
    }

    private static String classPath(List<Path> jars) {
        return String.join(File.pathSeparator, jars.stream().map(Path::toString).toList());
    }

    private static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static Path logPath(Path work, String name) {
        return work.resolve("logs").resolve(name + ".log");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }
}
