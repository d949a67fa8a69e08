package org.ctcf.spark;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.spark.ExceptionFailure;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.ctcf.cli.CohortJobs;
import org.ctcf.cli.ExitCode;
import org.ctcf.core.Shard;
import org.ctcf.eval.EvalManifest;
import org.ctcf.eval.Evaluation;
import org.ctcf.eval.ScanRows;
import org.ctcf.io.AtomicFiles;
import org.ctcf.report.Batch;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * The driver's side of the Spark application: the scans not done yet become one task each (a partition of one), the
 * tasks evaluate or explain on the executors with {@link ExecutorModels}' models and commit their outputs to the
 * shared output folder themselves, and the driver, when all are done, writes what the local command writes (from the
 * committed outputs, so a retried, speculative or re-submitted task cannot add a row twice). Progress (scans done /
 * total, ETA) goes to stderr; {@code OUT/spark.json} records the application, the executors and their model loads.
 */
final class SparkCohort {
    static final String JOB_GROUP = "ctcf-scans";
    static final String PARQUET = "results.parquet";
    static final String RECORD = "spark.json";
    static final String BENCH_DIR = "ctcf-spark-bench";

    private SparkCohort() {
    }

    /** One scan for a task: the manifest's row, as text (paths are not serializable). */
    record ScanTask(int index, String id, String volume, String series, boolean positive, double[] position, int line)
            implements Serializable {
        private static final long serialVersionUID = 1L;

        EvalManifest.Case toCase() {
            return new EvalManifest.Case(line, Path.of(volume), positive, position, id);
        }

        Batch.Scan toScan() {
            return new Batch.Scan(id, Path.of(volume), series);
        }
    }

    /**
     * What a task did, for the driver's counts, failures and record of loads: {@code index} is the scan's (-1: the
     * configuration check, whose {@code message} is the configuration as JSON).
     */
    record TaskResult(int index, String outcome, String errorClass, String message, String host, String executor,
            String jvm, boolean loaded, String device) implements Serializable {
        private static final long serialVersionUID = 1L;
    }

    static int run(String command, Object plan, String master, Map<String, String> conf, int tasks, boolean json,
            PrintStream out, PrintStream err) throws IOException {
        if (command.equals("bench")) {
            @SuppressWarnings("unchecked")
            List<String> args = (List<String>) plan;
            return bench(args, master, conf, out, err);
        }
        SparkSession.Builder b = SparkSession.builder().appName("ctcf " + command);
        if (master != null) {
            b.master(master);
        }
        conf.forEach(b::config);
        String self = ownJar();
        if (self != null && !conf.containsKey("spark.jars") && System.getProperty("spark.jars") == null) {
            b.config("spark.jars", self);  // started without spark-submit: the executors fetch this jar
        }
        String opts = conf.getOrDefault("spark.executor.extraJavaOptions",
                System.getProperty("spark.executor.extraJavaOptions", ""));
        if (!opts.contains("--enable-native-access")) {  // the kernel's FFM calls
            b.config("spark.executor.extraJavaOptions", (opts + " --enable-native-access=ALL-UNNAMED").strip());
        }
        SparkSession spark = b.getOrCreate();
        try {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            return switch (command) {
                case "evaluate" -> evaluate(spark, jsc, (CohortJobs.EvaluatePlan) plan, out, err);
                case "explain" -> explain(jsc, (CohortJobs.ExplainPlan) plan, out, err);
                default -> Doctor.run(jsc, tasks > 0 ? tasks : jsc.defaultParallelism(), json, out, err);
            };
        } finally {
            spark.stop();
        }
    }

