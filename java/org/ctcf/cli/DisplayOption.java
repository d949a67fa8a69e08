package org.ctcf.cli;

import org.ctcf.report.Display;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/** {@code --display}: the convention every image (and the report's viewer) of a command is drawn in. */
final class DisplayOption {
    @Option(names = "--display", paramLabel = "CONVENTION", defaultValue = "radiological", converter = Parse.class,
            description = {"radiological (the patient's right on the screen's left, anterior up; the default) or "
                    + "neurological (the patient's right on the screen's right). Recorded in summary.json."})
    Display display = Display.RADIOLOGICAL;

    /** Parses with {@link Display#parse}, whose message lists the choices. */
    static final class Parse implements ITypeConverter<Display> {
        @Override
        public Display convert(String value) {
            try {
                return Display.parse(value);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }
}
