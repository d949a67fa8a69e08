package org.ctcf.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.ctcf.eval.Evaluation;
import org.ctcf.eval.EvaluationShardTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The Spark application in {@code local[2]} (the executors are threads of this JVM): its rows equal the local
 * {@code ctcf evaluate}'s on the same tiny models and manifest, value for value; the models load once per JVM;
 * a volume missing on the workers is an error row, and the rest finishes; a re-submitted job evaluates nothing again;
 * the batch explain writes one folder per scan and records failures.
 */
class SparkLocalTest {
    @TempDir
    static Path tmp;
    static Path manifest;
    static List<String> models;

    @BeforeAll
    static void cohort() throws IOException {
        manifest = TinyCohort.manifest(tmp, 4);
        models = TinyCohort.models(tmp);
    }

    /** The executors of local[N] are this JVM: their confined reads must not leak into the other test classes. */
    @AfterAll
    static void unconfine() {
        org.ctcf.io.ReadOptions.confineByDefault(false);
    }

    @Test
    void sparkRowsEqualTheLocalEvaluationsValueForValue() throws IOException {
        Path local = tmp.resolve("local");
        TinyCohort.evaluateLocally(manifest, models, local);

        Path out = tmp.resolve("spark");
        Run run = spark("evaluate", "--master", "local[2]", manifest.toString(), "-o", out.toString());
        assertThat(run.code).as(run.err).isZero();
        List<String> sparkRows = Files.readAllLines(out.resolve(Evaluation.RESULTS));
        assertThat(sparkRows).hasSize(5);
        assertThat(EvaluationShardTest.withoutSeconds(sparkRows))
                .isEqualTo(EvaluationShardTest.withoutSeconds(Files.readAllLines(local.resolve(Evaluation.RESULTS))));
        ObjectMapper json = new ObjectMapper();
        JsonNode a = EvaluationShardTest.withoutTiming(json.readTree(local.resolve(Evaluation.SUMMARY).toFile()));
        JsonNode b = EvaluationShardTest.withoutTiming(json.readTree(out.resolve(Evaluation.SUMMARY).toFile()));
        assertThat(b).isEqualTo(a);
        assertThat(out.resolve(Evaluation.CHUNK_PLOT)).isRegularFile();
        assertThat(out.resolve(Evaluation.DISTRIBUTION_PLOT)).isRegularFile();
        // the progress counts scans
        assertThat(run.err).contains("4/4 scans done");

        // one load for the JVM (local[2]: one executor, "driver"), not one per scan
        JsonNode record = json.readTree(out.resolve(SparkCohort.RECORD).toFile());
        assertThat(record.path("tasks").asInt()).isEqualTo(4);
        assertThat(record.path("executors")).hasSize(1);
        assertThat(record.path("executors").get(0).path("scans").asInt()).isEqualTo(4);
        assertThat(record.path("executors").get(0).path("loads").asInt()).isEqualTo(1);

        // the rows as Parquet: the same volumes and values
        SparkSession s = SparkSession.builder().master("local[1]").appName("read").getOrCreate();
        try {
            var df = s.read().parquet(out.resolve(SparkCohort.PARQUET).toString());
            assertThat(df.count()).isEqualTo(4);
            var first = df.filter("volume = 'v0.nii.gz'").select("p0", "min_cf", "label").collectAsList().get(0);
            String[] f = sparkRows.get(1).split(",");
            assertThat(f[0]).isEqualTo("v0.nii.gz");
            assertThat(first.getDouble(0)).isEqualTo(Double.parseDouble(f[3]));
            assertThat(first.getDouble(1)).isEqualTo(Double.parseDouble(f[4]));
            assertThat(first.getInt(2)).isEqualTo(1);
        } finally {
            s.stop();
        }

        // re-submitted: nothing is evaluated again, the same rows come out
        Run again = spark("evaluate", "--master", "local[2]", manifest.toString(), "-o", out.toString());
        assertThat(again.code).as(again.err).isZero();
        assertThat(again.err).contains("4 done already, 0 to evaluate");
        assertThat(Files.readAllLines(out.resolve(Evaluation.RESULTS))).isEqualTo(sparkRows);
        // re-submitted with other options: refused before any scan, the rows untouched
        Run other = spark("evaluate", "--master", "local[2]", manifest.toString(), "-o", out.toString(),
                "--step", "7");
        assertThat(other.code).as(other.err).isEqualTo(3);
        assertThat(other.err).contains("configuration.json records other models or options");
        assertThat(Files.readAllLines(out.resolve(Evaluation.RESULTS))).isEqualTo(sparkRows);
    }

