package org.ctcf.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

import org.ctcf.report.Batch;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** A batch's scan lines with a fake clock: plain text with the ETA over scans, JSON events. */
class BatchProgressTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();
    private final AtomicLong nanos = new AtomicLong();

    private BatchProgress progress(ProgressPrinter.Mode mode) {
        return new BatchProgress(new ProgressPrinter(mode, true, new PrintWriter(out, true), new PrintWriter(err, true),
                nanos::get, 160, "explain"));
    }

    private static Batch.Scan scan(String id) {
        return new Batch.Scan(id, Path.of("/data/" + id + ".nii.gz"), null);
    }

    @Test
    void plainLinesCountScansAndEstimateFromTheScansWorkedOn() {
        BatchProgress p = progress(ProgressPrinter.Mode.PLAIN);
        p.started(4, 1);
        p.scanDone(1, 4, scan("a"), Batch.Outcome.SKIPPED, null, null);
        p.scanStarted(2, 4, scan("b"));
        nanos.set(60_000_000_000L);
        p.scanDone(2, 4, scan("b"), Batch.Outcome.FAILED, null,
                new Batch.Failure(scan("b"), "java.io.IOException", "b.nii.gz: corrupt"));
        p.scanStarted(3, 4, scan("c"));
        String text = out.toString();
        assertThat(text).contains("4 scans, 1 done already, 3 to explain")
                .contains("scan 1/4 (a): skipped (done); elapsed 0:00:00, ETA --")
                .contains("scan 2/4 (b): /data/b.nii.gz; elapsed 0:00:00, ETA --")
                // one of three scans finished in a minute: two minutes left
                .contains("scan 2/4 (b): failed: b.nii.gz: corrupt; elapsed 0:01:00, ETA 0:02:00")
                .contains("scan 3/4 (c): /data/c.nii.gz; elapsed 0:01:00, ETA 0:02:00");
    }

    @Test
    void jsonEventsNameTheScan() throws Exception {
        BatchProgress p = progress(ProgressPrinter.Mode.JSON);
        p.started(1, 0);
        p.scanStarted(1, 1, scan("a"));
        p.scanDone(1, 1, scan("a"), Batch.Outcome.FAILED, null,
                new Batch.Failure(scan("a"), "java.nio.file.NoSuchFileException", "/data/a.nii.gz: no such file"));
        String[] lines = err.toString().strip().split("\n");
        assertThat(lines).hasSize(2);
        JsonNode start = new ObjectMapper().readTree(lines[0]);
        JsonNode done = new ObjectMapper().readTree(lines[1]);
        assertThat(start.get("phase").asText()).isEqualTo("SCAN_START");
        assertThat(start.get("id").asText()).isEqualTo("a");
        assertThat(start.get("scans").asInt()).isEqualTo(1);
        assertThat(done.get("phase").asText()).isEqualTo("SCAN_DONE");
        assertThat(done.get("status").asText()).isEqualTo("failed");
        assertThat(done.get("error").asText()).isEqualTo("java.nio.file.NoSuchFileException");
        assertThat(done.get("eta_s").asDouble()).isZero();
    }
}
