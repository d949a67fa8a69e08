package org.ctcf.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.ctcf.api.Progress;
import org.ctcf.api.Progress.Phase;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** ProgressPrinter fed a scripted run with a fake clock: plain lines, JSON lines, nothing, a bar; the ETA. */
class ProgressPrinterTest {
    private final AtomicLong nanos = new AtomicLong();
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private ProgressPrinter printer(ProgressPrinter.Mode mode) {
        return new ProgressPrinter(mode, true, new PrintWriter(out, true), new PrintWriter(err, true), nanos::get, 160,
                "explain");
    }

    private void at(double seconds) {
        nanos.set(Math.round(seconds * 1e9));
    }

    /**
     * A sweep of 4 chunks: encode at 0 s, gradient at 1 s, chunk 1's three search steps at 2, 3, 4 s and its end at
     * 5 s; chunk 2's steps at 6 and 7 s, its end at 8 s.
     */
    private void script(ProgressPrinter p) {
        at(0);
        p.onProgress(new Progress(Phase.ENCODE, 0, 4, 0, 0, 0));
        at(1);
        p.onProgress(new Progress(Phase.GRADIENT, 0, 4, 0, 0, 0.9));
        for (int s = 0; s < 3; s++) {
            at(2 + s);
            p.onProgress(new Progress(Phase.SEARCH_STEP, 0, 4, s, 10 * (s + 1), 0.9 - 0.1 * s));
        }
        at(5);
        p.onProgress(new Progress(Phase.CHUNK_DONE, 0, 4, 0, 30, 0.7));
        at(6);
        p.onProgress(new Progress(Phase.SEARCH_STEP, 1, 4, 0, 10, 0.85));
        at(7);
        p.onProgress(new Progress(Phase.SEARCH_STEP, 1, 4, 1, 20, 0.8));
        at(8);
        p.onProgress(new Progress(Phase.CHUNK_DONE, 1, 4, 0, 20, 0.8));
    }

