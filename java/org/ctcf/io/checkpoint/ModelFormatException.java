package org.ctcf.io.checkpoint;

import java.io.IOException;
import java.nio.file.Path;

/** A model or checkpoint file that cannot be used; the message names the file, and the key where one is at fault. */
public class ModelFormatException extends IOException {
    private static final long serialVersionUID = 1L;
    private final transient Path file;

    public ModelFormatException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    public ModelFormatException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    public Path file() {
        return file;
    }

    /** The pickle stream asked for something that could run code; it was refused and nothing was executed. */
    public static final class UnsafePickleException extends ModelFormatException {
        private static final long serialVersionUID = 1L;

        public UnsafePickleException(Path file, String problem) {
            super(file, problem);
        }
    }
}
