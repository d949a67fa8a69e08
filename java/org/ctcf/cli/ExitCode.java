package org.ctcf.cli;

/**
 * The CLI's exit codes, one table. Scripts may rely on these numbers; README.md lists them.
 */
public enum ExitCode {
    OK(0, "success"),
    INTERNAL(1, "unexpected internal error (a bug: please report it with --stacktrace output)"),
    USAGE(2, "bad command line: unknown option, missing or malformed argument"),
    BAD_INPUT(3, "an input file is missing, unreadable or malformed"),
    KERNEL(4, "the native kernel failed (LibTorch error)"),
    NATIVE_UNAVAILABLE(5, "the native library could not be loaded (missing, wrong ABI, native access denied)"),
    INVALID_ARGUMENT(6, "an option value is invalid for this input (e.g. sizes, device)"),
    OUT_OF_MEMORY(7, "out of memory"),
    CANCELLED(130, "cancelled or interrupted");

    private final int code;
    private final String meaning;

    ExitCode(int code, String meaning) {
        this.code = code;
        this.meaning = meaning;
    }

    public int code() {
        return code;
    }

    public String meaning() {
        return meaning;
    }
}