    @Test
    void plainModePrintsOneLinePerChunkWithElapsedAndEta() {
        try (ProgressPrinter p = printer(ProgressPrinter.Mode.PLAIN)) {
            script(p);
        }
        List<String> lines = out.toString().lines().toList();
        // work timed from the first step (2 s): after 1 of 4 chunks, 3 s of work -> 9 s left; after 2, 6 s -> 6 s
        assertThat(lines).containsExactly(
                "chunk 1/4 done: lambda 30, prediction 0.7000; elapsed 0:00:05, ETA 0:00:09",
                "chunk 2/4 done: lambda 20, prediction 0.8000; elapsed 0:00:08, ETA 0:00:06");
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void jsonModePrintsOneParsableObjectPerEventOnItsOwnStream() throws Exception {
        try (ProgressPrinter p = printer(ProgressPrinter.Mode.JSON)) {
            script(p);
        }
        assertThat(out.toString()).isEmpty();
        ObjectMapper json = new ObjectMapper();
        List<String> lines = err.toString().lines().toList();
        assertThat(lines).hasSize(9);
        for (String l : lines) {
            JsonNode n = json.readTree(l);
            assertThat(n.isObject()).as(l).isTrue();
            for (String f : new String[] {"phase", "task", "chunk", "chunks", "step", "lambda", "prediction",
                "elapsed_s", "eta_s"}) {
                assertThat(n.has(f)).as("%s has %s", l, f).isTrue();
            }
        }
        JsonNode first = json.readTree(lines.get(2));  // chunk 1's first search step: nothing done yet
        assertThat(first.get("phase").asText()).isEqualTo("SEARCH_STEP");
        assertThat(first.get("chunk").asInt()).isEqualTo(1);
        assertThat(first.get("chunks").asInt()).isEqualTo(4);
        assertThat(first.get("step").asInt()).isEqualTo(1);
        assertThat(first.get("lambda").asDouble()).isEqualTo(10.0);
        assertThat(first.get("prediction").asDouble()).isEqualTo(0.9);
        assertThat(first.get("elapsed_s").asDouble()).isEqualTo(2.0);
        assertThat(first.get("eta_s").isNull()).as("ETA unknown during the first chunk").isTrue();
        // chunk 2's second step at 7 s: 1 chunk + 2 of a finished chunk's 4 events -> f = 1.5 / 4, 5 s of work
        JsonNode mid = json.readTree(lines.get(7));
        assertThat(mid.get("chunk").asInt()).isEqualTo(2);
        assertThat(mid.get("step").asInt()).isEqualTo(2);
        assertThat(mid.get("eta_s").asDouble()).isCloseTo(5 * (1 - 0.375) / 0.375, within(1e-3));
        JsonNode done = json.readTree(lines.get(8));
        assertThat(done.get("phase").asText()).isEqualTo("CHUNK_DONE");
        assertThat(done.get("step").isNull()).isTrue();
        assertThat(done.get("eta_s").asDouble()).isEqualTo(6.0);
    }

    @Test
    void quietPrintsNothing() {
        assertThat(ProgressPrinter.resolve(null, true, true)).isEqualTo(ProgressPrinter.Mode.NONE);
        assertThat(ProgressPrinter.resolve(null, true, false)).isEqualTo(ProgressPrinter.Mode.NONE);
        try (ProgressPrinter p = new ProgressPrinter(ProgressPrinter.resolve(null, true, false), false,
                new PrintWriter(out, true), new PrintWriter(err, true), nanos::get, 100, "explain")) {
            script(p);
            p.step(5, 10, "loss 1", 1, Map.of("loss", 1.0));
            p.item("VOLUME_DONE", 1, 2, "a.nii.gz", Double.NaN, Map.of());
            p.println("a line of the command's own");
            p.onProgress(new Progress(Phase.SALIENCY, 0, 1, 3, 8, 0.5));
        }
        assertThat(out.toString()).isEmpty();
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void autoIsABarOnATerminalAndPlainElsewhereAndAnExplicitModeWinsOverQuiet() {
        assertThat(ProgressPrinter.resolve(null, false, true)).isEqualTo(ProgressPrinter.Mode.BAR);
        assertThat(ProgressPrinter.resolve(null, false, false)).isEqualTo(ProgressPrinter.Mode.PLAIN);
        assertThat(ProgressPrinter.resolve(ProgressPrinter.Mode.AUTO, false, false)).isEqualTo(
                ProgressPrinter.Mode.PLAIN);
        assertThat(ProgressPrinter.resolve(ProgressPrinter.Mode.JSON, true, true)).isEqualTo(ProgressPrinter.Mode.JSON);
        assertThat(ProgressPrinter.resolve(ProgressPrinter.Mode.NONE, false, true)).isEqualTo(
                ProgressPrinter.Mode.NONE);
    }

    @Test
    void etaIsUnknownUntilSomethingIsDoneAndZeroAtTheEnd() {
        assertThat(ProgressPrinter.eta(10, 0)).isEmpty();
        assertThat(ProgressPrinter.eta(10, Double.NaN)).isEmpty();
        assertThat(ProgressPrinter.eta(10, 0.25).getAsDouble()).isEqualTo(30.0);
        assertThat(ProgressPrinter.eta(10, 1).getAsDouble()).isZero();
        assertThat(ProgressPrinter.clock(3725.4)).isEqualTo("1:02:05");
        assertThat(ProgressPrinter.clock(-1)).isEqualTo("0:00:00");
    }

    @Test
    void plainTrainingStepsEveryNStepsAndItemsWithTheirEta() {
        try (ProgressPrinter p = printer(ProgressPrinter.Mode.PLAIN)) {
            for (int s = 1; s <= 5; s++) {
                at(2 * s);
                p.step(s, 5, "loss " + s, 2, Map.of());
            }
            at(20);
            p.item("VOLUME_DONE", 1, 4, "a.nii.gz (positive): ok", Double.NaN, Map.of());
            p.item("VOLUME_DONE", 2, 4, "b.nii.gz (negative): ok", 12.0, Map.of());
        }
        assertThat(out.toString().lines().toList()).containsExactly(
                "[#########               ] 2/5 loss 2; elapsed 0:00:04, ETA 0:00:06",
                "[###################     ] 4/5 loss 4; elapsed 0:00:08, ETA 0:00:02",
                "[########################] 5/5 loss 5; elapsed 0:00:10, ETA 0:00:00",
                "[1/4] a.nii.gz (positive): ok; elapsed 0:00:20, ETA 0:01:00",
                "[2/4] b.nii.gz (negative): ok; elapsed 0:00:20, ETA 0:00:12");
    }

    @Test
    void jsonTrainingStepsCarryTheirFields() throws Exception {
        try (ProgressPrinter p = printer(ProgressPrinter.Mode.JSON)) {
            at(4);
            p.step(2, 8, "L1 0.1", 25, Map.of("l1", 0.1));
            p.onProgress(new Progress(Phase.SALIENCY, 0, 1, 3, 12, 0.5));
        }
        List<String> lines = err.toString().lines().toList();
        assertThat(lines).hasSize(2);
        JsonNode step = new ObjectMapper().readTree(lines.get(0));
        assertThat(step.get("phase").asText()).isEqualTo("TRAIN_STEP");
        assertThat(step.get("step").asInt()).isEqualTo(2);
        assertThat(step.get("steps").asInt()).isEqualTo(8);
        assertThat(step.get("l1").asDouble()).isEqualTo(0.1);
        assertThat(step.get("eta_s").asDouble()).isEqualTo(12.0);
        JsonNode sal = new ObjectMapper().readTree(lines.get(1));
        assertThat(sal.get("phase").asText()).isEqualTo("SALIENCY");
        assertThat(sal.get("steps").asInt()).isEqualTo(12);
        assertThat(sal.get("eta_s").asDouble()).isEqualTo(12.0);  // 3 of 12 in 4 s
    }

    @Test
    void barModeDrawsABarInPlaceWithTheChunkCountAndStep() {
        try (ProgressPrinter p = printer(ProgressPrinter.Mode.BAR)) {
            script(p);
            at(9);
            p.onProgress(new Progress(Phase.SEARCH_STEP, 2, 4, 0, 10, 0.6));
        }
        String s = out.toString();
        assertThat(s).contains("\r").contains("explain").contains("2/4 chunks").contains("[")
                .contains("chunk 3 search step 1: lambda 10, prediction 0.6000");
        // finished chunks stay as lines
        assertThat(s).contains("chunk 1/4 done: lambda 30, prediction 0.7000; elapsed 0:00:05, ETA 0:00:09");
        assertThat(s.lines().filter(l -> !l.isBlank()).count()).as(s).isGreaterThanOrEqualTo(3);
    }

    @Test
    void barModeCountsSaliencySteps() {
        try (ProgressPrinter p = new ProgressPrinter(ProgressPrinter.Mode.BAR, true, new PrintWriter(out, true),
                new PrintWriter(err, true), nanos::get, 120, "grad-cam")) {
            at(1);
            p.onProgress(new Progress(Phase.SALIENCY, 0, 1, 3, 12, 0.5));
        }
        assertThat(out.toString()).contains("grad-cam").contains("25%").contains("3/12 steps");
        assertThat(err.toString()).isEmpty();
    }
}
