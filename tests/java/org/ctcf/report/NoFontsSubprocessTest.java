package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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
 * A real machine without fonts: a JVM started with every font folder hidden (a private mount namespace; needs root
 * and {@code unshare}, else skipped) and an empty fontconfig configuration. An empty {@code FONTCONFIG_FILE} alone
 * does not do it where fonts are installed: the JDK then scans /usr/share/fonts itself and still draws text.
 */
class NoFontsSubprocessTest {
    @TempDir
    Path tmp;

    /** Run in the JVM without fonts: asks whether plots can be drawn and tries to write one. */
    public static final class Probe {
        public static void main(String[] args) throws IOException {
            Path out = Path.of(args[0]);
            boolean wrote = PlotWriter.write(PlotWriter.lambdaPrediction("t", new double[] {0, -10},
                    new double[] {0.8, 0.3}, 0.8), out);
            System.out.println("available=" + PlotWriter.available() + " wrote=" + wrote + " exists="
                    + Files.exists(out));
            if (!wrote) {
                System.out.println(PlotWriter.skippedMessage(List.of(out.getFileName().toString())));
            }
            // a panel is still drawn: its orientation letters and slice captions need no font
            try (var v = DisplayTest.marker(DisplayTest.ras(), -10, 0)) {
                PanelWriter.write(v, v, v, new int[] {2}, null, null, Display.RADIOLOGICAL,
                        out.resolveSibling("panel.png"));
            }
        }
    }

    private static boolean canUnshare() {
        try {
            Process p = new ProcessBuilder("unshare", "-m", "--propagation", "private", "true")
                    .redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Test
    void withoutFontsTheJvmDoesNotCrashWritesNoPlotAndSaysWhy() throws Exception {
        assumeTrue(canUnshare(), "needs root and unshare (a private mount namespace) to hide the fonts");
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Path conf = tmp.resolve("fonts.conf");
        Files.writeString(conf, "<?xml version=\"1.0\"?>\n<fontconfig><cachedir>" + tmp.resolve("fc-cache")
                + "</cachedir></fontconfig>\n");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> hide = new ArrayList<>();
        for (String d : List.of("/usr/share/fonts", "/usr/local/share/fonts", "/usr/X11R6/lib/X11/fonts",
                System.getProperty("java.home") + "/lib/fonts")) {
            if (Files.isDirectory(Path.of(d))) {
                hide.add("mount --bind '" + empty + "' '" + d + "'");
            }
        }
        Path plot = tmp.resolve("plot.png");
        String script = String.join(" && ", hide) + (hide.isEmpty() ? "" : " && ") + "exec '" + java
                + "' -Djava.awt.headless=true -cp \"$CP\" 'org.ctcf.report.NoFontsSubprocessTest$Probe' '" + plot + "'";
        ProcessBuilder pb = new ProcessBuilder("unshare", "-m", "--propagation", "private", "sh", "-c", script);
        pb.environment().put("CP", System.getProperty("java.class.path"));
        pb.environment().put("FONTCONFIG_FILE", conf.toString());
        pb.environment().put("HOME", tmp.toString());  // no ~/.fonts
        Path log = tmp.resolve("log.txt");
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        Process p = pb.start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(output).isZero();
        assertThat(output).contains("available=false wrote=false exists=false")
                .contains("plots need text, and this machine cannot draw any")
                .contains("apt-get install fontconfig fonts-dejavu-core").doesNotContain("Exception in thread");
        assertThat(plot).doesNotExist();
        java.awt.image.BufferedImage panel = javax.imageio.ImageIO.read(tmp.resolve("panel.png").toFile());
        DisplayTest.Tile t = DisplayTest.firstTile(DisplayTest.N, DisplayTest.N);
        int s = AxialView.labelScale(t.w());
        assertThat(DisplayTest.glyphAt(panel, 'R', 2 * s, t.y() + (t.h() - Glyphs.HEIGHT * s) / 2, s))
                .as("the R on the panel's left edge, drawn without fonts").isTrue();
        assertThat(DisplayTest.centroid(panel, t.x(), t.y(), t.w(), t.h())[0]).isGreaterThan(0.75);
    }
}
