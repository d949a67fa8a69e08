package org.ctcf.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ctcf's one CSV dialect against an independent reader (Python's csv module) and spreadsheet injection: quoting,
 * formula cells, control characters, and a round trip through ctcf's own parser.
 */
class CsvTest {
    @TempDir
    Path tmp;

    private static final List<String> NASTY = List.of("\"quoted\" start", "a,b", "=HYPERLINK(\"http://x\",\"y\")",
            "+1", "-2+3", "@SUM(A1)", "'=already", "line\nbreak", "esc\u001b[31mred", " padded ", "plain",
            "tab\tinside", "");

    @Test
    void nastyTextSurvivesAndReadsBackAsTextInPythonsCsvModule() throws Exception {
        StringBuilder b = new StringBuilder(Csv.row("n", "text"));
        for (int i = 0; i < NASTY.size(); i++) {
            b.append(Csv.row(String.valueOf(i), Csv.text(NASTY.get(i))));
        }
        Path f = tmp.resolve("t.csv");
        Files.writeString(f, b.toString());
        // python's reader: the same number of rows and fields; no cell starts with a formula character
        Process p = new ProcessBuilder("python3", "-c", """
                import csv, sys
                rows = list(csv.reader(open(sys.argv[1], newline='')))
                for r in rows[1:]:
                    assert len(r) == 2, r
                    print(repr(r[1]))
                """, f.toString()).redirectErrorStream(true).start();
        List<String> out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(String.join("\n", out)).isZero();
        assertThat(out).hasSize(NASTY.size());
        for (String cell : out) {
            String v = cell.substring(1, cell.length() - 1);
            assertThat(v).as(cell).doesNotStartWith("=").doesNotStartWith("+").doesNotStartWith("-")
                    .doesNotStartWith("@").doesNotContain("\u001b");
        }
        assertThat(out.get(0)).isEqualTo("'\"quoted\" start'");
        assertThat(out.get(2)).isEqualTo("'\\'=HYPERLINK(\"http://x\",\"y\")'");
        assertThat(out.get(8)).contains("\\\\x1b");  // ESC written as \x1b
        // ctcf's own parser gives the text back (control characters as escaped)
        List<Csv.Record> back = Csv.parse(f, Files.readString(f), false);
        List<String> got = new ArrayList<>();
        back.subList(1, back.size()).forEach(r -> got.add(r.fields().get(1)));
        List<String> want = NASTY.stream().map(org.ctcf.core.Text::printable).toList();
        for (int i = 0; i < want.size(); i++) {
            assertThat(got.get(i)).as("row %d", i).isEqualTo(want.get(i));
        }
    }

    @Test
    void quotedFieldsMaySpanLinesAndErrorsNameFileAndLine() throws IOException {
        Path f = tmp.resolve("m.csv");
        List<Csv.Record> r = Csv.parse(f, "\uFEFFvolume,id\n# a comment\n\n\"a\nb.nii\",x\n c.nii , \"y\"\"z\"\n",
                true);
        assertThat(r).hasSize(3);
        assertThat(r.get(1).fields()).containsExactly("a\nb.nii", "x");
        assertThat(r.get(1).line()).isEqualTo(4);
        assertThat(r.get(2).fields()).containsExactly("c.nii", "y\"z");
        assertThat(r.get(2).line()).isEqualTo(6);
        assertThatThrownBy(() -> Csv.parse(f, "volume\n\"open\n", true)).hasMessage(f + ":2: a quoted field is not closed");
        assertThatThrownBy(() -> Csv.parse(f, "volume\n\"a\"b\n", true)).hasMessage(f + ":2: text after a quoted field");
    }
}
