package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

import org.ctcf.TestPaths;
import org.ctcf.api.Progress;
import org.ctcf.core.Shard;
import org.ctcf.io.OutputException;
import org.ctcf.io.WriteFaults;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Every output path of {@code explain} appears whole or not at all: a second run into an earlier run's folder
 * replaces it as a whole (no mix of the two), a folder with files ctcf did not write is refused and left alone, and
 * a write that fails at any point (fault injection: the N-th file write fails in the middle, as a full disk does)
 * leaves the earlier outputs exactly as they were, the DICOM folder included, and nothing staged behind.
 */
class OutputAtomicityTest extends TinyModelTest {
    @AfterEach
    void disarm() {
        WriteFaults.failWrite(0);
        KERNEL.get().resetCancel();
    }

    private static final Path DICOM = TestPaths.sampleDicom();

    private static Explain.Request quick(boolean images) {
        return quick().withImages(images);
    }

    private ExplanationSummary explain(Path input, Path out, Explain.Request r) throws IOException {
        return explain(card, input, out, r);
    }

    /** Every file below {@code dir} (relative path → SHA-256), hidden ones included. */
    static Map<String, String> tree(Path dir) throws IOException {
        Map<String, String> m = new TreeMap<>();
        if (!Files.exists(dir)) {
            return m;
        }
        try (Stream<Path> w = Files.walk(dir)) {
            for (Path p : w.filter(Files::isRegularFile).toList()) {
                try {
                    m.put(dir.relativize(p).toString(), HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                            .digest(Files.readAllBytes(p))));
                } catch (java.security.NoSuchAlgorithmException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return m;
    }

    private static TreeSet<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(java.util.stream.Collectors.toCollection(
                    TreeSet::new));
        }
    }

    @Test
    void aSecondRunReplacesAnEarlierRunsFolderAsAWholeWithoutAMix() throws IOException {
        Path out = tmp.resolve("out");
        ExplanationSummary a = explain(TestPaths.sample(), out, quick(true));
        assertThat(names(out)).contains(ExplanationWriter.REPORT, ExplanationWriter.PANELS);
        ExplanationSummary b = explain(TestPaths.sample(), out, quick(false));
        // B wrote no report: A's must not be left beside B's summary
        assertThat(names(out)).containsExactlyInAnyOrderElementsOf(b.outputs());
        assertThat(b.outputs()).doesNotContain(ExplanationWriter.REPORT);
        assertThat(a.outputs()).contains(ExplanationWriter.REPORT);
        assertThat(names(tmp)).as("nothing staged or set aside beside it").containsExactlyInAnyOrder("out",
                "middle.json", "middle.pt");
    }

