package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import javax.imageio.ImageIO;

import org.ctcf.TestPaths;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.core.Volume;
import org.ctcf.io.NiftiWriter;
import org.ctcf.io.VolumeIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * report.html in headless Chromium (Debian's chromium, the flags the issue names): the page loads with no console
 * error, the bundled NiiVue viewer reports its volumes loaded, and a screenshot of the viewer is not blank.
 * Skipped where no Chromium is installed; CI installs it (.ci/env.sh).
 */
class ReportBrowserTest {
    @TempDir
    Path tmp;

    static Path chromium() {
        for (String c : new String[] {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
            if (Files.isExecutable(Path.of(c))) {
                return Path.of(c);
            }
        }
        return null;
    }

    static List<String> flags() {
        return List.of("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--window-size=1100,1400",
                "--virtual-time-budget=20000", "--enable-logging=stderr", "--v=0", "--user-data-dir=");
    }

    record Run(int code, String stdout, String stderr) {
    }

    Run chromium(Path browser, List<String> extra, Path page) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(browser.toString());
        for (String f : flags()) {
            cmd.add(f.equals("--user-data-dir=") ? f + tmp.resolve("profile") : f);
        }
        cmd.addAll(extra);
        cmd.add(page.toUri().toString());
        Path out = tmp.resolve("chromium.out");
        Path err = tmp.resolve("chromium.err");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("chromium did not finish in 120 s");
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    @Test
    void theReportOpensOfflineAndTheViewerDrawsTheVolumes() throws Exception {
        Path browser = chromium();
        // tests/run installs Chromium (CTCF_TEST_TOOLS=1): under it a missing browser is a failure, not a skip
        if ("1".equals(System.getenv("CTCF_TEST_TOOLS"))) {
            assertThat(browser).as("Chromium (tests/run installs it; CTCF_TEST_TOOLS=1 is set)").isNotNull();
        }
        assumeTrue(browser != null, "no Chromium installed");
        assertThat(ReportWriter.niivue()).as("this build bundles NiiVue").isNotNull();
        Path dir = tmp.resolve("out");
        Files.createDirectories(dir);
        Path page = dir.resolve(ExplanationWriter.REPORT);
        try (Volume ct = VolumeIO.read(TestPaths.sample())) {
            byte[] plot = PlotWriter.png(PlotWriter.line("t", "x", "y", new double[] {0, -10}, new double[] {0.8, 0.3},
                    0.8)).orElseThrow();
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("initial_prediction", 0.8);
            ExplanationWriter.writeReport(page, "browser test", summary, Map.of(ExplanationWriter.LAMBDA_PLOT, plot),
                    ct, ct, ct, NiftiWriter.encode(ct, true), PreprocessOptions.reference());
        }
        Run dom = chromium(browser, List.of("--dump-dom"), page);
        assertThat(dom.stdout()).as(dom.stderr()).contains("data-viewer-ready=\"true\"")
                .contains("<span id=\"viewer-status\">showing input + difference</span>");
        assertThat(consoleErrors(dom.stderr())).isEmpty();
        Path shot = tmp.resolve("shot.png");
        Run s = chromium(browser, List.of("--screenshot=" + shot), page);
        assertThat(shot).as(s.stderr()).isRegularFile();
        BufferedImage img = ImageIO.read(shot.toFile());
        // the page reports where the viewer's canvas is; there, a drawn CT has many grey levels, a blank canvas one
        var m = java.util.regex.Pattern.compile("data-viewer-rect=\"(\\d+),(\\d+),(\\d+),(\\d+)\"")
                .matcher(dom.stdout());
        assertThat(m.find()).as("viewer rectangle in the DOM").isTrue();
        int x = Integer.parseInt(m.group(1));
        int y = Integer.parseInt(m.group(2));
        int w = Integer.parseInt(m.group(3));
        int h = Integer.parseInt(m.group(4));
        assertThat(w).isPositive();
        assertThat(y + h).as("the viewer fits the screenshot").isLessThanOrEqualTo(img.getHeight());
        assertThat(distinctColours(img, x, y, Math.min(img.getWidth(), x + w), y + h)).isGreaterThan(20);
    }

    static List<String> consoleErrors(String stderr) {
        return stderr.lines().filter(l -> l.contains("CONSOLE") && (l.contains("Uncaught") || l.contains("Error")))
                .toList();
    }

    static int distinctColours(BufferedImage img, int x0, int y0, int x1, int y1) {
        java.util.Set<Integer> c = new java.util.HashSet<>();
        for (int y = y0; y < y1; y += 2) {
            for (int x = x0; x < x1; x += 2) {
                c.add(img.getRGB(x, y) & 0xffffff);
            }
        }
        return c.size();
    }
}