    private static int evaluate(SparkSession spark, JavaSparkContext jsc, CohortJobs.EvaluatePlan plan,
            PrintStream out, PrintStream err) throws IOException {
        ScanRows rows = plan.rows();
        Map<String, Evaluation.Row> done = rows.readAll();  // refuses rows of other options
        removeTemporaries(rows.dir());
        List<TaskResult> probe = new ArrayList<>();
        if (rows.configuration() != null) {  // resuming: the same models and options, or a clear refusal up front
            probe.add(checkConfiguration(jsc, plan, rows));
        }
        List<ScanTask> todo = new ArrayList<>();
        List<EvalManifest.Case> cases = plan.manifest().cases();
        for (int i = 0; i < cases.size(); i++) {
            EvalManifest.Case c = cases.get(i);
            Evaluation.Row r = done.get(c.name());
            if (r == null || !r.ok()) {  // failed rows are retried, as a local rerun does
                todo.add(new ScanTask(i, c.name(), c.volume().toString(), null, c.positive(), c.position(), c.line()));
            }
        }
        err.printf(Locale.ROOT, "ctcf spark evaluate: %d volumes, %d done already, %d to evaluate on %s -> %s%n",
                cases.size(), cases.size() - todo.size(), todo.size(), jsc.master(), plan.out());
        List<TaskResult> results = runTasks(jsc, todo, new EvaluateTask(plan.spec(), rows.dir().toString(),
                plan.chunkSizes(), plan.baselines(), Evaluation.hasPositions(plan.manifest())), err);
        removeTemporaries(rows.dir());
        Map<String, Object> summary = rows.assemble(plan.manifest(), plan.out());
        try {
            writeParquet(spark, plan.out().resolve(Evaluation.RESULTS), plan.out().resolve(PARQUET));
        } catch (Exception e) {  // Spark's exceptions come undeclared
            throw new IOException("cannot write " + plan.out().resolve(PARQUET) + ": " + rootMessage(e), e);
        }
        probe.addAll(results);
        record(jsc, plan.out(), probe);
        out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(summary));
        out.flush();
        if (summary.get("failed") instanceof List<?> failed && !failed.isEmpty()) {
            err.println("ctcf spark evaluate: " + failed.size() + " of " + summary.get("volumes") + " volumes failed "
                    + "(summary.json's \"failed\")");
            return ExitCode.SCANS_FAILED.code();
        }
        return ExitCode.OK.code();
    }

    private static int explain(JavaSparkContext jsc, CohortJobs.ExplainPlan plan, PrintStream out, PrintStream err)
            throws IOException {
        Batch.checkOutOutsideInputs(plan.out(), plan.scans(), List.of());
        Files.createDirectories(plan.out());
        for (Path p : Batch.removeStale(plan.out(), plan.scans(), Shard.ALL)) {
            err.println("ctcf spark explain: removed " + p + " (left by an interrupted run)");
        }
        List<ScanTask> todo = new ArrayList<>();
        List<Batch.Scan> scans = plan.scans();
        for (int i = 0; i < scans.size(); i++) {
            Batch.Scan s = scans.get(i);
            if (!Batch.complete(plan.out(), s)) {
                todo.add(new ScanTask(i, s.id(), s.volume().toAbsolutePath().toString(), s.series(), false, null, 0));
            }
        }
        err.printf(Locale.ROOT, "ctcf spark explain: %d scans, %d done already, %d to explain on %s -> %s%n",
                scans.size(), scans.size() - todo.size(), todo.size(), jsc.master(), plan.out());
        List<TaskResult> results = runTasks(jsc, todo, new ExplainTask(plan.spec(), plan.out().toString()), err);
        for (Path p : Batch.removeStale(plan.out(), plan.scans(), Shard.ALL)) {  // left by killed task attempts
            err.println("ctcf spark explain: removed " + p + " (left by a lost task)");
        }
        List<Batch.Failure> failures = new ArrayList<>();
        int explained = 0;
        for (TaskResult r : results) {
            if (r.outcome().equals("failed")) {
                Batch.Scan s = scans.get(r.index());
                failures.add(new Batch.Failure(s, r.errorClass(), r.message()));
            } else {
                explained++;
            }
        }
        Path failuresFile = plan.out().resolve(Batch.FAILURES);
        Batch.deleteOwnFailures(failuresFile);
        if (!failures.isEmpty()) {
            Batch.writeFailures(failuresFile, failures);
        }
        record(jsc, plan.out(), results);
        Batch.BatchResult br = new Batch.BatchResult(explained, scans.size() - todo.size(), failures);
        out.println(br.summaryLine(failuresFile));
        out.flush();
        if (!failures.isEmpty()) {
            err.println("ctcf spark explain: " + br.summaryLine(failuresFile));
        }
        return failures.isEmpty() ? ExitCode.OK.code() : ExitCode.SCANS_FAILED.code();
    }

    /**
     * Loads the models on one executor (which keeps them for its scans) and compares their configuration with the one
     * recorded beside the rows: a re-submission with other models or options is refused before any scan runs.
     */
    private static TaskResult checkConfiguration(JavaSparkContext jsc, CohortJobs.EvaluatePlan plan, ScanRows rows)
            throws IOException {
        CohortJobs.Spec spec = plan.spec();
        TaskResult r;
        try {
            r = jsc.parallelize(List.of(0), 1).map(i -> {
                TaskContext ctx = TaskContext.get();
                ExecutorModels.Placement p = ExecutorModels.placement(ctx);
                ExecutorModels.Handle h = ExecutorModels.get(spec, p);
                String json = new ObjectMapper().writeValueAsString(h.models().configuration());
                return new TaskResult(-1, "configuration", null, json, ExecutorModels.host(),
                        ExecutorModels.executorId(), ExecutorModels.JVM_ID, h.loaded(),
                        p.device() != null ? p.device() : "(command line)");
            }).collect().get(0);
        } catch (Exception e) {  // Spark's exceptions come undeclared
            throw setupOrJobFailure(e, null);
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> mine = new ObjectMapper().readValue(r.message(), LinkedHashMap.class);
        rows.checkConfiguration(mine);
        return r;
    }

    /**
     * {@code bench}: the same evaluation with one executor of one core, then two, each from a fresh output folder,
     * timed from the application's start to its end (executor start and model loads included); prints the scans per
     * minute of each and the ratio.
     */
    private static int bench(List<String> args, String master, Map<String, String> conf, PrintStream out,
            PrintStream err) throws IOException {
        double[] perMinute = new double[2];
        int scans = 0;
        for (int n = 1; n <= 2; n++) {
            Path dir = Path.of(BENCH_DIR, n == 1 ? "1-executor" : "2-executors").toAbsolutePath();
            if (org.ctcf.io.OutputFolders.exists(dir) && !org.ctcf.io.OutputFolders.isEmptyFolder(dir)
                    && !Files.isRegularFile(dir.resolve(Evaluation.RESULTS))) {
                throw new IOException(dir + " holds files that are not an earlier bench's evaluation; ctcf removes "
                        + "only its own: move it away");
            }
            AtomicFiles.deleteTree(dir);  // an earlier bench's evaluation
            List<String> a = new ArrayList<>(args);
            a.addAll(List.of("-o", dir.toString()));
            CohortJobs.EvaluatePlan plan = CohortJobs.evaluate(a);
            scans = plan.manifest().cases().size();
            Map<String, String> c = new LinkedHashMap<>(conf);
            c.put("spark.cores.max", String.valueOf(n));
            c.putIfAbsent("spark.executor.cores", "1");
            c.putIfAbsent("spark.task.cpus", "1");
            long t0 = System.nanoTime();
            int code = run("evaluate", plan, master, c, 0, false, new PrintStream(OutputStream.nullOutputStream()),
                    err);
            double s = (System.nanoTime() - t0) / 1e9;
            if (code != 0) {
                return code;
            }
            perMinute[n - 1] = scans / (s / 60);
            err.printf(Locale.ROOT, "ctcf spark bench: %d executor%s: %d scans in %.1f s%n", n, n == 1 ? "" : "s",
                    scans, s);
        }
        out.printf(Locale.ROOT, "bench spark: %d scans on %s; 1 executor: %.2f scans/min; 2 executors: %.2f "
                + "scans/min; ratio %.2f%n", scans, master, perMinute[0], perMinute[1], perMinute[1] / perMinute[0]);
        out.flush();
        return ExitCode.OK.code();
    }

    /** Runs one task per scan and returns their results, in scan order (one per task: the attempt Spark kept). */
    private static List<TaskResult> runTasks(JavaSparkContext jsc, List<ScanTask> todo,
            Function<ScanTask, TaskResult> task, PrintStream err) throws IOException {
        if (todo.isEmpty()) {
            return List.of();
        }
        Progress progress = new Progress(todo.size(), err);
        jsc.sc().addSparkListener(progress);
        jsc.setJobGroup(JOB_GROUP, "ctcf: " + todo.size() + " scans", true);
        try {
            return jsc.parallelize(todo, todo.size()).map(task).collect();
        } catch (Exception e) {  // SparkException is checked in Scala's sense only: it comes undeclared
            throw setupOrJobFailure(e, progress.setupFailure);
        } finally {
            jsc.clearJobGroup();
            jsc.sc().removeSparkListener(progress);
        }
    }

    /**
     * A failed job as the driver reports it: a worker that cannot run ctcf ({@code setup}, as the listener saw it,
     * or found in the failure's messages: the listener may not have seen it yet) is a {@link SetupException}.
     */
    private static IOException setupOrJobFailure(Exception e, String setup) {
        for (Throwable t = e; setup == null && t != null; t = t.getCause() == t ? null : t.getCause()) {
            String m = t.getMessage();
            int at = m == null ? -1 : m.indexOf(ExecutorModels.SETUP_PREFIX);
            if (at >= 0) {
                setup = m.substring(at).lines().findFirst().orElse(m);
            }
        }
        if (setup != null) {
            return new SetupException(setup + " (the job was stopped; fix the workers and re-submit: finished scans "
                    + "are kept)", e);
        }
        return new IOException("the Spark job failed: " + rootMessage(e) + " (finished scans are kept; re-submit "
                + "to go on)", e);
    }

    /** A worker that cannot run ctcf stopped the job (exit code 5, as a missing native library locally). */
    static final class SetupException extends IOException {
        private static final long serialVersionUID = 1L;

        SetupException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The evaluate task: one volume's row, committed to OUT/rows/. */
    static final class EvaluateTask implements Function<ScanTask, TaskResult> {
        private static final long serialVersionUID = 1L;
        private final CohortJobs.Spec spec;
        private final String rowsDir;
        private final List<Integer> chunkSizes;
        private final List<org.ctcf.api.Saliency.Method> baselines;
        private final boolean positions;

        EvaluateTask(CohortJobs.Spec spec, String rowsDir, List<Integer> chunkSizes,
                List<org.ctcf.api.Saliency.Method> baselines, boolean positions) {
            this.spec = spec;
            this.rowsDir = rowsDir;
            this.chunkSizes = new ArrayList<>(chunkSizes);
            this.baselines = new ArrayList<>(baselines);
            this.positions = positions;
        }

        @Override
        public TaskResult call(ScanTask t) throws IOException {
            TaskContext ctx = TaskContext.get();
            ExecutorModels.Placement p = ExecutorModels.placement(ctx);
            ScanRows rows = ScanRows.in(Path.of(rowsDir), chunkSizes, baselines, positions);
            Evaluation.Row prev = rows.read(t.id());
            if (prev != null && prev.ok()) {  // another attempt of this task finished first
                return result(t, "skipped", null, null, p, false);
            }
            ExecutorModels.Handle h = ExecutorModels.get(spec, p);
            rows.checkConfiguration(h.models().configuration());
            Evaluation.Row r = h.models().evaluate(t.toCase());
            rows.commit(r);
            return result(t, r.ok() ? "ok" : "failed", null, null, p, h.loaded());
        }
    }

    /** The explain task: one scan's folder, committed to OUT/<id>/. */
    static final class ExplainTask implements Function<ScanTask, TaskResult> {
        private static final long serialVersionUID = 1L;
        private final CohortJobs.Spec spec;
        private final String out;

        ExplainTask(CohortJobs.Spec spec, String out) {
            this.spec = spec;
            this.out = out;
        }

        @Override
        public TaskResult call(ScanTask t) {
            TaskContext ctx = TaskContext.get();
            ExecutorModels.Placement p = ExecutorModels.placement(ctx);
            Batch.Scan scan = t.toScan();
            Path dir = Path.of(out);
            if (Batch.complete(dir, scan)) {
                return result(t, "skipped", null, null, p, false);
            }
            ExecutorModels.Handle h = ExecutorModels.get(spec, p);
            try {
                Batch.ScanResult r = h.models().explain(scan, dir, progress -> !ctx.isInterrupted());
                return result(t, r.outcome() == Batch.Outcome.EXPLAINED ? "ok" : "skipped", null, null, p,
                        h.loaded());
            } catch (IOException | IllegalArgumentException | org.ctcf.core.CtcfException e) {
                if (e instanceof org.ctcf.core.CtcfException.CancelledException && ctx.isInterrupted()) {
                    throw (RuntimeException) e;  // killed by Spark (a speculative twin won): not a scan's failure
                }
                Batch.Failure f = Batch.Failure.of(scan, e);
                return result(t, "failed", f.errorClass(), f.message(), p, h.loaded());
            }
        }
    }

    private static TaskResult result(ScanTask t, String outcome, String errorClass, String message,
            ExecutorModels.Placement p, boolean loaded) {
        return new TaskResult(t.index(), outcome, errorClass, message, ExecutorModels.host(),
                ExecutorModels.executorId(), ExecutorModels.JVM_ID, loaded,
                p.device() != null ? p.device() : "(command line)");
    }

    /** Driver-side progress: scans done / total with an ETA, lost tasks, and a worker that cannot run ctcf. */
    static final class Progress extends SparkListener {
        private final int total;
        private final PrintStream err;
        private final long t0 = System.nanoTime();
        private final Set<Integer> stages = ConcurrentHashMap.newKeySet();
        private final AtomicInteger done = new AtomicInteger();
        private final AtomicInteger retried = new AtomicInteger();
        volatile String setupFailure;

        Progress(int total, PrintStream err) {
            this.total = total;
            this.err = err;
        }

        @Override
        public void onStageSubmitted(SparkListenerStageSubmitted e) {
            if (e.properties() != null && JOB_GROUP.equals(e.properties().getProperty("spark.jobGroup.id"))) {
                stages.add(e.stageInfo().stageId());
            }
        }

        @Override
        public void onTaskEnd(SparkListenerTaskEnd e) {
            if (!stages.contains(e.stageId())) {
                return;
            }
            if (e.taskInfo().successful()) {
                int n = Math.min(total, done.incrementAndGet());
                double elapsed = (System.nanoTime() - t0) / 1e9;
                double eta = elapsed / n * (total - n);
                err.printf(Locale.ROOT, "ctcf spark: %d/%d scans done (%s elapsed, ETA %s)%s%n", n, total,
                        clock(elapsed), n == total ? "0:00" : clock(eta),
                        retried.get() > 0 ? ", " + retried.get() + " task attempts lost and retried" : "");
                return;
            }
            if (e.reason() instanceof org.apache.spark.TaskKilled || setupFailure != null) {
                return;  // a speculative twin that lost, or the job being stopped
            }
            retried.incrementAndGet();
            String why = String.valueOf(e.reason());
            if (e.reason() instanceof ExceptionFailure f) {
                why = f.className() + ": " + f.description();
                if (f.description() != null && f.description().startsWith(ExecutorModels.SETUP_PREFIX)) {
                    setupFailure = f.description();
                    err.println("ctcf spark: " + f.description() + ": stopping the job");
                    new Thread(() -> JavaSparkContext.fromSparkContext(org.apache.spark.SparkContext.getOrCreate())
                            .cancelJobGroup(JOB_GROUP), "ctcf-cancel").start();
                    return;
                }
            }
            err.printf(Locale.ROOT, "ctcf spark: a task on %s failed (%s); Spark retries it%n", e.taskInfo().host(),
                    why.lines().findFirst().orElse(why));
        }

        private static String clock(double s) {
            long t = Math.round(s);
            return t >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60)
                    : String.format(Locale.ROOT, "%d:%02d", t / 60, t % 60);
        }
    }

    /**
     * {@code OUT/spark.json}: the application, and per executor JVM its host, its scans (the results Spark kept: the
     * last attempt of each task), how many of them loaded the models, and the devices. Attempts lost with their
     * executor are not in it.
     */
    private static void record(JavaSparkContext jsc, Path out, List<TaskResult> results) throws IOException {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("application", jsc.sc().applicationId());
        r.put("master", jsc.master());
        r.put("tasks", results.stream().filter(t -> t.index() >= 0).count());
        Map<String, Map<String, Object>> jvms = new TreeMap<>();
        for (TaskResult t : results) {
            Map<String, Object> j = jvms.computeIfAbsent(t.jvm(), k -> new LinkedHashMap<>());
            j.put("executor", t.executor());
            j.put("host", t.host());
            j.merge("scans", t.index() >= 0 ? 1 : 0, (a, b) -> (Integer) a + (Integer) b);
            j.merge("loads", t.loaded() ? 1 : 0, (a, b) -> (Integer) a + (Integer) b);
            @SuppressWarnings("unchecked")
            List<String> devices = (List<String>) j.computeIfAbsent("devices", k -> new ArrayList<String>());
            if (!devices.contains(t.device())) {
                devices.add(t.device());
            }
        }
        r.put("executors", new ArrayList<>(jvms.values()));
        AtomicFiles.write(out.resolve(RECORD), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                .writeValueAsBytes(r));
    }

    /** {@code results.csv} as Parquet (one file, the same columns; replaced on every run). */
    private static void writeParquet(SparkSession spark, Path csv, Path parquet) throws IOException {
        List<org.ctcf.io.Csv.Record> records = org.ctcf.io.Csv.parse(csv, Files.readString(csv,
                StandardCharsets.UTF_8), false);
        String[] header = records.get(0).fields().toArray(String[]::new);
        DataType[] types = new DataType[header.length];
        List<StructField> fields = new ArrayList<>();
        for (int i = 0; i < header.length; i++) {
            String h = header[i];
            types[i] = switch (h) {
                case "volume", "status", "stop_reason" -> DataTypes.StringType;
                case "label", "best_start", "best_end" -> DataTypes.IntegerType;
                default -> h.endsWith("_hit") ? DataTypes.BooleanType : DataTypes.DoubleType;
            };
            fields.add(DataTypes.createStructField(h, types[i], true));
        }
        List<org.apache.spark.sql.Row> rows = new ArrayList<>();
        for (org.ctcf.io.Csv.Record rec : records.subList(1, records.size())) {
            String[] f = rec.fields().toArray(String[]::new);
            Object[] v = new Object[f.length];
            for (int i = 0; i < f.length; i++) {
                v[i] = f[i].isEmpty() ? null : types[i] == DataTypes.StringType ? f[i]
                        : types[i] == DataTypes.IntegerType ? Integer.valueOf(f[i])
                        : types[i] == DataTypes.BooleanType ? Boolean.valueOf(f[i].equals("1"))
                        : Double.valueOf(f[i]);
            }
            rows.add(RowFactory.create(v));
        }
        Dataset<org.apache.spark.sql.Row> df = spark.createDataFrame(rows, new StructType(fields.toArray(
                StructField[]::new)));
        df.coalesce(1).write().mode(SaveMode.Overwrite).parquet(parquet.toString());
    }

    /** Removes the temporary files of row commits that a killed task left ({@code .NAME...partial}). */
    private static void removeTemporaries(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        List<Path> tmp = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, ".*.partial")) {
            ds.forEach(tmp::add);
        }
        for (Path p : tmp) {
            Files.deleteIfExists(p);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String m = t.getMessage() != null ? t.getMessage() : e.getMessage();
        return m == null ? e.toString() : m.lines().findFirst().orElse(m);
    }

    /** This class's jar, or null when it runs from a classes folder. */
    private static String ownJar() {
        try {
            var src = SparkCohort.class.getProtectionDomain().getCodeSource();
            if (src == null) {
                return null;
            }
            Path p = Path.of(src.getLocation().toURI());
            return Files.isRegularFile(p) && p.toString().endsWith(".jar") ? p.toString() : null;
        } catch (Exception e) {
            return null;
        }
    }
}
