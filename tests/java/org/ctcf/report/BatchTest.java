package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.ctcf.TestPaths;
import org.ctcf.api.Progress;
import org.ctcf.core.CtcfException;
import org.ctcf.core.Shard;
import org.junit.jupiter.api.Test;

/** Many scans with one model load: the output layout, failures, resume, shards and atomic scan folders. */
class BatchTest extends TinyModelTest {
    /** Records what the batch reports. */
    static final class Recorder implements Batch.Listener {
        final List<String> logs = new ArrayList<>();
        final List<String> done = new ArrayList<>();
        int total = -1;
        int already = -1;

        @Override
        public void log(String line) {
            logs.add(line);
        }

        @Override
        public void started(int total, int done) {
            this.total = total;
            this.already = done;
        }

        @Override
        public void scanDone(int index, int count, Batch.Scan scan, Batch.Outcome outcome, ExplanationSummary summary,
                Batch.Failure failure) {
            done.add(scan.id() + ":" + outcome);
        }
    }

    private Batch.BatchResult run(List<Batch.Scan> scans, Path out, Shard shard, Batch.Listener l)
            throws IOException {
        return TinyExplainModels.with(KERNEL.get(), card, m -> Batch.run(scans, out, m, quick(), shard, l));
    }

    private Path copy(String name) throws IOException {
        Path p = tmp.resolve("data").resolve(name);
        Files.createDirectories(p.getParent());
        return Files.copy(TestPaths.root().resolve("models/sample/cip_ct64_nodule.nii.gz"), p);
    }

