package org.ctcf.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Files that appear whole or not at all: the bytes go to a hidden temporary sibling ({@code .NAME…partial}, same
 * directory, so the rename stays on one file system) which is renamed over the final name at the end. An
 * interrupted or failed write leaves no file that looks complete, and the temporary file is removed.
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Writes the file's content to a stream (buffered; closed by {@link #write(Path, Body)}). */
    @FunctionalInterface
    public interface Body {
        void writeTo(OutputStream out) throws IOException;
    }

    /** Writes {@code file} (creating its directory) from {@code body}, atomically where the file system allows. */
    public static void write(Path file, Body body) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".partial");
        try {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
                body.writeTo(out);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Writes {@code data} to {@code file} as {@link #write(Path, Body)} does. */
    public static void write(Path file, byte[] data) throws IOException {
        write(file, out -> out.write(data));
    }

    /** Removes {@code p} and, for a folder, everything below it (links are removed, not followed); none: nothing. */
    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }
}
