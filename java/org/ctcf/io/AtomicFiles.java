package org.ctcf.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Files that appear whole or not at all: the bytes go to a hidden temporary sibling ({@code .NAME.RANDOM.partial},
 * same directory, so the rename stays on one file system) which is renamed over the final name at the end. An
 * interrupted or failed write leaves no file that looks complete, and the temporary file is removed; the bytes are
 * forced to the disk before the rename, so a power loss does not leave a short file under the name. Files are
 * created with the process's umask (as any other program's), never narrower. A failure is an
 * {@link OutputException} naming the final path.
 */
public final class AtomicFiles {
    /** The temporary files' suffix. */
    private static final String PARTIAL_SUFFIX = ".partial";
    private static final SecureRandom RANDOM = new SecureRandom();

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
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = dir.resolve("." + file.getFileName() + "." + random() + PARTIAL_SUFFIX);
            // CREATE_NEW with the default permissions: 0666 less the umask (Files.createTempFile would make 0600)
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(tmp,
                    StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                OutputStream out = new BufferedOutputStream(WriteFaults.wrap(file,
                        java.nio.channels.Channels.newOutputStream(ch)), 1 << 16);
                body.writeTo(new java.io.FilterOutputStream(out) {  // a body that closes its stream (a gzip's
                    @Override                                       // finish) must not close the channel
                    public void write(byte[] b, int off, int len) throws IOException {
                        out.write(b, off, len);
                    }

                    @Override
                    public void close() throws IOException {
                        out.flush();
                    }
                });
                out.flush();
                ch.force(false);  // the bytes on disk before the name: a power loss leaves no short file named
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw OutputException.of(file, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException e) {
                    // the write's own failure is the one to report
                }
            }
        }
    }

    /** Writes {@code data} to {@code file} as {@link #write(Path, Body)} does. */
    public static void write(Path file, byte[] data) throws IOException {
        write(file, out -> out.write(data));
    }

    /** 12 random hex digits, for temporary names. */
    public static String random() {
        byte[] b = new byte[6];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /**
     * Removes {@code p} and, for a folder, everything below it (links are removed, not followed); none: nothing.
     * Only for what ctcf made itself (its temporary and staged folders, its own earlier outputs, checked by the
     * caller): ctcf never deletes what it did not create.
     */
    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }
}
