package org.ctcf.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.ctcf.TestPaths;
import org.ctcf.api.Kernel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ctcf explain --manifest/--folder/VOLUME...}: the command line of a batch. */
class ExplainBatchCliTest {
    @TempDir
    Path tmp;

    private static CliTest.Result run(String... args) {
        return CliTest.run(args);
    }

    private static CliTest.Result run(List<String> head, List<String> tail) {
        List<String> all = new java.util.ArrayList<>(head);
        all.addAll(tail);
        return CliTest.run(all.toArray(String[]::new));
    }

    /** The middle-slices card of the tiny explain models, written into the test's folder. */
    private Path tinyCard() throws IOException {
        try (Kernel k = Kernel.open()) {
            return org.ctcf.report.TinyExplainModels.middleSlicesCard(tmp, k);
        }
    }

    /** The options that make explain quick: the tiny autoencoder, the card, two chunks, a fixed λ range. */
    private static List<String> quick(Path card) {
        return List.of("--autoencoder", TestPaths.vqgan("tiny_vqgan.safetensors").toString(), "--resize", "16",
                "--classifier", card.toString(), "--chunk", "60", "--fix-range", "-30,0", "--frames", "2",
                "--no-report");
    }

    @Test
    void theResultLineNamesTheBestChunkTheGreedyChunksOrWhyNoCounterfactualWasFound() throws IOException {
        Path card = tinyCard();
        List<String> search = List.of("--autoencoder", TestPaths.vqgan("tiny_vqgan.safetensors").toString(),
                "--resize", "16", "--classifier", card.toString(), "--chunk", "60", "--frames", "2", "--no-report",
                "--max-steps", "40");
        CliTest.Result best = run(List.of("explain", TestPaths.sample().toString(), "-o", tmp.resolve("best")
                .toString()), search);
        assertThat(best.code()).as(best.err()).isZero();
        var s = org.ctcf.report.ExplanationSummary.read(tmp.resolve("best/summary.json"));
        assertThat(best.out()).contains(String.format(java.util.Locale.ROOT, "prediction %.4f -> %.4f (chunk %d:%d, "
                + "the best of 2)", s.initialPrediction(), s.sweep().minimumPrediction(),
                s.sweep().counterfactualChunks().get(0).get(0), s.sweep().counterfactualChunks().get(0).get(1)));
        CliTest.Result greedy = run(List.of("explain", TestPaths.sample().toString(), "-o", tmp.resolve("greedy")
                .toString(), "--stitch", "greedy"), search);
        assertThat(greedy.code()).as(greedy.err()).isZero();
        assertThat(greedy.out()).containsPattern("\\(\\d chunks stitched greedily: \\d+:\\d+|\\(chunk \\d+:\\d+, the best");
        var g = org.ctcf.report.ExplanationSummary.read(tmp.resolve("greedy/summary.json"));
        assertThat(g.sweep().stitch()).isEqualTo("greedy");
        assertThat(g.counterfactualPrediction()).isLessThanOrEqualTo(s.counterfactualPrediction());
        CliTest.Result negative = run(List.of("explain", TestPaths.sample().toString(), "-o", tmp.resolve("neg")
                .toString(), "--stop-below", "1.5"), search);
        assertThat(negative.code()).as(negative.err()).isZero();
        assertThat(negative.out()).contains("no counterfactual found (below the search's floor 1.5: nothing to "
                + "lower; --stop-below 0 explains it anyway)");
        assertThat(run(List.of("explain", TestPaths.sample().toString(), "--stitch", "mosaic"), search).err())
                .contains("unknown stitch 'mosaic' (best, greedy)");
    }