    @Test
    void aVolumeMissingOnTheWorkersIsItsErrorRowAndTheRestFinishes() throws IOException {
        // and a header that points outside its folder: refused on the workers (confined reads)
        Files.createDirectories(tmp.resolve("elsewhere"));
        Files.write(tmp.resolve("elsewhere").resolve("up.raw"), new byte[16 * 16 * 48 * 2]);
        Files.createDirectories(tmp.resolve("sub"));
        Files.writeString(tmp.resolve("sub").resolve("up.mhd"), "ObjectType = Image\nNDims = 3\nDimSize = 16 16 48\n"
                + "ElementSpacing = 1.5 1.5 3\nElementType = MET_SHORT\nElementDataFile = ../elsewhere/up.raw\n");
        Path m = tmp.resolve("missing.csv");
        Files.writeString(m, "volume,label\nv0.nii.gz,1\nnot-there.nii.gz,0\nv3.nii.gz,0\nsub/up.mhd,0\n");
        Path out = tmp.resolve("missing-out");
        Run run = spark("evaluate", "--master", "local[2]", m.toString(), "-o", out.toString());
        // the run ends, and says that two volumes failed: exit 8, as a batch explain
        assertThat(run.code).as(run.err).isEqualTo(8);
        assertThat(run.err).contains("2 of 4 volumes failed");
        List<String> rows = Files.readAllLines(out.resolve(Evaluation.RESULTS));
        assertThat(rows).hasSize(5);
        assertThat(rows.get(2)).startsWith("not-there.nii.gz,0,error: ").contains("not-there.nii.gz");
        assertThat(rows.get(4)).startsWith("up.mhd,0,error: ").contains("outside the header's folder");
        assertThat(rows.get(1)).startsWith("v0.nii.gz,1,ok,");
        assertThat(rows.get(3)).startsWith("v3.nii.gz,0,ok,");
    }

