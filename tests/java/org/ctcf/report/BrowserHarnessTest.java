package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.ctcf.report.Browser.click;
import static org.ctcf.report.Browser.clickAt;
import static org.ctcf.report.Browser.eval;
import static org.ctcf.report.Browser.hover;
import static org.ctcf.report.Browser.screenshot;
import static org.ctcf.report.Browser.waitFor;

import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The browser harness itself (Browser + tests/browser/drive.mjs) on a tiny page: a button whose click changes a DOM
 * value, and a canvas with a red right half that counts clicks by side. Skipped without the tools, failed under
 * CTCF_TEST_TOOLS=1.
 */
class BrowserHarnessTest {
    static final String PAGE = """
            <!doctype html><html><head><meta charset="utf-8"><title>harness</title></head>
            <body style="margin:0;background:#fff">
            <div style="height:900px">spacer, so the canvas needs scrolling in a 400 x 600 viewport</div>
            <button id="go" onclick="document.getElementById('state').textContent = 'clicked'">go</button>
            <span id="state">idle</span>
            <canvas id="c" width="200" height="100" style="display:block;margin:20px 37px"></canvas>
            <script>
              const c = document.getElementById('c');
              const g = c.getContext('2d');
              g.fillStyle = '#ffffff'; g.fillRect(0, 0, 200, 100);
              g.fillStyle = '#ff0000'; g.fillRect(100, 0, 100, 100);
              window.hits = {left: 0, right: 0};
              window.hovered = null;
              c.addEventListener('click', e => { e.offsetX < 100 ? window.hits.left++ : window.hits.right++; });
              c.addEventListener('mousemove', e => { window.hovered = [e.offsetX, e.offsetY]; });
              console.error('a console error the harness must report');
            </script>
            </body></html>
            """;

    @TempDir
    Path tmp;
    Path page;

    @BeforeEach
    void page() throws Exception {
        Browser.requireUnderTestTools();
        page = tmp.resolve("page.html");
        Files.writeString(page, PAGE, StandardCharsets.UTF_8);
    }

    @Test
    void clickWaitForEvalAndAClippedScreenshot() throws Exception {
        Browser.Result r = Browser.run(page, List.of(400, 600), List.of(
                eval("document.getElementById('state').textContent", "before"),
                click("#go"),
                waitFor("document.getElementById('state').textContent === 'clicked'", 5000),
                eval("document.getElementById('state').textContent", "after"),
                clickAt("#c", 0.75, 0.5),
                clickAt("#c", 0.75, 0.2),
                clickAt("#c", 0.1, 0.9),
                hover("#c", 0.5, 0.5),
                eval("({hits: window.hits, hovered: window.hovered})", "canvas"),
                screenshot("canvas.png", "#c"),
                screenshot("viewport.png")), tmp.resolve("out"));
        assertThat(r.ok()).isTrue();
        assertThat(r.value("before")).isEqualTo("idle");
        assertThat(r.value("after")).isEqualTo("clicked");
        @SuppressWarnings("unchecked")
        Map<String, Object> canvas = (Map<String, Object>) r.value("canvas");
        assertThat(canvas.get("hits")).isEqualTo(Map.of("left", 1, "right", 2));
        assertThat(canvas.get("hovered")).isEqualTo(List.of(100, 50));
        // the clipped shot is the canvas: white left half, red right half
        Browser.Shot shot = r.shot("canvas.png");
        BufferedImage img = shot.image();
        assertThat(img.getWidth()).isEqualTo(200);
        assertThat(img.getHeight()).isEqualTo(100);
        assertThat(shot.box().width()).isEqualTo(200);
        assertThat(shot.box().x()).isEqualTo(37);
        assertThat(redFraction(img, 0, 100)).isLessThan(0.01);
        assertThat(redFraction(img, 100, 200)).isGreaterThan(0.99);
        // the box maps the element into the viewport shot (scrolled: the canvas was below the fold)
        BufferedImage full = r.image("viewport.png");
        assertThat(full.getWidth()).isEqualTo(400);
        int cx = (int) (shot.box().x() + 150);
        int cy = (int) (shot.box().y() + 50);
        assertThat(full.getRGB(cx, cy) & 0xffffff).isEqualTo(0xff0000);
        assertThat(full.getRGB(cx - 100, cy) & 0xffffff).isEqualTo(0xffffff);
        assertThat(r.consoleErrors()).singleElement().asString().contains("a console error the harness must report");
        assertThat(r.pageErrors()).isEmpty();
        assertThat(r.externalRequests()).isEmpty();
    }

    @Test
    void aMissingSelectorFailsWithAClearMessageAndKeepsWhatCameBefore() {
        assertThatThrownBy(() -> Browser.run(page, List.of(400, 600), List.of(
                eval("1 + 1", "two"),
                Browser.step("click", "#nowhere", "timeoutMs", 1000)), tmp.resolve("out")))
                .isInstanceOf(Browser.StepFailed.class)
                .hasMessageContaining("step 1")
                .hasMessageContaining("\"#nowhere\" matched no element within 1000 ms")
                .satisfies(e -> {
                    Browser.Result r = ((Browser.StepFailed) e).result();
                    assertThat(r.failedStep()).isEqualTo(1);
                    assertThat(r.value("two")).isEqualTo(2);
                });
    }

    @Test
    void aWaitForThatNeverHoldsTimesOut() {
        assertThatThrownBy(() -> Browser.run(page, List.of(400, 600), List.of(waitFor("window.neverSet === 1", 700)),
                tmp.resolve("out")))
                .isInstanceOf(Browser.StepFailed.class)
                .hasMessageContaining("waitFor `window.neverSet === 1` was not truthy within 700 ms");
    }

    static double redFraction(BufferedImage img, int x0, int x1) {
        int red = 0;
        int n = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = x0; x < x1; x++) {
                int rgb = img.getRGB(x, y);
                if (((rgb >> 16) & 0xff) > 200 && ((rgb >> 8) & 0xff) < 60 && (rgb & 0xff) < 60) {
                    red++;
                }
                n++;
            }
        }
        return red / (double) n;
    }
}
