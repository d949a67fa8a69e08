package org.ctcf.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import picocli.CommandLine;

/** Every command list in {@code --help} shows each command's summary as a whole sentence, not its first cut line. */
class HelpSummaryTest {
    @Test
    void everyListedSummaryIsAWholeSentence() {
        List<String> checked = new ArrayList<>();
        walk(new CommandLine(new Main()), new ArrayList<>(), checked);
        // the root list and the nested ones (ae, train, bench) were all read
        assertThat(checked).contains("explain", "saliency", "evaluate", "segment", "ae", "ae roundtrip",
                "ae evaluate", "train ae", "train classifier", "train insert-nodule", "bench ae", "bench explain",
                "models", "doctor");
    }

    private static void walk(CommandLine cmd, List<String> path, List<String> checked) {
        Map<String, CommandLine> subs = cmd.getSubcommands();
        if (subs.isEmpty()) {
            return;
        }
        List<String> args = new ArrayList<>(path);
        args.add("--help");
        StringWriter out = new StringWriter();
        int code = Main.run(args.toArray(String[]::new), new PrintWriter(out, true), new PrintWriter(new StringWriter()));
        String where = String.join(" ", args);
        assertThat(code).as(where).isZero();
        Map<String, String> listed = commandList(out.toString());
        assertThat(listed.keySet()).as(where).containsExactlyInAnyOrderElementsOf(subs.keySet());
        for (Map.Entry<String, CommandLine> e : subs.entrySet()) {
            String name = e.getKey();
            String shown = listed.get(name);
            String what = (path.isEmpty() ? "" : String.join(" ", path) + " ") + name;
            assertThat(shown).as("summary of %s", what).endsWith(".").doesNotEndWith("..")
                    .matches(s -> Character.isUpperCase(s.charAt(0)), "starts with a capital");
            assertThat(shown).as("summary of %s is its whole first line", what).isEqualTo(firstLine(e.getValue()));
            checked.add(what);
            List<String> deeper = new ArrayList<>(path);
            deeper.add(name);
            walk(e.getValue(), deeper, checked);
        }
    }

    /** The summary picocli lists: the header's first line, else the description's. */
    private static String firstLine(CommandLine c) {
        String[] header = c.getCommandSpec().usageMessage().header();
        String[] d = header.length > 0 ? header : c.getCommandSpec().usageMessage().description();
        return d.length == 0 ? "" : d[0].strip().replaceAll("\\s+", " ");
    }

    /** name -> summary (wrapped lines joined) of the "Commands:" section of a help text. */
    static Map<String, String> commandList(String help) {
        Map<String, String> m = new LinkedHashMap<>();
        String[] lines = help.split("\\R");
        int i = 0;
        while (i < lines.length && !lines[i].equals("Commands:")) {
            i++;
        }
        assertThat(i).as("a Commands: section in%n%s", help).isLessThan(lines.length);
        String current = null;
        for (i++; i < lines.length && !lines[i].isBlank(); i++) {
            String l = lines[i];
            if (l.matches(" {2}\\S.*")) {
                String[] nameAndText = l.strip().split("\\s+", 2);
                current = nameAndText[0];
                m.put(current, nameAndText.length > 1 ? nameAndText[1].strip() : "");
            } else if (current != null) {
                m.put(current, (m.get(current) + " " + l.strip()).strip());
            }
        }
        return m;
    }

    @Test
    void theParserJoinsWrappedSummariesAndSeesACutOne() {
        Map<String, String> m = commandList("""
                Usage: ctcf
                Commands:
                  info        Show a volume's format, dims, spacing, orientation, value range
                                and affine.
                  explain     Explain a classifier's score on a CT volume with Latent Shift.
                                Defaults: the shipped autoencoder and

                Exit codes:
                """);
        assertThat(m).containsEntry("info", "Show a volume's format, dims, spacing, orientation, value range and affine.")
                .containsEntry("explain", "Explain a classifier's score on a CT volume with Latent Shift. Defaults: the "
                        + "shipped autoencoder and");
        assertThat(m.get("explain")).doesNotEndWith(".");
    }

    @Test
    void aCommandsOwnHelpKeepsItsLongDescription() {
        StringWriter out = new StringWriter();
        Main.run(new String[] {"explain", "--help"}, new PrintWriter(out, true), new PrintWriter(new StringWriter()));
        String text = out.toString().replaceAll("\\s+", " ");
        assertThat(text).contains("Explain a classifier's score on a CT volume with Latent Shift.")
                .contains("a chunk sweep with chunks of 16 slices").contains("report.html");
    }
}
