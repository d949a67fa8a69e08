package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ctcf.report.Browser.eval;
import static org.ctcf.report.Browser.screenshot;
import static org.ctcf.report.Browser.waitFor;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scripts the build bundles for report.html (cmake/fetch-npm-bundle.sh): on the class path with their notices,
 * and Chart.js, inlined into a page, draws a bar chart. A build without npm has none: skipped then, except under
 * CTCF_TEST_TOOLS=1 (tests/run), where npm is installed and the bundles must be there.
 */
class BundlesTest {
    @TempDir
    Path tmp;

    static void requireBundle(String script, String what) {
        if ("1".equals(System.getenv("CTCF_TEST_TOOLS"))) {
            assertThat(script).as(what + " bundled (CTCF_TEST_TOOLS=1: the build has npm)").isNotNull();
        }
        assumeTrue(script != null, "this build bundles no " + what);
    }

    @Test
    void chartJsAndNiivueAreOnTheClassPathWithTheirNotices() {
        String chart = Bundles.chartjs();
        requireBundle(chart, "Chart.js");
        assertThat(chart).startsWith("/*!").contains("Chart.js v4.").contains("window.Chart");
        assertThat(Bundles.resource(Bundles.CHARTJS_NOTICE)).contains("chart.js 4.").contains("license: MIT")
                .contains("Permission is hereby granted");
        String nv = Bundles.niivue();
        requireBundle(nv, "NiiVue");
        assertThat(Bundles.resource(Bundles.NIIVUE_NOTICE)).contains("@niivue/niivue").contains("BSD-2-Clause");
        assertThat(Bundles.resource("/org/ctcf/report/no-such-bundle.js")).isNull();
    }

    @Test
    void anInlinedChartJsDrawsABarChart() throws Exception {
        Browser.requireUnderTestTools();
        String chart = Bundles.chartjs();
        requireBundle(chart, "Chart.js");
        String html = """
                <!doctype html><html><head><meta charset="utf-8"><title>chart</title></head><body style="margin:0">
                <div style="width:400px;height:300px"><canvas id="bars"></canvas></div>
                <script>%s</script>
                <script>
                  new Chart(document.getElementById('bars'), {type: 'bar',
                    data: {labels: ['a', 'b', 'c'], datasets: [{label: 'p', data: [3, 1, 2],
                      backgroundColor: ['#d62728', '#1f77b4', '#2ca02c']}]},
                    options: {animation: false, responsive: true, maintainAspectRatio: false}});
                  window.chartDrawn = true;
                </script></body></html>
                """.formatted(chart.replace("</script", "<\\/script"));
        Path page = tmp.resolve("chart.html");
        Files.writeString(page, html, StandardCharsets.UTF_8);
        Browser.Result r = Browser.run(page, List.of(500, 400), List.of(
                waitFor("window.chartDrawn === true", 20000),
                eval("typeof Chart === 'function'", "isFunction"),
                eval("Chart.version", "version"),
                eval("Chart.getChart('bars').data.datasets[0].data.length", "bars"),
                screenshot("chart.png", "#bars")), tmp.resolve("out"));
        assertThat(r.value("isFunction")).isEqualTo(true);
        assertThat((String) r.value("version")).startsWith("4.");
        assertThat(r.value("bars")).isEqualTo(3);
        assertThat(r.consoleErrors()).isEmpty();
        BufferedImage img = r.image("chart.png");
        assertThat(img.getWidth()).isEqualTo(400);
        // the three bar colours are drawn (not a blank canvas)
        Set<Integer> colours = new HashSet<>();
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                colours.add(img.getRGB(x, y) & 0xffffff);
            }
        }
        assertThat(colours).contains(0xd62728, 0x1f77b4, 0x2ca02c);
    }
}
