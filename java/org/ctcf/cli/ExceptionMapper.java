package org.ctcf.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;

import org.ctcf.core.CtcfException;
import org.ctcf.io.OutputException;
import org.ctcf.io.VolumeFormatException;

import picocli.CommandLine;

/** The one place where an exception becomes an exit code and a message on stderr. */
final class ExceptionMapper implements CommandLine.IExecutionExceptionHandler {
    private final GlobalOptions global;

    ExceptionMapper(GlobalOptions global) {
        this.global = global;
    }

    static ExitCode exitCodeOf(Throwable e) {
        if (e instanceof CtcfException ce) {
            return switch (ce.code()) {
                case INVALID_ARGUMENT, UNSUPPORTED -> ExitCode.INVALID_ARGUMENT;
                case OUT_OF_MEMORY -> ExitCode.OUT_OF_MEMORY;
                case CANCELLED -> ExitCode.CANCELLED;
                case LIBRARY_UNAVAILABLE, ABI_MISMATCH -> ExitCode.NATIVE_UNAVAILABLE;
                case TORCH, INTERNAL, UNKNOWN -> ExitCode.KERNEL;
                default -> ExitCode.INTERNAL;
            };
        }
        if (e instanceof OutputException) {
            return ExitCode.OUTPUT;
        }
        if (e instanceof IOException) {
            return ExitCode.BAD_INPUT;
        }
        if (e instanceof IllegalArgumentException) {
            return ExitCode.INVALID_ARGUMENT;
        }
        if (e instanceof OutOfMemoryError) {
            return ExitCode.OUT_OF_MEMORY;
        }
        return ExitCode.INTERNAL;
    }

    static String messageOf(Throwable e) {
        if (e instanceof NoSuchFileException n) {
            return n.getFile() + ": no such file";
        }
        if (e instanceof AccessDeniedException a) {
            return a.getFile() + ": permission denied";
        }
        if (e instanceof VolumeFormatException || e instanceof CtcfException || e instanceof OutputException) {
            return e.getMessage();
        }
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    @Override
    public int handleExecutionException(Exception e, CommandLine cmd, CommandLine.ParseResult parseResult) {
        PrintWriter err = cmd.getErr();
        ExitCode code = exitCodeOf(e);
        if (code == ExitCode.CANCELLED && CancelOnExit.signalled()) {
            return code.code();  // the shutdown hook says it, once
        }
        err.println("ctcf: error: " + org.ctcf.core.Text.printableLines(messageOf(e)));
        if (global.stacktrace) {
            e.printStackTrace(err);
        } else if (code == ExitCode.INTERNAL || code == ExitCode.KERNEL) {
            err.println("(run with --stacktrace for details)");
        }
        err.flush();
        return code.code();
    }
}
