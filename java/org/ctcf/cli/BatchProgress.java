package org.ctcf.cli;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;

import org.ctcf.api.Progress;
import org.ctcf.report.Batch;
import org.ctcf.report.ExplanationSummary;

/**
 * A batch's progress on the CLI: a line per scan started and ended ({@code scan 3/40 (case_07): explained,
 * prediction 0.91 -> 0.12; elapsed 0:12:01, ETA 2:31:00}), in JSON mode the events {@code SCAN_START} and
 * {@code SCAN_DONE}; within a scan, a fresh {@link ProgressPrinter} (task {@code scan 3/40}) shows its chunks as a
 * single explain does. The ETA is the time spent on the scans this run worked on × the scans left to work on / the
 * scans finished (explained or failed); skipped (done) scans do not count.
 */
final class BatchProgress implements Batch.Listener {
    private final ProgressPrinter printer;
    private ProgressPrinter scan;
    private int todo;
    private int finished;
    private long workStart = -1;

    BatchProgress(ProgressPrinter printer) {
        this.printer = printer;
    }

    @Override
    public void log(String line) {
        printer.println(line);
    }

    @Override
    public void started(int total, int done) {
        todo = total - done;
        printer.println(String.format(Locale.ROOT, "%d scans, %d done already, %d to explain", total, done, todo));
    }

    @Override
    public Progress.Listener scanStarted(int index, int count, Batch.Scan s) {
        if (workStart < 0) {
            workStart = printer.now();
        }
        Map<String, Object> f = fields(index, count, s);
        printer.scanLine("SCAN_START", String.format(Locale.ROOT, "scan %d/%d (%s): %s", index, count,
                org.ctcf.core.Text.printable(s.id()), org.ctcf.core.Text.printable(s.volume().toString())), eta(), f);
        scan = printer.sibling("scan " + index + "/" + count);
        return scan;
    }

    @Override
    public void scanDone(int index, int count, Batch.Scan s, Batch.Outcome outcome, ExplanationSummary summary,
            Batch.Failure failure) {
        if (scan != null) {
            scan.close();
            scan = null;
        }
        if (outcome != Batch.Outcome.SKIPPED) {
            finished++;
        }
        String what = switch (outcome) {
            case SKIPPED -> "skipped (done)";
            case EXPLAINED -> String.format(Locale.ROOT, "explained, prediction %.4f -> %.4f", summary
                    .initialPrediction(), summary.counterfactualPrediction()) + (summary.outOfDomain()
                            ? " — WARNING: " + summary.domainCheck().describe() : "");
            case FAILED -> "failed: " + org.ctcf.core.Text.printable(failure.message());
            case BUSY -> "left to another process, which is explaining it into this folder now";
        };
        Map<String, Object> f = fields(index, count, s);
        f.put("status", outcome.name().toLowerCase(Locale.ROOT));
        f.put("prediction", summary != null ? summary.initialPrediction() : null);
        f.put("counterfactual_prediction", summary != null ? summary.counterfactualPrediction() : null);
        f.put("error", failure != null ? failure.errorClass() : null);
        f.put("message", failure != null ? failure.message() : null);
        printer.scanLine("SCAN_DONE", String.format(Locale.ROOT, "scan %d/%d (%s): %s", index, count,
                org.ctcf.core.Text.printable(s.id()), what), eta(), f);
    }

    /** Closes the current scan's printer (a run that stopped in a scan). */
    void close() {
        if (scan != null) {
            scan.close();
            scan = null;
        }
    }

    private OptionalDouble eta() {
        if (workStart < 0 || todo <= 0) {
            return OptionalDouble.empty();
        }
        return ProgressPrinter.eta((printer.now() - workStart) / 1e9, Math.min(1.0, (double) finished / todo));
    }

    private static Map<String, Object> fields(int index, int count, Batch.Scan s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("scan", index);
        m.put("scans", count);
        m.put("id", s.id());
        m.put("volume", s.volume().toString());
        return m;
    }
}
