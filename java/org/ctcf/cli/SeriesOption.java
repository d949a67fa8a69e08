package org.ctcf.cli;

import org.ctcf.io.ReadOptions;

import picocli.CommandLine.Option;

/** {@code --series UID|NUMBER}: picks one series of a DICOM folder or DICOMDIR (a picocli mixin). */
final class SeriesOption {
    @Option(names = "--series", paramLabel = "UID|NUMBER",
            description = "For a DICOM folder or DICOMDIR with several series: the Series Instance UID or Series Number"
                    + " to read (without it, several series are listed and the command stops).")
    String series;

    ReadOptions readOptions() {
        return ReadOptions.defaults().withSeries(series);
    }
}
