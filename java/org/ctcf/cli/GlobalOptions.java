package org.ctcf.cli;

import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.Logger;

import picocli.CommandLine.Option;

/** Options every command accepts: verbosity, progress output, input confinement and stack traces. */
public final class GlobalOptions {
    @Option(names = {"-v", "--verbose"}, description = "Log what ctcf does (native library search, timings).",
            scope = picocli.CommandLine.ScopeType.INHERIT)
    boolean verbose;

    @Option(names = {"-q", "--quiet"}, description = "Print nothing but errors.",
            scope = picocli.CommandLine.ScopeType.INHERIT)
    boolean quiet;

    /** null: not given (then {@code --quiet} means none, else auto). */
    @Option(names = "--progress", paramLabel = "MODE", converter = ProgressPrinter.Mode.Converter.class,
            description = "Progress of long work: auto (a bar on a terminal, else one line per chunk or step), bar, "
                    + "plain, json (one JSON object per line on stderr) or none. Default: auto, none with --quiet.",
            scope = picocli.CommandLine.ScopeType.INHERIT)
    ProgressPrinter.Mode progress;

    @Option(names = "--confine-inputs", description = "Refuse files that an input's header references outside its "
            + "own folder (a MetaImage ElementDataFile such as /etc/passwd or ../../x, a DICOMDIR's referenced file "
            + "through a symbolic link), for inputs from untrusted hands. Default: off.",
            scope = picocli.CommandLine.ScopeType.INHERIT)
    boolean confineInputs;

    @Option(names = "--max-voxels", paramLabel = "N", description = "The most voxels one input, or its preprocessed "
            + "volume, may have (default 268435456 = 2^28: a 512 x 512 x 1024 scan, 1 GiB as float32); bounds what a "
            + "file's header can make ctcf allocate.", scope = picocli.CommandLine.ScopeType.INHERIT)
    Long maxVoxels;

    @Option(names = "--allow-modality", paramLabel = "MODALITY", split = ",", description = "Read DICOM series of "
            + "this Modality (e.g. MR) with any classifier, whose card says what it reads (CT by default): by default "
            + "another modality is refused.", scope = picocli.CommandLine.ScopeType.INHERIT)
    java.util.List<String> allowModality;

    @Option(names = {"-x", "--stacktrace"}, description = "Print the full stack trace of an error.",
            scope = picocli.CommandLine.ScopeType.INHERIT)
    boolean stacktrace;

    private static final Logger CTCF_LOGGER = Logger.getLogger("org.ctcf");

    void applyLogging() {
        if (verbose) {
            CTCF_LOGGER.setLevel(Level.FINE);
            ConsoleHandler h = new ConsoleHandler();
            h.setLevel(Level.FINE);
            CTCF_LOGGER.addHandler(h);
            CTCF_LOGGER.setUseParentHandlers(false);
        } else if (quiet) {
            CTCF_LOGGER.setLevel(Level.SEVERE);
        }
    }
}
