package org.ctcf.report;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

import org.ctcf.api.Metrics;
import org.ctcf.core.Volume;
import org.ctcf.io.AtomicFiles;

/**
 * The paper's panel: for several axial slices, the input (its reconstruction), the counterfactual, and the
 * difference heatmap over the input; one row per slice. Optionally a fourth column with outlines: the input's
 * segmentation in red over the counterfactual's (the paper's Fig. 2 view for segmentation classifiers).
 */
public final class PanelWriter {
    private PanelWriter() {
    }

    /** Writes the panel PNG; {@code slices} on the processed grid (null: the 3 with the most heat). */
    public static void write(Volume input, Volume counterfactual, Volume heat, int[] slices, Volume inputSeg,
            Volume cfSeg, Display display, Path out) throws IOException {
        AtomicFiles.write(out, Images.png(render(input, counterfactual, heat, slices, inputSeg, cfSeg, display)));
    }

    /**
     * The panel: a title row, then per slice a caption (slice index and position in mm) and the tiles, each with
     * its orientation letters, zoomed to about 256 pixels.
     */
    public static BufferedImage render(Volume input, Volume cf, Volume heat, int[] slices, Volume inputSeg,
            Volume cfSeg, Display display) {
        AxialView view = AxialView.of(input.geometry(), display);
        int[] zs = slices != null ? slices : Images.hottestSlices(heat, 3);
        float[] in = Metrics.toArray(input);
        float[] c = Metrics.toArray(cf);
        float[] h = Metrics.toArray(heat);
        float[] sa = inputSeg != null ? Metrics.toArray(inputSeg) : null;
        float[] sb = cfSeg != null ? Metrics.toArray(cfSeg) : null;
        double hmax = 0;
        for (float v : h) {
            hmax = Math.max(hmax, Math.abs(v));
        }
        int zoom = AxialView.zoom(view.width(), view.height());
        int w = view.width() * zoom;
        int th = view.height() * zoom;
        int cols = sa != null ? 4 : 3;
        int head = 22;
        int caption = CAPTION;
        BufferedImage img = new BufferedImage(cols * w, head + zs.length * (caption + th), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = Images.graphics(img);
        g.setColor(Color.BLACK);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        String[] titles = {"input (reconstruction)", "counterfactual", "|difference| over input", "segmentation"};
        for (int k = 0; k < cols; k++) {
            Images.label(g, titles[k], k * w + 4, 15);
        }
        for (int r = 0; r < zs.length; r++) {
            int z = zs[r];
            float[][] a = view.slice(in, z);
            float[][] b = view.slice(c, z);
            float[][] d = view.slice(h, z);
            for (float[] row : d) {
                for (int x = 0; x < row.length; x++) {
                    row[x] = Math.abs(row[x]);
                }
            }
            int yc = head + r * (caption + th);
            Glyphs.draw(img, view.position(z), 4, yc + (caption - 2 * Glyphs.HEIGHT) / 2, 2, 0xffffff);
            int y0 = yc + caption;
            Images.drawZoomed(g, Images.gray(a, 0, 1, 1), 0, y0, zoom);
            Images.drawZoomed(g, Images.gray(b, 0, 1, 1), w, y0, zoom);
            Images.drawZoomed(g, Images.overlay(a, d, hmax, 1), 2 * w, y0, zoom);
            if (sa != null) {
                BufferedImage seg = Images.gray(b, 0, 1, 1);
                outline(seg, view.slice(sb, z), 0x3399ff);
                outline(seg, view.slice(sa, z), 0xff2020);
                Images.drawZoomed(g, seg, 3 * w, y0, zoom);
            }
            for (int k = 0; k < cols; k++) {
                view.letters(img, k * w, y0, w, th);
            }
        }
        g.dispose();
        return img;
    }

    /** Height of the caption strip above each row of tiles (slice index and position, glyphs at scale 2). */
    static final int CAPTION = 20;

    /** Draws the border pixels of the label map (value ≥ 0.5) in {@code rgb}. */
    static void outline(BufferedImage img, float[][] m, int rgb) {
        int h = m.length;
        int w = m[0].length;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (m[y][x] < 0.5f) {
                    continue;
                }
                boolean edge = x == 0 || y == 0 || x == w - 1 || y == h - 1 || m[y][x - 1] < 0.5f
                        || m[y][x + 1] < 0.5f || m[y - 1][x] < 0.5f || m[y + 1][x] < 0.5f;
                if (edge) {
                    img.setRGB(x, y, rgb);
                }
            }
        }
    }
}
