package org.ctcf.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.ctcf.TestPaths;
import org.ctcf.api.Kernel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ctcf explain} as a real process: SIGINT and SIGTERM end it as "cancelled" with the exit codes README lists
 * (130 and 143: 128 + the signal) and leave no output; the files it writes follow the umask as any program's do,
 * and its output has no native log lines.
 */
class ProcessExitTest {
    @TempDir
    Path tmp;

    private List<String> explain(Path card, Path out, String... more) {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "explain", TestPaths.sample().toString(),
                "--autoencoder", TestPaths.vqgan("tiny_vqgan.safetensors").toString(), "--resize", "16",
                "--classifier", card.toString(), "-o", out.toString()));
        cmd.addAll(List.of(more));
        return cmd;
    }

    private Path card() throws IOException {
        try (Kernel k = Kernel.open()) {
            return org.ctcf.report.TinyExplainModels.middleSlicesCard(tmp, k);
        }
    }

    @Test
    void sigintAndSigtermCancelWithTheDocumentedCodesAndLeaveNoOutput() throws Exception {
        Path card = card();
        for (String signal : List.of("INT", "TERM")) {
            Path out = tmp.resolve("out-" + signal);
            Path log = tmp.resolve(signal + ".out");
            Path err = tmp.resolve(signal + ".err");
            // a long search (no fixed range, many steps): the signal comes in the middle of it
            Process p = new ProcessBuilder(explain(card, out, "--chunk", "20", "--max-steps", "1000000", "--step",
                    "0.0001", "--pred-diff", "2", "--pixel-cap", "100", "--progress", "json"))
                    .redirectOutput(log.toFile()).redirectError(err.toFile()).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!(Files.exists(err) && Files.readString(err).contains("SEARCH_STEP"))
                    && System.nanoTime() < deadline && p.isAlive()) {
                Thread.sleep(100);
            }
            assertThat(p.isAlive()).as(Files.readString(err)).isTrue();
            new ProcessBuilder("kill", "-" + signal, String.valueOf(p.pid())).start().waitFor();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            int want = signal.equals("INT") ? ExitCode.CANCELLED.code() : 143;
            assertThat(p.exitValue()).as(Files.readString(err)).isEqualTo(want);
            assertThat(Files.readString(err)).contains("cancelled");
            assertThat(out).doesNotExist();
            try (Stream<Path> s = Files.list(tmp)) {
                assertThat(s.map(f -> f.getFileName().toString())).noneMatch(n -> n.contains(".partial"));
            }
        }
    }

    @Test
    void outputsFollowTheUmask() throws Exception {
        Path card = card();
        for (String umask : List.of("022", "077")) {
            Path out = tmp.resolve("umask" + umask);
            String cmd = "umask " + umask + " && exec " + String.join(" ", explain(card, out, "--chunk", "60",
                    "--fix-range", "-30,0", "--frames", "2", "--no-report").stream().map(a -> "'" + a + "'")
                    .toList());
            Process p = new ProcessBuilder("sh", "-c", cmd).redirectErrorStream(true)
                    .redirectOutput(tmp.resolve("umask.log").toFile()).start();
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(Files.readString(tmp.resolve("umask.log"))).isZero();
            // the native side logs nothing either (NNPACK is off: "Could not initialize NNPACK!" on other CPUs)
            assertThat(Files.readString(tmp.resolve("umask.log"))).doesNotContain("NNPACK");
            String file = umask.equals("022") ? "rw-r--r--" : "rw-------";
            String dir = umask.equals("022") ? "rwxr-xr-x" : "rwx------";
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(out))).isEqualTo(dir);
            try (Stream<Path> s = Files.list(out)) {
                for (Path f : s.toList()) {
                    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).as(f.toString())
                            .isEqualTo(file);
                }
            }
        }
    }
}