    @Test
    void theBatchExplainWritesAFolderPerScanAndRecordsFailures() throws IOException {
        Path m = tmp.resolve("explain.csv");
        Files.writeString(m, "volume,id\nv0.nii.gz,first\nv3.nii.gz,\nbroken.nii.gz,\n");
        Files.write(tmp.resolve("broken.nii.gz"), new byte[] {1, 2, 3});
        Path out = tmp.resolve("explained");
        Run run = spark("explain", "--master", "local[2]", "--manifest", m.toString(), "--chunk", "16", "--frames",
                "2", "--no-report", "-o", out.toString());
        assertThat(run.code).as(run.err).isEqualTo(8);  // a scan failed; the others are done
        assertThat(out.resolve("first").resolve("summary.json")).isRegularFile();
        assertThat(out.resolve("v3").resolve("counterfactual.nii.gz")).isRegularFile();
        assertThat(out.resolve("broken")).doesNotExist();
        List<String> failures = Files.readAllLines(out.resolve("failures.csv"));
        assertThat(failures).hasSize(2);
        assertThat(failures.get(1)).startsWith("broken,").contains("broken.nii.gz");
        try (var files = Files.list(out)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".partial-"));
        }
        // re-submitted: the finished scans are skipped, the failed one is tried again
        Run again = spark("explain", "--master", "local[2]", "--manifest", m.toString(), "--chunk", "16",
                "--frames", "2", "--no-report", "-o", out.toString());
        assertThat(again.err).contains("3 scans, 2 done already, 1 to explain");
        assertThat(again.code).isEqualTo(8);  // tried again, failed again
        assertThat(Files.readAllLines(out.resolve("failures.csv"))).hasSize(2);
    }

    /** --dicom-out in a Spark batch is a folder inside each scan's (relative, as in the local batch). */
    @Test
    void aDicomScanWritesItsDicomIntoItsOwnFolder() {
        Path dicom = Path.of(System.getProperty("ctcf.test.root", ".")).resolve("models/sample/dicom/cip_ct64_nodule");
        Path out = tmp.resolve("dicom-out");
        Run run = spark("explain", "--master", "local[1]", dicom.toString(), "--chunk", "64", "--frames", "2",
                "--no-report", "--dicom-out", "dicom", "-o", out.toString());
        assertThat(run.code).as(run.out + run.err).isZero();
        assertThat(out.resolve("cip_ct64_nodule").resolve("summary.json")).isRegularFile();
        assertThat(out.resolve("cip_ct64_nodule").resolve("dicom")).isDirectory();
        Run outside = spark("explain", "--master", "local[1]", dicom.toString(), "--dicom-out", "/tmp/x", "-o",
                out.toString());
        assertThat(outside.code).isEqualTo(2);
        assertThat(outside.err).contains("inside each scan's output folder");
    }

    /** SparkMain is compiled for Java 17, so that an older JVM gets ctcf's message (here: any JVM older than 25). */
    @Test
    void anOlderJvmGetsCtcfsMessageNotAClassVersionError() throws Exception {
        Path older = null;
        try (var dirs = Files.list(Path.of("/usr/lib/jvm"))) {
            for (Path d : dirs.sorted().toList()) {
                String n = d.getFileName().toString();
                if (Files.isExecutable(d.resolve("bin/java")) && n.matches(".*(-17|-21)[-.].*|.*-1[7-9]-.*")) {
                    older = d.resolve("bin/java");
                    break;
                }
            }
        } catch (IOException e) {
            // no /usr/lib/jvm
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(older != null, "no Java 17 or 21 in /usr/lib/jvm");
        Path classes = Path.of(SparkMain.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Process p = new ProcessBuilder(older.toString(), "-cp", classes.toString(), SparkMain.class.getName(),
                "doctor").redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(text).isEqualTo(1);
        assertThat(text).contains("needs Java 25.0.3 or newer").contains(older.getParent().getParent().toString())
                .doesNotContain("UnsupportedClassVersionError");
    }

    /** spark.task.cpus sets the kernel's threads on a CPU. */
    @Test
    void theDoctorReportsEachTasksDeviceAndKernel() {
        Run run = spark("doctor", "--master", "local[2]", "--tasks", "2", "--json", "--conf", "spark.task.cpus=2");
        assertThat(run.code).as(run.err).isZero();
        assertThat(run.out.lines().toList()).hasSize(2).allSatisfy(l -> assertThat(l).contains("\"device\":\"cpu\"")
                .contains("\"threads\":2").contains("\"problem\":null").contains("LibTorch"));
    }

    @Test
    void badCommandLinesAndAnUnreachableMasterAreOneClearMessage() {
        Run noMaster = spark("evaluate", manifest.toString(), "-o", tmp.resolve("x").toString());
        assertThat(noMaster.code).isEqualTo(2);
        assertThat(noMaster.err).contains("no Spark master");
        Run shard = spark("evaluate", "--master", "local[1]", manifest.toString(), "--shard", "0/2");
        assertThat(shard.code).isEqualTo(2);
        assertThat(shard.err).contains("Spark splits the volumes");
        Run unknown = spark("evaluate", "--master", "local[1]", manifest.toString(), "--no-such-option");
        assertThat(unknown.code).isEqualTo(2);
        assertThat(unknown.err).contains("--no-such-option");
        Run down = spark("evaluate", "--master", "spark://127.0.0.1:1", manifest.toString());
        assertThat(down.code).isEqualTo(1);
        assertThat(down.err).contains("cannot reach the Spark master spark://127.0.0.1:1");
        Run command = spark("frobnicate");
        assertThat(command.code).isEqualTo(2);
        assertThat(command.err).contains("unknown command 'frobnicate'").contains("Usage:");
    }

    @Test
    void javaOlderThan2503IsRefusedWithTheVersionAndTheFix() {
        assertThat(SparkMain.javaProblem(Runtime.Version.parse("25.0.2"))).contains("25.0.3").contains("25.0.2")
                .contains("JAVA_HOME");
        assertThat(SparkMain.javaProblem(Runtime.Version.parse("21.0.5"))).contains("21.0.5");
        assertThat(SparkMain.javaProblem(Runtime.Version.parse("25.0.3"))).isNull();
        assertThat(SparkMain.javaProblem(Runtime.Version.parse("26"))).isNull();
    }

    record Run(int code, String out, String err) {
    }

    static Run spark(String... args) {
        return withModels(args);
    }

    /** Runs the application with the tiny models appended to evaluate and explain. */
    static Run withModels(String... args) {
        List<String> a = new ArrayList<>(List.of(args));
        if (a.get(0).equals("evaluate") || a.get(0).equals("explain")) {
            a.addAll(models);
            if (a.get(0).equals("explain")) {  // explain has no --chunks/--baselines
                int i = a.indexOf("--chunks");
                a.subList(i, i + 4).clear();
            }
        }
        args = a.toArray(String[]::new);
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code;
        try (PrintStream po = new PrintStream(o, true, StandardCharsets.UTF_8);
                PrintStream pe = new PrintStream(e, true, StandardCharsets.UTF_8)) {
            code = SparkApp.run(args, po, pe);
        }
        return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }
}
