package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.core.Affine;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.ctcf.io.NiftiWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * report.html in headless Chromium, driven by Playwright (tests/browser): the viewer shows a marker on the patient's
 * left in the screen's right half (radiological) or left half (neurological), anterior up; the change overlay is
 * transparent away from the change and coloured on it; clicking a chunk or a slice in the charts moves the viewer
 * there; the sweep frames step in the viewer; no console errors, no network. Pixel checks on screenshots, not the
 * DOM. Fails when the tools are missing under tests/run (CTCF_TEST_TOOLS=1), skips elsewhere.
 */
class ReportBrowserTest {
    static final int N = 64;
    static final int NZ = 24;
    static final double MARKER_X = -30;  // mm: the patient's left
    static final double MARKER_Y = 20;  // mm: anterior
    static final int MARKER_Z = 12;

    @TempDir
    Path tmp;

    /** RAS grid, 2 mm voxels, centred on the world origin. */
    static Geometry grid() {
        double c = -(N - 1);
        return Geometry.of(N, N, NZ, 2, 2, 2, c, c, -(NZ - 1));
    }

    /**
     * Input, counterfactual, reconstruction and heatmap on {@link #grid}: a body (0 HU disc in air) with a bright
     * marker; the counterfactual darkens the marker by 600 HU; both carry a few HU of decoder-like noise, which the
     * thresholded overlay must not paint.
     */
    static float[][] volumes() {
        Geometry g = grid();
        float[] in = new float[(int) g.voxelCount()];
        float[] cf = new float[in.length];
        float[] rec = new float[in.length];
        float[] heat = new float[in.length];
        double[] inv = Affine.inverse(g.affine());
        double[] m = Affine.apply(inv, MARKER_X, MARKER_Y, MARKER_Z * 2 - (NZ - 1));
        java.util.Random noise = new java.util.Random(7);
        for (int k = 0; k < NZ; k++) {
            for (int j = 0; j < N; j++) {
                for (int i = 0; i < N; i++) {
                    int v = (k * N + j) * N + i;
                    double r = Math.hypot(i - (N - 1) / 2.0, j - (N - 1) / 2.0);
                    boolean marker = Math.hypot(i - m[0], j - m[1]) <= 3 && Math.abs(k - m[2]) <= 3;
                    in[v] = marker ? 1000 : r < 28 ? 0 : -1000;
                    rec[v] = in[v] + (float) (noise.nextGaussian() * 2);
                    cf[v] = in[v] - (marker ? 600 : 0) + (float) (noise.nextGaussian() * 2);
                    heat[v] = marker ? 0.4f : 0f;
                }
            }
        }
        return new float[][] {in, cf, rec, heat};
    }