    @Test
    void aFolderHoldingFilesCtcfDidNotWriteIsRefusedBeforeAnyWorkAndLeftAlone() throws IOException {
        Path out = Files.createDirectories(tmp.resolve("mine"));
        Files.writeString(out.resolve("notes.txt"), "my notes");
        assertThatThrownBy(() -> explain(TestPaths.sample(), out, quick(false)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(out.toString())
                .hasMessageContaining("notes.txt").hasMessageContaining("ctcf did not write");
        assertThat(names(out)).containsExactly("notes.txt");
        // an earlier run's folder into which the user put a file is not ctcf's any more either
        Path run = tmp.resolve("run");
        explain(TestPaths.sample(), run, quick(false));
        Files.writeString(run.resolve("reading.txt"), "radiologist's reading");
        Map<String, String> before = tree(run);
        assertThatThrownBy(() -> explain(TestPaths.sample(), run, quick(false))).hasMessageContaining("reading.txt");
        assertThat(tree(run)).isEqualTo(before);
        // nor is an input: a DICOM series' own folder, or a folder around it
        Path study = tmp.resolve("study");
        TestPaths.copySampleDicom(study.resolve("series"), -1);
        Map<String, String> input = tree(study);
        assertThatThrownBy(() -> explain(study.resolve("series"), study.resolve("series"), quick(false)))
                .hasMessageContaining("is the input");
        assertThatThrownBy(() -> explain(study.resolve("series"), study, quick(false)))
                .hasMessageContaining("holds the input");
        assertThatThrownBy(() -> explain(study.resolve("series"), study.resolve("series/out"), quick(false)))
                .hasMessageContaining("lies inside the input");
        assertThat(tree(study)).isEqualTo(input);
    }


    /**
     * The N-th write fails, for N across a whole run (the first file, the volumes, the images, the DICOM slices, the
     * last DICOM object, the report, the summary): the run fails with an {@link OutputException} naming the path,
     * and both output folders are exactly the earlier run's.
     */
    @Test
    void aWriteThatFailsAnywhereLeavesTheEarlierOutputsExactlyAsTheyWere() throws IOException {
        Path out = tmp.resolve("out");
        Path dicom = tmp.resolve("pacs-inbox/ctcf");
        long w0 = WriteFaults.writes();
        explain(DICOM, out, quick(true).withDicomOut(dicom));
        long writes = WriteFaults.writes() - w0;
        assertThat(writes).as("volumes, images, report, summary and 79 + 2 DICOM objects").isGreaterThan(85);
        Map<String, String> outBefore = tree(out);
        Map<String, String> dicomBefore = tree(dicom);
        assertThat(dicomBefore).hasSize(81);
        for (long n : new TreeSet<>(List.of(1L, 2L, 4L, 9L, 12L, writes / 2, writes - 4, writes - 2, writes - 1,
                writes))) {
            WriteFaults.failWrite(n);
            assertThatThrownBy(() -> explain(DICOM, out, quick(true).withDicomOut(dicom))).as("write " + n)
                    .isInstanceOf(OutputException.class).hasMessageContaining("No space left on device")
                    .satisfies(e -> assertThat(((OutputException) e).path().toString()).startsWith(tmp.toString()));
            assertThat(WriteFaults.armed()).isFalse();
            assertThat(tree(out)).as("write " + n).isEqualTo(outBefore);
            assertThat(tree(dicom)).as("write " + n).isEqualTo(dicomBefore);
            assertThat(names(tmp)).as("write " + n).containsExactlyInAnyOrder("out", "pacs-inbox", "middle.json",
                    "middle.pt");
            assertThat(names(tmp.resolve("pacs-inbox"))).containsExactly("ctcf");
        }
        // a first run that fails leaves no output at all, not a partial DICOM series a PACS watcher would take
        Path fresh = tmp.resolve("fresh");
        Path freshDicom = tmp.resolve("pacs-inbox/fresh");
        WriteFaults.failWrite(30);  // a DICOM slice
        assertThatThrownBy(() -> explain(DICOM, fresh, quick(true).withDicomOut(freshDicom)))
                .isInstanceOf(OutputException.class);
        assertThat(fresh).doesNotExist();
        assertThat(freshDicom).doesNotExist();
    }

    /**
     * The DICOM folder and -o are committed one after the other; when -o cannot be (a file that is not ctcf's
     * appeared in it while the run worked), the DICOM folder goes back to the earlier run's too: both new, or both
     * as they were.
     */
    @Test
    void whenMinusOCannotBeCommittedTheDicomFolderIsPutBackToo() throws IOException {
        Path out = tmp.resolve("out");
        Path dicom = tmp.resolve("pacs-inbox/ctcf");
        explain(DICOM, out, quick(true).withDicomOut(dicom));
        Map<String, String> dicomBefore = tree(dicom);
        Progress.Listener intruder = p -> {
            if (p.phase() == Progress.Phase.CHUNK_DONE) {
                try {
                    Files.writeString(out.resolve("reading.txt"), "a radiologist's note, written meanwhile");
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
            return true;
        };
        assertThatThrownBy(() -> TinyExplainModels.with(KERNEL.get(), card, m -> Explain.toDirectory(DICOM, out, m,
                quick(true).withDicomOut(dicom), intruder))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("reading.txt").hasMessageContaining("appeared while ctcf was working");
        assertThat(tree(dicom)).isEqualTo(dicomBefore);
        assertThat(out.resolve("reading.txt")).exists();
        assertThat(names(tmp)).containsExactlyInAnyOrder("out", "pacs-inbox", "middle.json", "middle.pt");
        assertThat(names(tmp.resolve("pacs-inbox"))).containsExactly("ctcf");
    }

    /** In a batch, a scan whose writes fail is that scan's failure; its folder never appears half-written. */
    @Test
    void aBatchScanWhoseWriteFailsIsRecordedAndLeavesNoFolder() throws IOException {
        Path data = Files.createDirectories(tmp.resolve("data"));
        TestPaths.copySampleDicom(data.resolve("p1"), -1);
        TestPaths.copySampleDicom(data.resolve("p2"), -1);
        List<Batch.Scan> scans = Batch.fromFolder(data);
        Path out = tmp.resolve("batch");
        WriteFaults.failWrite(20);  // in p1's DICOM series
        Batch.BatchResult r = TinyExplainModels.with(KERNEL.get(), card, m -> Batch.run(scans, out, m,
                quick(false).withDicomOut(Path.of("dicom")), Shard.ALL, new Batch.Listener() {
                }));
        assertThat(r.explained()).isEqualTo(1);
        assertThat(r.failures()).singleElement().satisfies(f -> {
            assertThat(f.scan().id()).isEqualTo("p1");
            assertThat(f.errorClass()).isEqualTo(OutputException.class.getName());
            assertThat(f.message()).contains("No space left on device").contains(out.toString());
        });
        assertThat(names(out)).containsExactly("failures.csv", "p2");
        assertThat(tree(out.resolve("p2/dicom"))).as("79 CT slices and the Parametric Map (no images: no SC)").hasSize(80);
    }
}