    /** The names in a folder, hidden ones too. */
    private static Set<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    @Test
    void aManifestExplainsTheGoodScansRecordsTheBadOnesAndResumes() throws IOException {
        copy("a.nii.gz");
        copy("b.nii.gz");
        Files.writeString(tmp.resolve("data/corrupt.nii.gz"), "not a volume");
        Path manifest = tmp.resolve("data/m.csv");
        Files.writeString(manifest, """
                volume,id
                # two copies of the sample, a missing file, a corrupt one
                a.nii.gz,
                b.nii.gz,case_b
                missing.nii.gz,
                corrupt.nii.gz,bad
                """);
        List<Batch.Scan> scans = Batch.fromManifest(manifest);
        assertThat(scans).extracting(Batch.Scan::id).containsExactly("a", "case_b", "missing", "bad");
        assertThat(scans.get(0).volume()).isEqualTo(tmp.resolve("data/a.nii.gz"));
        Path out = tmp.resolve("out");
        Files.createDirectories(out.resolve(".a.partial-deadbeef0123"));  // a crashed run's
        Recorder r = new Recorder();
        Batch.BatchResult res = run(scans, out, Shard.ALL, r);
        assertThat(res.explained()).isEqualTo(2);
        assertThat(res.skipped()).isZero();
        assertThat(res.failed()).isEqualTo(2);
        assertThat(r.logs).singleElement().asString().contains(".a.partial-deadbeef0123");
        assertThat(names(out)).containsExactly("a", "case_b", "failures.csv");
        for (String id : List.of("a", "case_b")) {
            assertThat(out.resolve(id).resolve(ExplanationWriter.SUMMARY)).isRegularFile();
            assertThat(out.resolve(id).resolve(ExplanationWriter.COUNTERFACTUAL)).isRegularFile();
            assertThat(Files.readString(out.resolve(id).resolve(ExplanationWriter.SUMMARY))).doesNotContain(".partial");
        }
        List<String> failures = Files.readAllLines(out.resolve("failures.csv"));
        assertThat(failures).hasSize(3);
        assertThat(failures.get(0)).isEqualTo("id,volume,error,message");
        assertThat(failures.get(1)).startsWith("missing," + tmp.resolve("data/missing.nii.gz") + ",java.nio.file.")
                .contains("missing.nii.gz");
        assertThat(failures.get(2)).startsWith("bad," + tmp.resolve("data/corrupt.nii.gz") + ",");
        assertThat(res.summaryLine(out.resolve("failures.csv")))
                .isEqualTo("2 explained, 0 skipped (done), 2 failed (see " + out.resolve("failures.csv") + ")");

        // a re-run explains nothing; the failed scans are tried again
        Recorder again = new Recorder();
        Batch.BatchResult res2 = run(scans, out, Shard.ALL, again);
        assertThat(again.total).isEqualTo(4);
        assertThat(again.already).isEqualTo(2);
        assertThat(res2.explained()).isZero();
        assertThat(res2.skipped()).isEqualTo(2);
        assertThat(res2.failed()).isEqualTo(2);
        assertThat(again.done).containsExactly("a:SKIPPED", "case_b:SKIPPED", "missing:FAILED", "bad:FAILED");

        // a deleted folder (or one without its summary) is explained again, and only it
        try (Stream<Path> w = Files.walk(out.resolve("case_b"))) {
            for (Path p : w.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
        Batch.BatchResult res3 = run(scans, out, Shard.ALL, new Recorder());
        assertThat(res3.explained()).isEqualTo(1);
        assertThat(res3.skipped()).isEqualTo(1);
        assertThat(out.resolve("case_b").resolve(ExplanationWriter.SUMMARY)).isRegularFile();
        assertThat(names(out)).containsExactly("a", "case_b", "failures.csv");
    }

    @Test
    void twoShardsTogetherMakeTheFoldersOfOneRunEachOnce() throws IOException {
        List<Path> paths = new ArrayList<>();
        for (String n : List.of("s1.nii.gz", "s2.nii.gz", "s3.nii.gz")) {
            paths.add(copy(n));
        }
        List<Batch.Scan> scans = Batch.fromPaths(paths);
        assertThat(scans).extracting(Batch.Scan::id).containsExactly("s1", "s2", "s3");
        Path all = tmp.resolve("all");
        assertThat(run(scans, all, Shard.ALL, new Recorder()).explained()).isEqualTo(3);
        Path shared = tmp.resolve("shards");  // both shards in one folder, as a SLURM array writes
        Recorder r0 = new Recorder();
        Recorder r1 = new Recorder();
        Batch.BatchResult a = run(scans, shared, Shard.parse("0/2"), r0);
        Set<String> after0 = names(shared);
        Batch.BatchResult b = run(scans, shared, Shard.parse("1/2"), r1);
        assertThat(a.explained() + b.explained()).isEqualTo(3);
        assertThat(a.failed() + b.failed()).isZero();
        Set<String> first = new HashSet<>(r0.done);
        Set<String> second = new HashSet<>(r1.done);
        assertThat(first).doesNotContainAnyElementsOf(second);
        assertThat(after0).hasSize(a.explained());
        assertThat(names(shared)).isEqualTo(names(all)).containsExactly("s1", "s2", "s3");
    }

    /** A summary.json of ctcf's listing {@code outputs} (and itself). */
    static String summary(String tag, String... outputs) {
        StringBuilder b = new StringBuilder("{\"input_sha256\": \"" + tag + "\", \"outputs\": [");
        for (String o : outputs) {
            b.append('"').append(o).append("\", ");
        }
        return b.append("\"summary.json\"]}").toString();
    }

    /**
     * The commit of a scan's folder: a folder in the way that ctcf did not write (here: an input's folder, with no
     * summary of ctcf's) is never replaced nor removed; a complete one (a twin attempt's, under Spark's retries or
     * speculation) is kept and the late partial is left for its writer to remove; a damaged one of ctcf's own (its
     * summary lists a file that is gone) is replaced.
     */
    @Test
    void aCommitNeverReplacesAFolderCtcfDidNotWriteNorACompleteOne() throws IOException {
        Path dir = tmp.resolve("commit");
        Path target = dir.resolve("scan");
        Files.createDirectories(target);
        Files.writeString(target.resolve("IM0001.dcm"), "a patient's image");  // no summary.json: not ctcf's
        Path partial = dir.resolve(".scan.partial-1");
        Files.createDirectories(partial);
        Files.writeString(partial.resolve("counterfactual.nii.gz"), "cf 1");
        Files.writeString(partial.resolve(ExplanationWriter.SUMMARY), summary("1", "counterfactual.nii.gz"));
        assertThatThrownBy(() -> Batch.commit(partial, target)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(target.toString()).hasMessageContaining("IM0001.dcm")
                .hasMessageContaining("ctcf did not write");
        assertThat(target.resolve("IM0001.dcm")).hasContent("a patient's image");
        assertThat(names(target)).containsExactly("IM0001.dcm");
        assertThat(partial).isDirectory();

        // a user's file beside a summary of ctcf's is not ctcf's either
        Files.writeString(target.resolve(ExplanationWriter.SUMMARY), summary("0", "counterfactual.nii.gz"));
        assertThatThrownBy(() -> Batch.commit(partial, target)).isInstanceOf(IllegalArgumentException.class);
        assertThat(target.resolve("IM0001.dcm")).hasContent("a patient's image");

        // a damaged folder of ctcf's own is replaced
        Files.delete(target.resolve("IM0001.dcm"));
        Batch.commit(partial, target);
        assertThat(target.resolve(ExplanationWriter.SUMMARY)).hasContent(summary("1", "counterfactual.nii.gz"));
        assertThat(partial).doesNotExist();
        assertThat(names(dir)).containsExactly("scan");  // nothing set aside remains

        Path late = dir.resolve(".scan.partial-2");
        Files.createDirectories(late);
        Files.writeString(late.resolve("counterfactual.nii.gz"), "cf 2");
        Files.writeString(late.resolve(ExplanationWriter.SUMMARY), summary("2", "counterfactual.nii.gz"));
        Batch.commit(late, target);
        assertThat(target.resolve(ExplanationWriter.SUMMARY)).hasContent(summary("1", "counterfactual.nii.gz"));
        assertThat(late).isDirectory();
    }

    /** A scan whose folder holds what ctcf did not write fails, saying so, before any work; the folder stays. */
    @Test
    void aScanFolderCtcfDidNotWriteFailsThatScanAndStays() throws IOException {
        List<Batch.Scan> scans = Batch.fromPaths(List.of(copy("p1.nii.gz"), copy("p2.nii.gz")));
        Path out = tmp.resolve("out");
        Files.createDirectories(out.resolve("p1"));
        Files.writeString(out.resolve("p1/notes.txt"), "mine");
        Batch.BatchResult res = run(scans, out, Shard.ALL, new Recorder());
        assertThat(res.explained()).isEqualTo(1);
        assertThat(res.failures()).singleElement().satisfies(f -> assertThat(f.message())
                .contains(out.resolve("p1").toString()).contains("notes.txt").contains("ctcf did not write"));
        assertThat(names(out.resolve("p1"))).containsExactly("notes.txt");
        assertThat(out.resolve("p1/notes.txt")).hasContent("mine");
        assertThat(out.resolve("p2/summary.json")).isRegularFile();
    }

    /**
     * Twin attempts of one scan (Spark's retries and speculation) committing at the same moment, many times over:
     * neither throws, and the scan's folder is one of them, whole.
     */
    @Test
    void twinsCommittingAtOnceLeaveOneCompleteFolder() throws Exception {
        Path dir = tmp.resolve("twins");
        Files.createDirectories(dir);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 200; round++) {
                Path target = dir.resolve("scan" + round);
                if (round % 3 == 0) {  // now and then an empty folder in the way
                    Files.createDirectories(target);
                }
                java.util.concurrent.CyclicBarrier go = new java.util.concurrent.CyclicBarrier(2);
                List<java.util.concurrent.Future<?>> twins = new ArrayList<>();
                for (int t = 0; t < 2; t++) {
                    Path partial = dir.resolve(".scan" + round + ".partial-" + t);
                    Files.createDirectories(partial);
                    Files.writeString(partial.resolve("counterfactual.nii.gz"), "twin " + t);
                    Files.writeString(partial.resolve(ExplanationWriter.SUMMARY), summary("twin " + t,
                            "counterfactual.nii.gz"));
                    twins.add(pool.submit(() -> {
                        go.await();
                        Batch.commit(partial, target);
                        return null;
                    }));
                }
                for (var f : twins) {
                    f.get();  // rethrows a twin's exception
                }
                String summary = Files.readString(target.resolve(ExplanationWriter.SUMMARY));
                assertThat(summary).isIn(summary("twin 0", "counterfactual.nii.gz"), summary("twin 1",
                        "counterfactual.nii.gz"));
                assertThat(target.resolve("counterfactual.nii.gz")).hasContent(summary.contains("twin 1") ? "twin 1"
                        : "twin 0");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aFailureInsideAScanLeavesNoPartialFolder() throws IOException {
        List<Batch.Scan> scans = Batch.fromPaths(List.of(copy("x1.nii.gz"), copy("x2.nii.gz"), copy("x3.nii.gz")));
        Path out = tmp.resolve("out");
        // a scan that fails in the middle (its progress listener throws; the kernel reports it as a CtcfException):
        // recorded, the run goes on
        Batch.BatchResult res = run(scans, out, Shard.ALL, new Batch.Listener() {
            @Override
            public Progress.Listener scanStarted(int index, int count, Batch.Scan scan) {
                return p -> {
                    if (scan.id().equals("x2") && p.phase() == Progress.Phase.CHUNK_DONE) {
                        throw new IllegalArgumentException("simulated failure in the middle of x2");
                    }
                    return true;
                };
            }
        });
        assertThat(res.explained()).isEqualTo(2);
        assertThat(res.failures()).singleElement().satisfies(f -> {
            assertThat(f.scan().id()).isEqualTo("x2");
            assertThat(f.errorClass()).isEqualTo(CtcfException.class.getName());
            assertThat(f.message()).contains("simulated failure in the middle of x2");
        });
        assertThat(names(out)).containsExactly("failures.csv", "x1", "x3");

        // a cancellation (Ctrl-C) in the middle of a scan stops the run, and leaves no partial folder either
        Path out2 = tmp.resolve("out2");
        assertThatThrownBy(() -> run(scans, out2, Shard.ALL, new Batch.Listener() {
            @Override
            public Progress.Listener scanStarted(int index, int count, Batch.Scan scan) {
                return p -> index != 2 || p.phase() != Progress.Phase.CHUNK_DONE;
            }
        })).isInstanceOf(CtcfException.CancelledException.class);
        assertThat(names(out2)).containsExactly("x1");
    }

    @Test
    void duplicateIdsAndBadManifestsAreRefusedNamingFileAndLine() throws IOException {
        Path m = tmp.resolve("dup.csv");
        Files.writeString(m, "volume,series,id\nx/a.nii.gz,,\ny/a.nii.gz,,\nc.mha,2,c\nd.mha,,c\n");
        assertThatThrownBy(() -> Batch.fromManifest(m)).isInstanceOf(IOException.class)
                .hasMessageContaining(m.toString()).hasMessageContaining("duplicate scan ids")
                .hasMessageContaining("a (lines 2, 3)").hasMessageContaining("c (lines 4, 5)");
        Path h = tmp.resolve("header.csv");
        Files.writeString(h, "path,id\na.nii.gz,a\n");
        assertThatThrownBy(() -> Batch.fromManifest(h)).hasMessageStartingWith(h + ":1: ")
                .hasMessageContaining("'volume' column");
        Path cols = tmp.resolve("cols.csv");
        Files.writeString(cols, "volume,id\n\na.nii.gz,a\nb.nii.gz\n");
        assertThatThrownBy(() -> Batch.fromManifest(cols)).hasMessageStartingWith(cols + ":4: ")
                .hasMessageContaining("2 columns expected");
        Path badId = tmp.resolve("id.csv");
        Files.writeString(badId, "volume,id\na.nii.gz,../up\n");
        assertThatThrownBy(() -> Batch.fromManifest(badId)).hasMessageStartingWith(badId + ":2: ")
                .hasMessageContaining("cannot name an output folder");
        Path quoted = tmp.resolve("q.csv");
        Files.writeString(quoted, "id,volume,series,label\n\"p, 1\",\"dir with, comma/s.nii.gz\",,1\nq,/abs/q.mhd,7,0\n");
        assertThat(Batch.fromManifest(quoted)).containsExactly(
                new Batch.Scan("p, 1", tmp.resolve("dir with, comma/s.nii.gz"), null),
                new Batch.Scan("q", Path.of("/abs/q.mhd"), "7"));
        assertThatThrownBy(() -> Batch.fromPaths(List.of(Path.of("a/x.nii.gz"), Path.of("b/x.mha"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("duplicate scan ids (each names an output folder): x (");
    }

    @Test
    void aFolderHoldsVolumesAndDicomSeries() throws IOException {
        Path dir = tmp.resolve("cohort");
        Files.createDirectories(dir.resolve("notes"));
        Files.writeString(dir.resolve("notes/readme.txt"), "not a scan");
        Files.writeString(dir.resolve("list.txt"), "not a scan");
        Files.createDirectories(dir.resolve(".hidden"));
        Files.writeString(dir.resolve("b.mha"), "");
        Files.writeString(dir.resolve("a.nii.gz"), "");
        Files.writeString(dir.resolve("c.nii"), "");
        Path series = Files.createDirectories(dir.resolve("patient7"));
        Files.copy(TestPaths.root().resolve("models/sample/dicom/cip_ct64_nodule/IM0001.dcm"), series.resolve("IM1"));
        assertThat(Batch.fromFolder(dir)).extracting(Batch.Scan::id).containsExactly("a", "b", "c", "patient7");
        Files.writeString(dir.resolve("a.nii"), "");
        assertThatThrownBy(() -> Batch.fromFolder(dir)).hasMessageContaining("duplicate scan ids (each names an output folder): a (");
        assertThatThrownBy(() -> Batch.fromFolder(tmp.resolve("none"))).hasMessageContaining("not a folder");
    }
}
