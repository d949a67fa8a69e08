package org.ctcf.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.cli.CohortJobs;
import org.ctcf.cli.ExitCode;

/**
 * The Spark application ({@code ctcf-spark.jar}, submitted with {@code spark-submit --class
 * org.ctcf.spark.SparkMain}, which checks the Java version and hands over here, or started by {@code ctcf spark}): {@code evaluate} and {@code explain} take exactly
 * the options of the local commands and run one task per scan; {@code doctor} checks what every executor would run
 * on. Before any Spark class is touched it checks the Java version and that Spark is on the classpath, and it checks
 * that a {@code spark://} master answers, so that each of these is one clear message.
 */
public final class SparkApp {
    private SparkApp() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs a command; returns its exit code (the CLI's, {@link ExitCode}). */
    public static int run(String[] argv, PrintStream out, PrintStream err) {
        String problem = SparkMain.javaProblem(Runtime.version());
        if (problem != null) {
            err.println("ctcf spark: " + problem);
            return ExitCode.INTERNAL.code();
        }
        List<String> args = new ArrayList<>(List.of(argv));
        if (args.isEmpty() || args.get(0).equals("-h") || args.get(0).equals("--help")) {
            (args.isEmpty() ? err : out).print(usage());
            return args.isEmpty() ? ExitCode.USAGE.code() : ExitCode.OK.code();
        }
        String command = args.remove(0);
        if (!List.of("evaluate", "explain", "doctor", "bench").contains(command)) {
            err.println("ctcf spark: unknown command '" + command + "'\n" + usage());
            return ExitCode.USAGE.code();
        }
        Options o;
        try {
            o = Options.take(args, command.equals("doctor"));
        } catch (IllegalArgumentException e) {
            err.println("ctcf spark " + command + ": " + e.getMessage());
            return ExitCode.USAGE.code();
        }
        try {
            Class.forName("org.apache.spark.sql.SparkSession", false, SparkApp.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            err.println("ctcf spark: Apache Spark is not on the classpath (" + e + "). Submit ctcf-spark.jar with "
                    + "spark-submit --class org.ctcf.spark.SparkMain ..., or run 'ctcf spark' with SPARK_HOME "
                    + "set to a Spark 4.2 (Scala 2.13) installation");
            return ExitCode.INTERNAL.code();
        }
        try {
            if (command.equals("bench")
                    && args.stream().anyMatch(a -> a.equals("-o") || a.equals("--out") || a.startsWith("--out="))) {
                throw new IllegalArgumentException("bench writes into " + SparkCohort.BENCH_DIR + "/ (cleared first); "
                        + "leave out -o");
            }
            Object plan = switch (command) {
                case "evaluate" -> CohortJobs.evaluate(args);
                case "bench" -> args;
                case "explain" -> CohortJobs.explain(args);
                default -> {
                    if (!args.isEmpty()) {
                        throw new IllegalArgumentException("doctor takes --master, --conf, --tasks N and --json; not "
                                + String.join(" ", args));
                    }
                    yield null;
                }
            };
            String master = o.master != null ? o.master : System.getProperty("spark.master");
            if (master == null || master.isBlank()) {
                throw new IllegalArgumentException("no Spark master: give --master spark://HOST:7077 (or local[N]), or "
                        + "submit with spark-submit --master ...");
            }
            String unreachable = unreachable(master);
            if (unreachable != null) {
                err.println("ctcf spark: " + unreachable);
                return ExitCode.INTERNAL.code();
            }
            return SparkCohort.run(command, plan, o.master, o.conf, o.tasks, o.json, out, err);
        } catch (IllegalArgumentException e) {
            String m = String.valueOf(e.getMessage());
            err.println(m.startsWith("Usage:") ? m : "ctcf spark " + command + ": " + m);
            return m.startsWith("Usage:") ? ExitCode.OK.code() : ExitCode.USAGE.code();
        } catch (SparkCohort.SetupException e) {
            err.println("ctcf spark " + command + ": " + e.getMessage());
            return ExitCode.NATIVE_UNAVAILABLE.code();
        } catch (IOException e) {
            err.println("ctcf spark " + command + ": " + e.getMessage());
            return ExitCode.BAD_INPUT.code();
        } catch (Exception e) {  // Spark's own (a session that does not start, ...), undeclared
            err.println("ctcf spark " + command + ": " + e);
            return ExitCode.INTERNAL.code();
        }
    }

    /** For a {@code spark://host:port[,host:port]} master: why none of its masters accepts a connection, or null. */
    static String unreachable(String master) {
        if (!master.startsWith("spark://")) {
            return null;
        }
        List<String> why = new ArrayList<>();
        for (String hp : master.substring("spark://".length()).split(",")) {
            int colon = hp.lastIndexOf(':');
            String host = colon < 0 ? hp : hp.substring(0, colon);
            int port;
            try {
                port = colon < 0 ? 7077 : Integer.parseInt(hp.substring(colon + 1));
            } catch (NumberFormatException e) {
                return "the Spark master URL " + master + " has no valid port";
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(host, port), 5000);
                return null;
            } catch (IOException e) {
                why.add(host + ":" + port + " (" + e.getMessage() + ")");
            }
        }
        return "cannot reach the Spark master " + master + ": " + String.join(", ", why) + ". Is it running "
                + "(start-master.sh), and is the URL the one its log prints?";
    }

    static String usage() {
        return """
                Usage: spark-submit [SPARK OPTIONS] --class org.ctcf.spark.SparkMain ctcf-spark.jar COMMAND [OPTIONS]
                       ctcf spark COMMAND --master URL [OPTIONS]
                ctcf's cohort commands on an Apache Spark 4.2 cluster, one task per scan.
                Commands:
                  evaluate   ctcf evaluate over a manifest: OUT/results.csv, summary.json and plots as the local command,
                             the rows also in OUT/results.parquet; committed rows in OUT/rows/ (a re-submitted job
                             skips them)
                  explain    the batch ctcf explain (--manifest, --folder, VOLUME...): OUT/<id>/ per scan, failures in
                             OUT/failures.csv
                  doctor     N tasks (--tasks; default: the default parallelism) that report where they ran: host,
                             Java, the native kernel, LibTorch, the device a task gets; exit code 5 if one cannot run
                             ctcf
                  bench      throughput: the evaluate of a manifest with one executor of one core, then with two
                             (spark.cores.max 1, 2); prints scans per minute of each and their ratio (a standalone
                             cluster with two free cores; outputs in ctcf-spark-bench/)
                Options (besides those of ctcf evaluate / ctcf explain, which keep their meaning):
                  --master URL      spark://HOST:7077, local[N], ... (default: spark-submit's)
                  --conf KEY=VALUE  a Spark setting (repeatable), e.g. spark.task.cpus=4
                  --tasks N         doctor: how many tasks (default: the default parallelism)
                  --json            doctor: one JSON object per task on stdout
                Devices: with spark.executor.resource.gpu.amount / spark.task.resource.gpu.amount=1 and a discovery
                script, a task runs on cuda:<the GPU Spark assigned>; otherwise on the command line's --device, with
                spark.task.cpus LibTorch threads. Paths must be on storage every worker reads (README: Cohorts).
                """;
    }

    /** The options of the Spark application itself, taken out of the command line. */
    static final class Options {
        String master;
        final Map<String, String> conf = new LinkedHashMap<>();
        int tasks;
        boolean json;

        static Options take(List<String> args, boolean doctor) {
            Options o = new Options();
            for (int i = 0; i < args.size(); ) {
                String a = args.get(i);
                String name = a.contains("=") && a.startsWith("--") ? a.substring(0, a.indexOf('=')) : a;
                boolean inline = !name.equals(a);
                switch (name) {
                    case "--master", "--conf", "--tasks" -> {
                        if (name.equals("--tasks") && !doctor) {
                            i++;
                            continue;
                        }
                        String v;
                        if (inline) {
                            v = a.substring(name.length() + 1);
                            args.remove(i);
                        } else {
                            if (i + 1 >= args.size()) {
                                throw new IllegalArgumentException(name + " needs a value");
                            }
                            v = args.get(i + 1);
                            args.remove(i);
                            args.remove(i);
                        }
                        switch (name) {
                            case "--master" -> o.master = v;
                            case "--tasks" -> {
                                try {
                                    o.tasks = Integer.parseInt(v);
                                } catch (NumberFormatException e) {
                                    o.tasks = -1;
                                }
                                if (o.tasks < 1) {
                                    throw new IllegalArgumentException("--tasks takes a number >= 1, not " + v);
                                }
                            }
                            default -> {
                                int eq = v.indexOf('=');
                                if (eq <= 0) {
                                    throw new IllegalArgumentException("--conf takes KEY=VALUE, not " + v);
                                }
                                o.conf.put(v.substring(0, eq), v.substring(eq + 1));
                            }
                        }
                    }
                    case "--json" -> {
                        if (!doctor) {  // explain's own --json
                            i++;
                            continue;
                        }
                        o.json = true;
                        args.remove(i);
                    }
                    default -> i++;
                }
            }
            return o;
        }
    }
}
