package org.ctcf.report;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.ctcf.core.Shard;

/**
 * A child process of {@link BatchProcessTest}: a batch over scans {@code ids} into {@code OUT} whose writer makes
 * five small files per scan, one every {@code delayMs}, each holding this process's token, then the summary listing
 * them. Prints {@code TOKEN t} first, then {@code EXPLAINED id} / {@code BUSY id} / {@code SKIPPED id} per scan and
 * {@code END} (stdout, flushed at once). Usage: {@code BatchWorker OUT delayMs id...}.
 */
public final class BatchWorker {
    static final List<String> FILES = List.of("counterfactual.nii.gz", "reconstruction.nii.gz", "heatmap.nii.gz",
            "panels.png", "report.html");

    private BatchWorker() {
    }

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        long delay = Long.parseLong(args[1]);
        String token = ProcessHandle.current().pid() + "-" + System.nanoTime();
        PrintStream o = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        o.println("TOKEN " + token);
        List<Batch.Scan> scans = new ArrayList<>();
        for (int i = 2; i < args.length; i++) {
            scans.add(new Batch.Scan(args[i], Path.of("/nonexistent-input", args[i] + ".nii.gz"), null));
        }
        Batch.ScanWriter writer = (scan, folder, progress) -> {
            Files.createDirectories(folder);
            for (String f : FILES) {
                org.ctcf.io.AtomicFiles.write(folder.resolve(f), (token + " " + scan.id()).getBytes(
                        StandardCharsets.UTF_8));
                sleep(delay);
            }
            org.ctcf.io.AtomicFiles.write(folder.resolve(ExplanationWriter.SUMMARY), BatchTest.summary(token,
                    FILES.toArray(String[]::new)).getBytes(StandardCharsets.UTF_8));
            return null;
        };
        Batch.run(scans, out, writer, Shard.ALL, new Batch.Listener() {
            @Override
            public void scanDone(int index, int count, Batch.Scan scan, Batch.Outcome outcome,
                    ExplanationSummary summary, Batch.Failure failure) {
                o.println(outcome + " " + scan.id() + (failure != null ? " " + failure.message() : ""));
            }
        });
        o.println("END");
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
