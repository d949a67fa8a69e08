package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The image writers: GIF frames and looping, plot and panel PNGs, radiological orientation, the HTML report. */
class ReportTest {
    @TempDir
    Path tmp;

    static int gifFrames(byte[] gif) throws IOException {
        ImageReader r = ImageIO.getImageReadersByFormatName("gif").next();
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(gif))) {
            r.setInput(in);
            return r.getNumImages(true);
        }
    }

    @Test
    void withoutFontsNoPlotIsMade() throws IOException {
        try {
            Images.textAvailableForTest(false);
            assertThat(PlotWriter.available()).isFalse();
            assertThat(PlotWriter.png(PlotWriter.line("title", "x", "y", new double[] {0, 1, 2},
                    new double[] {0.2, 0.5, 0.4}, Double.NaN))).isEmpty();
            Path p = tmp.resolve("none.png");
            assertThat(PlotWriter.write(PlotWriter.perSlice("t", "y", "v", 0, new double[] {1, 2}), p)).isFalse();
            assertThat(p).doesNotExist();
        } finally {
            Images.textAvailableForTest(null);  // probe this machine again: it has fonts
        }
        assertThat(PlotWriter.available()).isTrue();
    }

    @Test
    void gifsHoldEveryFrameAndLoopForever() throws IOException {
        List<BufferedImage> imgs = new ArrayList<>();
        AxialView view = AxialView.of(Geometry.of(30, 20, 5, 1, 1, 1, 0, 0, 0), Display.RADIOLOGICAL);
        for (int i = 0; i < 5; i++) {
            float[][] s = new float[20][30];
            s[i][i] = 1;
            imgs.add(GifWriter.frame(view, s, i, "p = 0." + i, "frame " + i));
        }
        byte[] gif = GifWriter.encode(imgs, 10);
        assertThat(gifFrames(gif)).isEqualTo(5);
        assertThat(new String(gif, java.nio.charset.StandardCharsets.ISO_8859_1)).contains("NETSCAPE2.0");
        assertThat(imgs.get(0).getWidth()).isEqualTo(30 * AxialView.zoom(30, 20));  // zoomed to about 256 pixels
    }

    @Test
    void hottestSlices() {
        try (Volume v = Volume.allocate(Geometry.of(4, 3, 2, 1, 1, 1, 0, 0, 0))) {
            v.set(0, 0, 1, 1f);
            assertThat(Images.hottestSlice(v)).isEqualTo(1);
            assertThat(Images.hottestSlices(v, 5)).containsExactly(0, 1);
        }
    }

    @Test
    void plotsAndPanelsArePngs() throws IOException {
        Path p = tmp.resolve("plot.png");
        assertThat(PlotWriter.write(PlotWriter.line("t", "x", "y", new double[] {0, -10, -20},
                new double[] {0.9, 0.5, 0.2}, 0.9), p)).isTrue();
        BufferedImage img = ImageIO.read(p.toFile());
        assertThat(img.getWidth()).isEqualTo(PlotWriter.W);
        assertThat(img.getHeight()).isEqualTo(PlotWriter.H);
        Path b = tmp.resolve("bars.png");
        PlotWriter.write(PlotWriter.chunkPrediction("t", new int[] {0, 8}, new int[] {8, 16},
                new double[] {0.4, 0.7}, 0.8, 0), b);
        assertThat(ImageIO.read(b.toFile())).isNotNull();
        try (Volume a = Volume.filled(Geometry.of(16, 16, 4, 1, 1, 1, 0, 0, 0), 0.3f);
                Volume c = Volume.filled(Geometry.of(16, 16, 4, 1, 1, 1, 0, 0, 0), 0.4f);
                Volume h = Volume.filled(Geometry.of(16, 16, 4, 1, 1, 1, 0, 0, 0), 0f);
                Volume seg = Volume.filled(Geometry.of(16, 16, 4, 1, 1, 1, 0, 0, 0), 0f)) {
            h.set(5, 5, 2, 1f);
            seg.set(5, 5, 2, 1f);
            Path panel = tmp.resolve("panels.png");
            PanelWriter.write(a, c, h, null, seg, seg, Display.RADIOLOGICAL, panel);
            BufferedImage pi = ImageIO.read(panel.toFile());
            int zoom = AxialView.zoom(16, 16);
            int tile = 16 * zoom;
            assertThat(pi.getWidth()).isEqualTo(4 * tile);
            assertThat(pi.getHeight()).isEqualTo(22 + 3 * (PanelWriter.CAPTION + tile));
            // the outline (red, input's segmentation drawn last) in the fourth column of the row of slice 2, at
            // voxel (5, 5): radiological RAS puts it in column 15 - 5 and row 15 - 5
            int row = java.util.Arrays.binarySearch(Images.hottestSlices(h, 3), 2);
            int y0 = 22 + row * (PanelWriter.CAPTION + tile) + PanelWriter.CAPTION;
            assertThat(pi.getRGB(3 * tile + 10 * zoom + zoom / 2, y0 + 10 * zoom + zoom / 2) & 0xffffff)
                    .isEqualTo(0xff2020);
        }
    }

    @Test
    void theReportIsOneFileWithEverythingEmbedded() throws IOException {
        Path png = tmp.resolve("a.png");
        PlotWriter.write(PlotWriter.line("t", "x", "y", new double[] {0, 1}, new double[] {1, 2}, Double.NaN), png);
        Path vol = tmp.resolve("v.nii.gz");
        try (Volume v = Volume.filled(Geometry.of(4, 4, 4, 1, 1, 1, 0, 0, 0), 1f)) {
            org.ctcf.io.VolumeIO.write(v, vol);
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("initial_prediction", 0.42);
        summary.put("chunks", List.of(Map.of("start", 0, "end", 8)));
        Path out = tmp.resolve("report.html");
        byte[] v = Files.readAllBytes(vol);
        ReportWriter.write(out, new ReportPage("title <x>", summary, Map.of("plot", Files.readAllBytes(png)), v, v, v,
                1, null, 0, Display.RADIOLOGICAL, Geometry.of(4, 4, 4, 1, 1, 1, 0, 0, 0).affine(),
                new int[] {4, 4, 4}, null));
        String html = Files.readString(out);
        assertThat(html).contains("title &lt;x&gt;").contains("data:image/png;base64,").contains("0.4200")
                .doesNotContain("nope.png").doesNotContain("src=\"http").doesNotContain("<script src");
        if (Bundles.niivue() != null) {
            assertThat(html).contains("<canvas id=\"viewer\"").contains("ctcfVolumes");
        } else {
            assertThat(html).contains("viewer-missing");
        }
    }
}
