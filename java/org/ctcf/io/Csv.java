package org.ctcf.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.ctcf.core.Text;

/**
 * ctcf's one CSV dialect, RFC 4180, for everything it writes (failures.csv, results.csv) and reads (manifests,
 * its own results): fields separated by commas, a field double-quoted when it holds a comma, a quote, a line break
 * or surrounding spaces ({@code ""} for a quote inside), records ended by LF (CRLF is read too).
 *
 * <p>Text cells from files (paths, DICOM descriptions, error messages) are written so that no reader is fooled:
 * control characters become {@code \xHH} ({@link Text#printable}), and a cell that a spreadsheet would take for a
 * formula (starting with {@code = + - @}) gets a leading apostrophe, as OWASP advises; so does a cell that starts
 * with an apostrophe, so that {@link #parse} gives the text back exactly. Numbers are written as they are.
 */
public final class Csv {
    private Csv() {
    }

    /** One record: its fields and the line it starts on (1-based). */
    public record Record(int line, List<String> fields) {
        public Record {
            fields = List.copyOf(fields);
        }
    }

    /** A text cell: control characters escaped, a formula's first character neutralised, quoted if need be. */
    public static String text(String s) {
        String t = Text.printable(s == null ? "" : s);
        if (!t.isEmpty() && "=+-@'".indexOf(t.charAt(0)) >= 0) {
            t = "'" + t;
        }
        return raw(t);
    }

    /** A cell written as it is (a number, a column name), quoted if it holds a comma, a quote or a line break. */
    public static String raw(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0
                && s.strip().equals(s)) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }

    /** The record of encoded cells ({@link #text}, {@link #raw}), with its line end. */
    public static String row(List<String> cells) {
        return String.join(",", cells) + "\n";
    }

    /** As {@link #row(List)}. */
    public static String row(String... cells) {
        return row(List.of(cells));
    }

    /**
     * The records of {@code text} (the content of {@code file}, named in errors as {@code FILE:LINE: what}). A
     * quoted field may hold commas, quotes and line breaks; an unquoted one is stripped of surrounding spaces. A
     * leading byte-order mark is dropped; with {@code comments}, blank lines and lines whose first character is
     * {@code #} are skipped. A text cell's neutralising apostrophe is removed again.
     */
    public static List<Record> parse(Path file, String text, boolean comments) throws IOException {
        List<Record> out = new ArrayList<>();
        int n = text.length();
        int i = text.startsWith("\uFEFF") ? 1 : 0;
        int line = 1;
        while (i < n) {
            int lineStart = i;
            int eol = text.indexOf('\n', i);
            String whole = text.substring(i, eol < 0 ? n : eol);
            if (comments && (whole.isBlank() || whole.strip().startsWith("#"))) {
                i = eol < 0 ? n : eol + 1;
                line++;
                continue;
            }
            if (!comments && whole.isEmpty()) {
                i = eol < 0 ? n : eol + 1;
                line++;
                continue;
            }
            int startLine = line;
            List<String> fields = new ArrayList<>();
            while (true) {
                while (i < n && text.charAt(i) == ' ') {
                    i++;
                }
                String field;
                if (i < n && text.charAt(i) == '"') {
                    StringBuilder f = new StringBuilder();
                    i++;
                    while (true) {
                        if (i >= n) {
                            throw new IOException(file + ":" + startLine + ": a quoted field is not closed");
                        }
                        char c = text.charAt(i++);
                        if (c == '"') {
                            if (i < n && text.charAt(i) == '"') {
                                f.append('"');
                                i++;
                            } else {
                                break;
                            }
                        } else {
                            if (c == '\n') {
                                line++;
                            }
                            f.append(c);
                        }
                    }
                    while (i < n && (text.charAt(i) == ' ' || text.charAt(i) == '\t' || text.charAt(i) == '\r')) {
                        i++;
                    }
                    if (i < n && text.charAt(i) != ',' && text.charAt(i) != '\n') {
                        throw new IOException(file + ":" + line + ": text after a quoted field");
                    }
                    field = f.toString();
                } else {
                    int j = i;
                    while (j < n && text.charAt(j) != ',' && text.charAt(j) != '\n') {
                        j++;
                    }
                    field = text.substring(i, j).strip();
                    i = j;
                }
                fields.add(restore(field));
                if (i >= n || text.charAt(i) == '\n') {
                    i++;
                    line++;
                    break;
                }
                i++;  // the comma
            }
            if (i <= lineStart) {
                throw new IllegalStateException("no progress at " + file + ":" + startLine);
            }
            out.add(new Record(startLine, fields));
        }
        return out;
    }

    private static String restore(String field) {
        return field.length() >= 2 && field.charAt(0) == '\'' && "=+-@'".indexOf(field.charAt(1)) >= 0
                ? field.substring(1) : field;
    }
}
