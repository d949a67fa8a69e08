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
        folder(".out.old-1a2b", "earlier run");      // died between its two renames
        folder(".out.partial-3c4d", "half written");  // its new output, staged
        List<OutputFolders.Recovered> r = OutputFolders.recover(out, p -> true);
        assertThat(r).extracting(OutputFolders.Recovered::what).containsExactlyInAnyOrder(
                OutputFolders.Recovered.What.STAGED_REMOVED, OutputFolders.Recovered.What.RESTORED);
        assertThat(names(tmp)).containsExactly("out");
        assertThat(out.resolve("summary.json")).hasContent("earlier run");
        // died after renaming the new output in: the aside goes
        folder(".out.old-5e6f", "older run");
        OutputFolders.recover(out, p -> true);
        assertThat(names(tmp)).containsExactly("out");
        assertThat(out.resolve("summary.json")).hasContent("earlier run");
        // a folder that merely looks like an aside, not ctcf's: left where it is, even with the target missing
        folder(".mine.old-notes", "the user's");
        OutputFolders.recover(tmp.resolve("mine"), p -> false);
        assertThat(names(tmp)).containsExactly(".mine.old-notes", "out");
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
}
