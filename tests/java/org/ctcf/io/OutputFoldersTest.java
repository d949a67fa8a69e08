package org.ctcf.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The crash windows of a replacement: an earlier output set aside by a process that died before renaming the new
 * one in is put back; one that died after is removed; a staged folder is removed; a folder that only looks like an
 * aside (not ctcf's) is left alone. And a lock is exclusive between threads of one JVM.
 */
class OutputFoldersTest {
    @TempDir
    Path tmp;

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private Path folder(String name, String marker) throws IOException {
        Path f = Files.createDirectories(tmp.resolve(name));
        Files.writeString(f.resolve("summary.json"), marker);
        return f;
    }

    @Test
    void anInterruptedReplacementIsUndoneAndAFinishedOneCleanedUp() throws IOException {
        Path out = tmp.resolve("out");
        folder(".out.old-00000000001a", "earlier run");      // died between its two renames
        folder(".out.partial-00000000003c", "half written");  // its new output, staged
        List<OutputFolders.Recovered> r = OutputFolders.recover(out, p -> true);
        assertThat(r).extracting(OutputFolders.Recovered::what).containsExactlyInAnyOrder(
                OutputFolders.Recovered.What.STAGED_REMOVED, OutputFolders.Recovered.What.RESTORED);
        assertThat(names(tmp)).containsExactly("out");
        assertThat(out.resolve("summary.json")).hasContent("earlier run");
        // died after renaming the new output in: the aside goes
        folder(".out.old-00000000005e", "older run");
        OutputFolders.recover(out, p -> true);
        assertThat(names(tmp)).containsExactly("out");
        assertThat(out.resolve("summary.json")).hasContent("earlier run");
        // a folder that merely looks like an aside, not ctcf's: left where it is, even with the target missing
        folder(".mine.old-0123456789ab", "the user's");
        OutputFolders.recover(tmp.resolve("mine"), p -> false);
        assertThat(names(tmp)).containsExactly(".mine.old-0123456789ab", "out");
        // names ctcf does not make are never taken for its own: not a user's ".p1.old-2023" nor the staged folder
        // of another output whose name starts the same (".p1.old-protocol.partial-…" is scan "p1.old-protocol"'s)
        folder(".p1.old-2023", "the user's");
        folder(".p1.partial-draft", "the user's");
        folder(".p1.old-protocol.partial-0123456789ab", "another scan's");
        assertThat(OutputFolders.recover(tmp.resolve("p1"), p -> true)).isEmpty();
        assertThat(names(tmp)).contains(".p1.old-2023", ".p1.partial-draft", ".p1.old-protocol.partial-0123456789ab")
                .doesNotContain("p1");
        assertThat(OutputFolders.stagedName(".p1.old-protocol.partial-0123456789ab")).isEqualTo("p1.old-protocol");
        assertThat(OutputFolders.stagedName(".p1.partial-draft")).isNull();
    }

    @Test
    void aLockIsHeldByOneThreadAtATimeAndItsFileGoesWithIt() throws Exception {
        var a = OutputLock.tryAcquire(tmp, "scan");
        assertThat(a).isPresent();
        var other = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            assertThat(other.submit(() -> OutputLock.tryAcquire(tmp, "scan").isPresent()).get()).isFalse();
            assertThat(OutputLock.tryAcquire(tmp, "scan")).isEmpty();  // not re-entrant either
            assertThat(tmp.resolve(".scan.lock")).exists();
            a.get().close();
            assertThat(tmp.resolve(".scan.lock")).doesNotExist();
            var b = other.submit(() -> OutputLock.tryAcquire(tmp, "scan")).get();
            assertThat(b).isPresent();
            b.get().close();
        } finally {
            other.shutdownNow();
        }
    }

    /** Whether another process (python3's fcntl.lockf, the same POSIX record locks) can take {@code file}'s lock. */
    private static boolean otherProcessCanLock(Path file) throws Exception {
        Process p = new ProcessBuilder("python3", "-c", """
                import fcntl, sys
                f = open(sys.argv[1], 'r+')
                try:
                    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    print('locked')
                except OSError:
                    print('held')
                """, file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        assertThat(p.waitFor()).as(out).isZero();
        return out.equals("locked");
    }

    /**
     * A lock survives a read of the folder it lies in (POSIX drops a process's record locks when it closes any
     * descriptor of the file, and a DICOM folder's scan opens every file it sees: a --dicom-out inside the study
     * keeps its lock there), and a lock taken through a symbolic link works.
     */
    @Test
    void aLockSurvivesAReadOfItsFolderAndWorksThroughALink() throws Exception {
        Path study = org.ctcf.TestPaths.copySampleDicom(tmp.resolve("study"), 3);
        try (OutputLock lock = OutputLock.tryAcquire(study, "ctcf").orElseThrow()) {
            assertThat(otherProcessCanLock(lock.file())).isFalse();
            try (var v = VolumeIO.read(study)) {
                assertThat(v.nz()).isEqualTo(3);
            }
            assertThat(VolumeIO.info(study, ReadOptions.defaults()).detail()).contains("DICOM");
            assertThat(otherProcessCanLock(lock.file())).as("held after the read").isFalse();
        }
        Path link = tmp.resolve("link");
        try {
            Files.createSymbolicLink(link, study);
        } catch (UnsupportedOperationException | IOException e) {
            return;
        }
        try (OutputLock viaLink = OutputLock.tryAcquire(link, "out").orElseThrow()) {
            assertThat(OutputLock.tryAcquire(study, "out")).as("the same file by another spelling").isEmpty();
            assertThat(otherProcessCanLock(study.resolve(".out.lock"))).isFalse();
        }
        assertThat(study.resolve(".out.lock")).doesNotExist();
    }
}