    /** report.html of {@link #volumes} in {@code display}, with a three-chunk sweep's summary and sweep frames. */
    static Path page(Path dir, Display display) throws IOException {
        Geometry g = grid();
        float[][] v = volumes();
        float[] in = v[0];
        float[] cf = v[1];
        float[] rec = v[2];
        float[] heat = v[3];
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("input", "synthetic.nii.gz");
        summary.put("classifier", "test classifier");
        summary.put("stitch", "best");
        summary.put("initial_prediction", 0.8);
        summary.put("counterfactual_found", true);
        summary.put("counterfactual_prediction", 0.3);
        summary.put("counterfactual_chunks", List.of(List.of(8, 16)));
        summary.put("minimum_prediction", 0.3);
        summary.put("stitched_prediction", 0.5);
        List<Map<String, Object>> chunks = new ArrayList<>();
        for (int c = 0; c < 3; c++) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("start", c * 8);
            row.put("end", c * 8 + 8);
            row.put("min_prediction", c == 1 ? 0.3 : 0.75);
            row.put("lambda_bound", -100.0);
            row.put("stop_reason", "PREDICTION_ROSE");
            row.put("rank", c == 1 ? 1 : 2);
            chunks.add(row);
        }
        summary.put("chunks", chunks);
        List<Double> change = new ArrayList<>();
        for (int z = 0; z < NZ; z++) {
            change.add(Math.abs(z - MARKER_Z) <= 3 ? 10.0 : 0.0);
        }
        summary.put("slice_change", change);
        summary.put("slice_change_smoothed", change);
        summary.put("slice_change_measure", "sum of heatmap^2 over each slice");
        Map<String, Object> focus = new LinkedHashMap<>();
        focus.put("chunk", List.of(8, 16));
        focus.put("initial_prediction", 0.8);
        focus.put("counterfactual_prediction", 0.3);
        focus.put("lambda_bound", -100.0);
        focus.put("stop_reason", "PREDICTION_ROSE");
        focus.put("lambdas", List.of(-100.0, -50.0, 0.0));
        focus.put("predictions", List.of(0.3, 0.6, 0.8));
        focus.put("search_lambdas", List.of(0.0, -10.0, -100.0));
        focus.put("search_predictions", List.of(0.8, 0.7, 0.3));
        summary.put("explained_chunk", focus);
        List<float[]> frames = new ArrayList<>();
        for (int f = 0; f < 3; f++) {
            float[] slab = new float[N * N * 8];
            java.util.Arrays.fill(slab, f / 2f);
            frames.add(slab);
        }
        double[] slabAffine = g.affine().clone();
        slabAffine[11] = Affine.apply(g.affine(), 0, 0, 8)[2];
        var fr = new ReportPage.Frames(NiftiWriter.encodeFrames(new Geometry(N, N, 8, slabAffine), frames, true), 8,
                16, new double[] {-100, -50, 0}, new double[] {0.3, 0.6, 0.8});
        Path page = dir.resolve(display.id() + ".html");
        try (Volume vin = Volume.of(g, in); Volume vcf = Volume.of(g, cf); Volume vrec = Volume.of(g, rec);
                Volume vh = Volume.of(g, heat)) {
            try (Volume delta = ExplanationWriter.difference(vcf, vrec)) {
                ExplanationWriter.writeReport(page, "browser test", summary, Map.of(), vin, vcf, delta,
                        NiftiWriter.encode(vh, true), 0.4, g, fr, display);
            }
        }
        return page;
    }

    /** Centroid (x, y) in pixels of the pixels whose grey level lies in [lo, hi] (r = g = b within 6). */
    static double[] greyCentroid(BufferedImage img, int lo, int hi) {
        double sx = 0;
        double sy = 0;
        int n = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                int rgb = img.getRGB(x, y);
                int r = (rgb >> 16) & 0xff;
                int g = (rgb >> 8) & 0xff;
                int b = rgb & 0xff;
                if (Math.abs(r - g) <= 6 && Math.abs(g - b) <= 6 && r >= lo && r <= hi) {
                    sx += x;
                    sy += y;
                    n++;
                }
            }
        }
        assertThat(n).as("pixels with grey level in [" + lo + ", " + hi + "]").isGreaterThan(20);
        return new double[] {sx / n, sy / n};
    }

    static boolean grey(int rgb) {
        int r = (rgb >> 16) & 0xff;
        int g = (rgb >> 8) & 0xff;
        int b = rgb & 0xff;
        return Math.abs(r - g) <= 8 && Math.abs(g - b) <= 8;
    }

    /** The steps that show the marker's slice in one axial view, without and then with the |Δ| overlay. */
    static List<Map<String, Object>> axialShots() {
        return List.of(Browser.waitFor("document.body.dataset.viewerReady === 'true' && "
                        + "document.body.dataset.chartsReady === 'true'", 120_000),
                Browser.click("#layout-axial"),
                Browser.eval("ctcfSetOverlay('none')", "none"),
                Browser.waitFor("document.body.dataset.viewerReady === 'true'"),
                Browser.eval("ctcfGoToSlice(" + MARKER_Z + ")", "go"),
                Browser.sleep(300),
                Browser.screenshot("plain.png", "#viewer"),
                Browser.eval("ctcfSetOverlay('abs')", "abs"),
                Browser.waitFor("document.body.dataset.viewerReady === 'true'"),
                Browser.eval("ctcfGoToSlice(" + MARKER_Z + ")", "go2"),
                Browser.sleep(300),
                Browser.screenshot("overlay.png", "#viewer"),
                Browser.eval("document.getElementById('overlay-legend').textContent", "legend"));
    }

    @Test
    void theViewerShowsThePatientsLeftOnTheScreensRightAndOnlyTheChange() throws Exception {
        Browser.requireUnderTestTools();
        Path page = page(tmp, Display.RADIOLOGICAL);
        Browser.Result r = Browser.run(page, axialShots(), tmp.resolve("rad"));
        assertThat(r.consoleErrors()).isEmpty();
        assertThat(r.externalRequests()).as("the page opens offline").isEmpty();
        BufferedImage plain = r.image("plain.png");
        double[] body = greyCentroid(plain, 140, 180);  // the 0 HU disc (window -1000..600: grey 159)
        double[] marker = greyCentroid(plain, 245, 255);  // 1000 HU
        assertThat(marker[0]).as("marker x vs the body's centre x, radiological").isGreaterThan(body[0] + 20);
        assertThat(marker[1]).as("anterior is up").isLessThan(body[1] - 10);
        // the overlay: coloured on the change, the grey CT far from it (mirror point on the patient's right)
        BufferedImage over = r.image("overlay.png");
        assertThat(grey(over.getRGB((int) marker[0], (int) marker[1]))).as("the change is painted").isFalse();
        int fx = (int) Math.round(2 * body[0] - marker[0]);
        for (int dy = -3; dy <= 3; dy++) {
            for (int dx = -3; dx <= 3; dx++) {
                assertThat(grey(over.getRGB(fx + dx, (int) marker[1] + dy)))
                        .as("far from the change the CT shows through (%d, %d)", fx + dx, (int) marker[1] + dy)
                        .isTrue();
            }
        }
        assertThat(r.value("legend").toString()).contains("HU").contains("transparent");

        // the PNG panel of the same volume (window units, as the processed volumes are) agrees with the viewer
        float[] in = volumes()[0];
        float[] w = new float[in.length];
        for (int i = 0; i < in.length; i++) {
            w[i] = (in[i] + 1000) / 1600f;
        }
        try (Volume vw = Volume.of(grid(), w)) {
            BufferedImage png = PanelWriter.render(vw, vw, vw, new int[] {MARKER_Z}, null, null, Display.RADIOLOGICAL);
            int zoom = AxialView.zoom(N, N);
            int tile = N * zoom;
            BufferedImage first = png.getSubimage(0, 22 + PanelWriter.CAPTION, tile, tile);
            assertThat(greyCentroid(first, 250, 255)[0]).as("the PNG panel: the marker on the screen's right")
                    .isGreaterThan(greyCentroid(first, 140, 180)[0] + 20);
        }

        Browser.Result n = Browser.run(page(tmp, Display.NEUROLOGICAL), axialShots(), tmp.resolve("neu"));
        BufferedImage np = n.image("plain.png");
        assertThat(greyCentroid(np, 245, 255)[0]).as("neurological: on the screen's left")
                .isLessThan(greyCentroid(np, 140, 180)[0] - 20);
    }

    @Test
    void clickingAChunkOrASliceMovesTheViewerAndTheFramesStep() throws Exception {
        Browser.requireUnderTestTools();
        Path page = page(tmp, Display.RADIOLOGICAL);
        Browser.Result r = Browser.run(page, List.of(
                Browser.waitFor("document.body.dataset.viewerReady === 'true' && "
                        + "document.body.dataset.chartsReady === 'true'", 120_000),
                Browser.eval("document.body.dataset.crosshairMm", "start"),
                Browser.clickAt("#chart-chunks", 0.88, 0.8),  // the third bar: chunk 16-24
                Browser.sleep(200),
                Browser.eval("document.body.dataset.crosshairMm", "afterChunk"),
                Browser.eval("document.body.dataset.goToSlice", "chunkSlice"),
                Browser.clickAt("#chart-slices", 0.3, 0.5),
                Browser.sleep(200),
                Browser.eval("document.body.dataset.crosshairMm", "afterSlice"),
                Browser.eval("document.body.dataset.goToSlice", "slice"),
                Browser.hover("#chart-chunks", 0.5, 0.8),
                Browser.sleep(200),
                Browser.eval("ctcfChunkChart.tooltip.getActiveElements().length", "hovered"),
                Browser.eval("ctcfChunkChart.tooltip.title.join(' ') + ' | ' + ctcfChunkChart.tooltip.body"
                        + ".flatMap(b => b.lines).join(' | ') + ' | ' + ctcfChunkChart.tooltip.afterBody.join(' ')",
                        "tooltip"),
                Browser.screenshot("chunks.png", "#chart-chunks"),
                Browser.click("#bg-frames"),
                Browser.waitFor("document.body.dataset.viewerMode === 'showing frames' && "
                        + "document.body.dataset.viewerReady === 'true'"),
                Browser.eval("ctcfSetFrame(2)", "set"),
                Browser.eval("[ctcfNv.volumes[0].frame4D, ctcfNv.volumes[0].nFrame4D]", "frame"),
                Browser.eval("document.getElementById('frame-label').textContent", "frameLabel")), tmp.resolve("o"));
        assertThat(r.consoleErrors()).isEmpty();
        double z0 = -(NZ - 1);  // world z of slice 0
        // the explained chunk 8-16 is where the page starts: its centre, slice 11.5
        assertThat(z(r.value("start"))).isCloseTo(z0 + 2 * 11.5, org.assertj.core.data.Offset.offset(2.0));
        assertThat(r.value("chunkSlice").toString()).isEqualTo("19.5");
        assertThat(z(r.value("afterChunk"))).isCloseTo(z0 + 2 * 19.5, org.assertj.core.data.Offset.offset(2.0));
        int k = Integer.parseInt(r.value("slice").toString());
        assertThat(k).isBetween(3, 10);
        assertThat(z(r.value("afterSlice"))).isCloseTo(z0 + 2 * k, org.assertj.core.data.Offset.offset(2.0));
        assertThat(r.value("frame").toString()).isEqualTo("[2, 3]");
        // hovering a bar shows its numbers: the chunk, its lowest prediction, its λ bound and stop reason
        assertThat(((Number) r.value("hovered")).intValue()).isPositive();
        assertThat(r.value("tooltip").toString()).contains("8–16").contains("0.3").contains("λ bound -100")
                .contains("PREDICTION_ROSE");
        assertThat(r.value("frameLabel").toString()).contains("3/3").contains("λ 0.0").contains("0.8000");
    }

    static double z(Object crosshairMm) {
        String[] p = crosshairMm.toString().split(",");
        return Double.parseDouble(p[2]);
    }

    @Test
    void theReportSaysWhatWasExplainedAndHowToReadIt() throws IOException {
        String html = Files.readString(page(tmp, Display.NEUROLOGICAL));
        assertThat(html).contains("What was explained").contains("How to read this").contains("test classifier")
                .contains("0.8000 → 0.3000 (the best chunk's own counterfactual: slices 8–16)")
                .contains("display mosaic</td><td>0.5000").contains("slices 8–16").contains("neurological convention")
                .contains("PREDICTION_ROSE").doesNotContain("src=\"http").doesNotContain("<script src");
    }
}
