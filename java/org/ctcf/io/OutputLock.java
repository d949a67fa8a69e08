package org.ctcf.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A lock on one output name in a folder, {@code DIR/.NAME.lock}, held by a live process: the operating system
 * releases it when the process ends, however it ends (SIGKILL included), so a lock that can be taken means that no
 * live ctcf is writing that output. Whoever holds it may remove the staged folders an earlier, dead writer of that
 * name left; nobody removes a live writer's.
 *
 * <p>The lock is a POSIX record lock, which a process loses when it closes <em>any</em> descriptor of the file: so a
 * process opens each lock file once (threads of one JVM are kept apart by a table, never by a second descriptor)
 * and never reads it. Where {@code /proc/self/fd} tells whether the locked file is still the one at the path (Linux),
 * the lock file is removed on {@link #close()}, and a locker that finds it locked a file just removed tries again;
 * elsewhere lock files stay. On a file system without locks (some network mounts) {@link #tryAcquire} says so with
 * {@link Unsupported}; callers then do without, and remove nothing.
 */
public final class OutputLock implements AutoCloseable {
    private static final String SUFFIX = ".lock";
    private static final Path PROC_FD = Path.of("/proc/self/fd");
    /** The lock files this JVM has open: one descriptor per file, whichever thread. */
    private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;
    private final boolean removeOnClose;
    private boolean closed;

    private OutputLock(Path file, FileChannel channel, FileLock lock, boolean removeOnClose) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
        this.removeOnClose = removeOnClose;
    }

    /** The lock file's name of output {@code name}: {@code .NAME.lock}. */
    public static String fileName(String name) {
        return "." + name + SUFFIX;
    }

    /** Thrown where the file system has no working locks. */
    public static final class Unsupported extends IOException {
        Unsupported(Path file, Throwable cause) {
            super(file + ": the file system does not lock files (" + cause.getMessage() + ")", cause);
        }
    }

    /**
     * Takes the lock of {@code name} in {@code dir} (created if needed) without waiting: empty when another
     * process or thread holds it.
     */
    public static Optional<OutputLock> tryAcquire(Path dir, String name) throws IOException {
        Objects.requireNonNull(name, "name");
        Files.createDirectories(dir);
        // the real path: one key per file whatever the spelling (a link on the way, "..") for this JVM's table, and
        // what /proc/self/fd shows
        Path file = dir.toRealPath().resolve(fileName(name));
        boolean proc = Files.isDirectory(PROC_FD);
        for (int attempt = 0; attempt < 100; attempt++) {
            if (!OPEN.add(file)) {
                return Optional.empty();  // another thread of this JVM holds it (or is taking it)
            }
            FileChannel ch = null;
            try {
                ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock l;
                try {
                    l = ch.tryLock();
                } catch (OverlappingFileLockException e) {
                    l = null;
                } catch (java.nio.channels.ClosedByInterruptException e) {
                    throw e;  // the thread was interrupted: not the file system's failing
                } catch (IOException e) {
                    throw new Unsupported(file, e);
                }
                if (l == null) {
                    close(ch, file);
                    return Optional.empty();
                }
                if (!proc || namesTheOpenFile(file)) {
                    return Optional.of(new OutputLock(file, ch, l, proc));
                }
                // the holder before us removed the file after we opened it: we locked a file nobody sees any more
                l.release();
                close(ch, file);
            } catch (Unsupported e) {
                close(ch, file);
                throw e;
            } catch (IOException e) {
                close(ch, file);
                throw OutputException.of(file, e);
            } catch (RuntimeException e) {
                close(ch, file);
                throw e;
            }
        }
        throw new IOException(file + ": the lock file keeps changing under ctcf (another process removing it?)");
    }

    private static void close(FileChannel ch, Path file) throws IOException {
        try {
            if (ch != null && ch.isOpen()) {
                ch.close();
            }
        } finally {
            OPEN.remove(file);
        }
    }

    /**
     * Whether this process's descriptor of {@code file} (there is one: {@link #OPEN}) is of the file the path names
     * now: the kernel shows a removed file's descriptor as "PATH (deleted)".
     */
    private static boolean namesTheOpenFile(Path file) throws IOException {
        String want = file.toString();
        try (var s = Files.list(PROC_FD)) {
            for (Path fd : s.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).toString().equals(want)) {
                        return true;
                    }
                } catch (IOException e) {
                    // a descriptor closed meanwhile (the listing's own, another thread's)
                }
            }
        }
        return false;
    }

    /** The lock's file. */
    public Path file() {
        return file;
    }

    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (removeOnClose) {
                Files.deleteIfExists(file);  // while still held: a new locker then creates a fresh file
            }
        } finally {
            try {
                lock.release();
                channel.close();
            } finally {
                OPEN.remove(file);
            }
        }
    }
}
