package org.ctcf.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * The CLI's exit codes, one table: {@code ctcf --help} prints it ({@link #helpLines()}). Scripts may rely on these
 * numbers; README.md lists them.
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
    SCANS_FAILED(8, "a batch (explain --manifest/--folder/several inputs, evaluate) ran to its end, but some"
            + " scans failed (listed in OUT/failures.csv; evaluate: summary.json's \"failed\")"),
    OUTPUT(9, "an output could not be written (disk full, permission denied, I/O error; the message names the"
            + " path); nothing half-written is left under an output's name"),
    CHECK_FAILED(10, "a check ran to its end and found a difference (check-reference: not exactly one antialias"
            + " setting reproduces the logged numbers)"),
    CANCELLED(130, "cancelled: Ctrl-C (SIGINT) gives 130, SIGTERM 143 (128 + the signal, as the shell reports it);"
            + " outputs in progress are removed");

    private static final int HELP_WIDTH = 79;

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

    /**
     * The table as the footer of {@code ctcf --help}: one entry per code in numeric order, the meaning wrapped
     * under itself before the help's 80 columns (where picocli would wrap it flush left).
     */
    static String[] helpLines() {
        List<String> lines = new ArrayList<>();
        for (ExitCode c : Arrays.stream(values()).sorted(Comparator.comparingInt(ExitCode::code)).toList()) {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  %3d ", c.code));
            for (String word : c.meaning.split(" ")) {
                if (line.length() + 1 + word.length() > HELP_WIDTH && !line.toString().isBlank()) {
                    lines.add(line.toString());
                    line = new StringBuilder("      ");
                }
                line.append(' ').append(word);
            }
            lines.add(line.toString());
        }
        return lines.toArray(String[]::new);
    }
}
