package org.ctcf.io;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;

/**
 * An output that could not be written (disk full, permission, an I/O error), naming the path ctcf was writing: not a
 * problem of the input. The CLI gives it an exit code of its own. Whatever was being written was removed again (its
 * temporary name) or was never visible under its final name.
 */
public class OutputException extends IOException {
    private final Path path;

    public OutputException(Path path, String message, Throwable cause) {
        super(path + ": " + message, cause);
        this.path = path;
    }

    /** The path being written. */
    public Path path() {
        return path;
    }

    /**
     * {@code e}, an I/O failure while writing {@code path}, as an OutputException naming it (an OutputException as
     * it is): "cannot write PATH: No space left on device".
     */
    public static OutputException of(Path path, IOException e) {
        if (e instanceof OutputException o) {
            return o;
        }
        String why = e instanceof FileSystemException f && f.getReason() != null ? f.getReason()
                : e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        return new OutputException(path, "cannot write: " + why, e);
    }
}
