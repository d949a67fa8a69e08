package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real processes on one output folder ({@link BatchWorker}: the batch's locking, staging and commits with a writer
 * that needs no models): twins started together, and processes killed with SIGKILL at random moments and then
 * followed by others. Every committed folder is complete and written by one process; no scan is lost or written
 * twice; nothing hidden is left at the end.
 */
class BatchProcessTest {
    private static final List<String> IDS = List.of("s1", "s2", "s3", "s4", "s5", "s6");

    @TempDir
    Path tmp;

    private record Worker(Process process, Path log) {
        List<String> lines() throws IOException {
            return Files.exists(log) ? Files.readAllLines(log) : List.of();
        }

        String token() throws IOException {
            return lines().stream().filter(l -> l.startsWith("TOKEN ")).map(l -> l.substring(6)).findFirst()
                    .orElse(null);
        }

        Set<String> with(String outcome) throws IOException {
            Set<String> ids = new HashSet<>();
            for (String l : lines()) {
                if (l.startsWith(outcome + " ")) {
                    ids.add(l.split(" ")[1]);
                }
            }
            return ids;
        }

        int finish() throws Exception {
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("worker ends").isTrue();
            return process.exitValue();
        }
    }

    private Worker start(Path out, long delayMs, String name) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                "-Xshare:auto", "-XX:TieredStopAtLevel=1", BatchWorker.class.getName(), out.toString(),
                String.valueOf(delayMs)));
        cmd.addAll(IDS);
        Path log = tmp.resolve(name + ".log");
        Process p = new ProcessBuilder(cmd).redirectOutput(log.toFile())
                .redirectError(tmp.resolve(name + ".err").toFile()).start();
        return new Worker(p, log);
    }

    /** Each scan's folder: complete (its summary and the files it lists), all written by one token; returns them. */
    private static Map<String, String> committed(Path out) throws IOException {
        Map<String, String> byId = new HashMap<>();
        for (String id : IDS) {
            Path f = out.resolve(id);
            if (!Files.exists(f)) {
                continue;
            }
            assertThat(f.resolve(ExplanationWriter.SUMMARY)).as(id).isRegularFile();
            String summary = Files.readString(f.resolve(ExplanationWriter.SUMMARY));
            String token = summary.substring(summary.indexOf(": \"") + 3, summary.indexOf("\", "));
            for (String name : BatchWorker.FILES) {
                assertThat(f.resolve(name)).as(id + "/" + name).hasContent(token + " " + id);
            }
            byId.put(id, token);
        }
        return byId;
    }

    private static Set<String> both(Set<String> a, Set<String> b) {
        Set<String> s = new HashSet<>(a);
        s.retainAll(b);
        return s;
    }

    private static List<String> hidden(Path out) throws IOException {
        try (Stream<Path> s = Files.list(out)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).sorted().toList();
        }
    }

    @Test
    void twinProcessesOnOneFolderWriteEveryScanOnceAndWhole() throws Exception {
        for (int round = 0; round < 6; round++) {
            Path out = tmp.resolve("twins" + round);
            Worker a = start(out, 15, "a" + round);
            Worker b = start(out, 15, "b" + round);
            assertThat(a.finish()).isZero();
            assertThat(b.finish()).isZero();
            Map<String, String> by = committed(out);
            assertThat(by.keySet()).as("round " + round + ": " + a.lines() + b.lines()).containsExactlyInAnyOrderElementsOf(IDS);
            Set<String> byA = a.with("EXPLAINED");
            Set<String> byB = b.with("EXPLAINED");
            assertThat(both(byA, byB)).as("explained by both").isEmpty();
            for (String id : IDS) {
                String writer = by.get(id);
                assertThat(writer).isIn(a.token(), b.token());
                assertThat(writer.equals(a.token()) ? byA : byB).as(id).contains(id);
            }
            assertThat(a.with("FAILED")).isEmpty();
            assertThat(b.with("FAILED")).isEmpty();
            assertThat(hidden(out)).isEmpty();
        }
    }

    @Test
    void processesKilledAtRandomMomentsLoseNoScanAndLeaveNothingHalfDone() throws Exception {
        Random random = new Random(32);
        for (int round = 0; round < 8; round++) {
            Path out = tmp.resolve("kill" + round);
            Worker a = start(out, 20, "ka" + round);
            Worker b = round % 2 == 0 ? start(out, 20, "kb" + round) : null;  // now and then a twin beside it
            Thread.sleep(300 + random.nextInt(900));
            a.process().destroyForcibly();  // SIGKILL: no shutdown hook, no finally
            a.process().waitFor(30, TimeUnit.SECONDS);
            Map<String, String> afterKill = committed(out);  // whatever is committed is whole
            if (b != null) {
                assertThat(b.finish()).isZero();
            }
            Worker c = start(out, 5, "kc" + round);
            assertThat(c.finish()).isZero();
            Map<String, String> by = committed(out);
            assertThat(by.keySet()).as("round " + round).containsExactlyInAnyOrderElementsOf(IDS);
            for (var e : afterKill.entrySet()) {
                assertThat(by.get(e.getKey())).as("a committed folder is never replaced").isEqualTo(e.getValue());
            }
            Set<String> tokens = new HashSet<>(List.of(a.token(), c.token()));
            if (b != null) {
                tokens.add(b.token());
                assertThat(both(b.with("EXPLAINED"), c.with("EXPLAINED"))).as("explained by both").isEmpty();
            }
            for (String id : IDS) {
                assertThat(by.get(id)).isIn(tokens);
                if (by.get(id).equals(c.token())) {
                    assertThat(c.with("EXPLAINED")).contains(id);
                } else {
                    assertThat(c.with("SKIPPED")).contains(id);
                }
            }
            assertThat(hidden(out)).as("no staged folder, aside or lock is left").isEmpty();
        }
    }
}