    @Test
    void manifestErrorsNameFileAndLineBeforeAnyModelLoads() throws IOException {
        Path m = tmp.resolve("m.csv");
        Files.writeString(m, "volume,id\na.nii.gz,a\n\"b.nii.gz,b\n");
        CliTest.Result r = run("explain", "--manifest", m.toString(), "-o", tmp.resolve("out").toString());
        assertThat(r.code()).as(r.err()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(r.err()).contains(m + ":3: a quoted field is not closed");
        assertThat(tmp.resolve("out")).doesNotExist();

        Files.writeString(m, "volume\nx/a.nii.gz\ny/a.nii.gz\n");
        CliTest.Result dup = run("explain", "--manifest", m.toString(), "-o", tmp.resolve("out").toString());
        assertThat(dup.code()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(dup.err()).contains(m.toString()).contains("duplicate scan ids").contains("a (lines 2, 3)");

        Files.writeString(m, "file,id\na.nii.gz,a\n");
        CliTest.Result header = run("explain", "--manifest", m.toString());
        assertThat(header.code()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(header.err()).contains(m + ":1: the header must name a 'volume' column");

        CliTest.Result missing = run("explain", "--manifest", tmp.resolve("none.csv").toString());
        assertThat(missing.code()).isEqualTo(ExitCode.BAD_INPUT.code());
        assertThat(missing.err()).contains("none.csv: no such file");
    }

    @Test
    void optionsThatDoNotGoTogetherAreRefused() throws IOException {
        Path m = tmp.resolve("m.csv");
        Files.writeString(m, "volume\na.nii.gz\n");
        CliTest.Result two = run("explain", "--manifest", m.toString(), "--folder", tmp.toString());
        assertThat(two.code()).isEqualTo(ExitCode.USAGE.code());
        assertThat(two.err()).contains("give one of VOLUME..., --manifest FILE.csv or --folder DIR, not several");
        CliTest.Result series = run("explain", "--manifest", m.toString(), "--series", "2");
        assertThat(series.code()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        assertThat(series.err()).contains("series column");
        CliTest.Result shard = run("explain", "--shard", "2/2", "a.nii.gz", "b.nii.gz");
        assertThat(shard.code()).isEqualTo(ExitCode.USAGE.code());
        assertThat(shard.err()).contains("--shard").contains("a shard is I/N with N >= 1 and 0 <= I < N, not 2/2");
        CliTest.Result none = run("explain");
        assertThat(none.code()).isEqualTo(ExitCode.USAGE.code());
        assertThat(none.err()).contains("give a VOLUME, several, --manifest FILE.csv or --folder DIR");
    }

    @Test
    void aBatchPrintsScansWithAnEtaAndExitsWithEightWhenAScanFailed() throws IOException {
        Path card;
        try (Kernel k = Kernel.open()) {
            card = org.ctcf.report.TinyExplainModels.middleSlicesCard(tmp, k);
        }
        Path data = Files.createDirectories(tmp.resolve("data"));
        Files.copy(TestPaths.sample(), data.resolve("one.nii.gz"));
        Path out = tmp.resolve("out");
        List<String> args = List.of("explain", data.resolve("one.nii.gz").toString(),
                data.resolve("gone.nii.gz").toString(), "--autoencoder",
                TestPaths.vqgan("tiny_vqgan.safetensors").toString(), "--resize", "16", "--classifier", card.toString(),
                "--chunk", "60", "--fix-range", "-30,0", "--frames", "2", "--no-report", "-o", out.toString(),
                "--progress", "plain");
        CliTest.Result r = run(args.toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isEqualTo(ExitCode.SCANS_FAILED.code());
        assertThat(r.out()).contains("2 scans, 0 done already, 2 to explain")
                .contains("scan 1/2 (one): " + data.resolve("one.nii.gz") + "; elapsed ")
                .containsPattern("scan 1/2 \\(one\\): explained, prediction [0-9.]+ -> [0-9.]+; elapsed \\d+:\\d\\d:\\d\\d,"
                        + " ETA \\d+:\\d\\d:\\d\\d")
                .contains("scan 2/2 (gone): failed: " + data.resolve("gone.nii.gz") + ": no such file")
                .contains("1 explained, 0 skipped (done), 1 failed (see " + out.resolve("failures.csv") + ")");
        assertThat(r.err()).contains("ctcf: 1 explained, 0 skipped (done), 1 failed");
        assertThat(out.resolve("one/summary.json")).isRegularFile();
        assertThat(Files.readAllLines(out.resolve("failures.csv"))).hasSize(2);

        CliTest.Result again = run(args.toArray(String[]::new));
        assertThat(again.code()).isEqualTo(ExitCode.SCANS_FAILED.code());
        assertThat(again.out()).contains("scan 1/2 (one): skipped (done)")
                .contains("0 explained, 1 skipped (done), 1 failed");
    }

    /** Every file below {@code dir}, with its bytes' hash. */
    private static java.util.Map<String, Integer> files(Path dir) throws IOException {
        java.util.Map<String, Integer> m = new java.util.TreeMap<>();
        try (var w = Files.walk(dir)) {
            for (Path p : w.filter(Files::isRegularFile).toList()) {
                m.put(dir.relativize(p).toString(), java.util.Arrays.hashCode(Files.readAllBytes(p)));
            }
        }
        return m;
    }

    /**
     * The attack of issue 32: {@code --folder cohort -o cohort} (two DICOM series and a notes file) deleted every
     * input file and said "2 explained". Now it, an -o inside the cohort, and an -o holding the manifest are refused
     * before any model loads, and not one byte of the inputs changes.
     */
    @Test
    void anOutputFolderThatIsHoldsOrLiesInsideTheInputsIsRefusedAndNothingIsDeleted() throws IOException {
        Path cohort = Files.createDirectories(tmp.resolve("cohort"));
        for (String patient : List.of("p1", "p2")) {
            TestPaths.copySampleDicom(cohort.resolve(patient), 3);
        }
        Files.writeString(cohort.resolve("notes.txt"), "do not delete");
        Files.writeString(cohort.resolve("m.csv"), "volume\np1\np2\n");
        var before = files(cohort);
        CliTest.Result same = run("explain", "--folder", cohort.toString(), "-o", cohort.toString());
        assertThat(same.code()).as(same.err()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        assertThat(same.err()).contains("-o " + cohort + " is the input " + cohort);
        CliTest.Result inside = run("explain", "--folder", cohort.toString(), "-o", cohort.resolve("out").toString());
        assertThat(inside.code()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        assertThat(inside.err()).contains("lies inside the input");
        CliTest.Result patient = run("explain", "--folder", cohort.toString(), "-o", cohort.resolve("p1").toString());
        assertThat(patient.code()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        CliTest.Result manifest = run("explain", "--manifest", cohort.resolve("m.csv").toString(), "-o",
                cohort.toString());
        assertThat(manifest.code()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        assertThat(manifest.err()).contains("holds the input " + cohort.resolve("m.csv"));
        CliTest.Result single = run("explain", cohort.resolve("p1").toString(), "-o", cohort.toString());
        assertThat(single.code()).isEqualTo(ExitCode.INVALID_ARGUMENT.code());
        assertThat(single.err()).contains("holds the input");
        assertThat(files(cohort)).isEqualTo(before);
        assertThat(cohort.resolve("out")).doesNotExist();
    }

    /** A failed write is exit 9 with the path named; nothing of the run is left under the output's name. */
    @Test
    void aWriteThatFailsIsExitNineNamingThePath() throws IOException {
        Path card = tinyCard();
        Path out = tmp.resolve("out");
        org.ctcf.io.WriteFaults.failWrite(2);
        try {
            CliTest.Result r = run(List.of("explain", TestPaths.sample().toString(), "-o", out.toString()),
                    quick(card));
            assertThat(r.code()).as(r.err()).isEqualTo(ExitCode.OUTPUT.code());
            assertThat(r.err()).containsPattern("ctcf: error: " + java.util.regex.Pattern.quote(tmp.toString())
                    + "\\S*: cannot write: No space left on device");
        } finally {
            org.ctcf.io.WriteFaults.failWrite(0);
        }
        assertThat(out).doesNotExist();
    }

    /**
     * Text from files reaches the terminal and the CSVs escaped: a volume named with an ESC sequence and a leading
     * formula character fails (no such file), and neither stdout, stderr nor failures.csv holds the raw control
     * character; failures.csv reads back as RFC 4180 with the formula neutralised.
     */
    @Test
    void controlCharactersAndFormulasFromInputsAreEscapedOnTheTerminalAndInTheCsv() throws IOException {
        Path card = tinyCard();
        Path m = tmp.resolve("m.csv");
        Files.writeString(m, "volume,id\n\"=cmd|' /C calc'!A0.nii.gz\",\"=evil\"\n\"x\u001b[2Jy.nii.gz\",\"\"\"q\"\n");
        Path out = tmp.resolve("out");
        CliTest.Result r = run(List.of("explain", "--manifest", m.toString(), "-o", out.toString(), "--progress",
                "plain"), quick(card));
        assertThat(r.code()).as(r.err()).isEqualTo(ExitCode.SCANS_FAILED.code());
        assertThat(r.out() + r.err()).doesNotContain("\u001b").contains("x\\x1b[2Jy.nii.gz");
        String csv = Files.readString(out.resolve("failures.csv"));
        assertThat(csv).doesNotContain("\u001b").contains("'=evil").contains("\"\"\"q\"");
        List<org.ctcf.io.Csv.Record> rows = org.ctcf.io.Csv.parse(out.resolve("failures.csv"), csv, false);
        assertThat(rows).hasSize(3);
        assertThat(rows.get(1).fields().get(0)).isEqualTo("=evil");
        assertThat(rows.get(2).fields().get(0)).isEqualTo("\"q");
    }

    /** Issue 32: evaluate exited 0 when every volume failed; now 8, as a batch explain, saying so on stderr. */
    @Test
    void anEvaluateWhereVolumesFailExitsEight() throws IOException {
        Path card = tinyCard();
        Files.writeString(tmp.resolve("a.nii.gz"), "not a volume");
        Files.writeString(tmp.resolve("b.nii.gz"), "not one either");
        Path m = tmp.resolve("eval.csv");
        Files.writeString(m, "volume,label\na.nii.gz,1\nb.nii.gz,0\n");
        CliTest.Result r = run("evaluate", m.toString(), "--autoencoder",
                TestPaths.vqgan("tiny_vqgan.safetensors").toString(), "--resize", "16", "--classifier", card.toString(),
                "--chunks", "60", "--baselines", "none", "-o", tmp.resolve("eval").toString(), "--progress", "none");
        assertThat(r.code()).as(r.err()).isEqualTo(ExitCode.SCANS_FAILED.code());
        assertThat(r.err()).contains("2 of 2 volumes failed");
        assertThat(Files.readString(tmp.resolve("eval/results.csv"))).contains("a.nii.gz,1,error: ");
    }
}
