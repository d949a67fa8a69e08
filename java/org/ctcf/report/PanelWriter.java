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
            Volume cfSeg, Path out) throws IOException {
        AtomicFiles.write(out, Images.png(render(input, counterfactual, heat, slices, inputSeg, cfSeg)));
    }

    public static BufferedImage render(Volume input, Volume cf, Volume heat, int[] slices, Volume inputSeg,
            Volume cfSeg) {
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
        int nx = input.nx();
        int ny = input.ny();
        int cols = sa != null ? 4 : 3;
        int head = 22;
        BufferedImage img = new BufferedImage(cols * nx, head + zs.length * ny, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = Images.graphics(img);
        g.setColor(Color.BLACK);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        String[] titles = {"input (reconstruction)", "counterfactual", "difference over input", "segmentation"};
        for (int k = 0; k < cols; k++) {
            Images.label(g, titles[k], k * nx + 4, 15);
        }
        for (int r = 0; r < zs.length; r++) {
            int z = zs[r];
            float[][] a = Images.axial(in, nx, ny, z);
            float[][] b = Images.axial(c, nx, ny, z);
            float[][] d = Images.axial(h, nx, ny, z);
            for (int y = 0; y < ny; y++) {
                for (int x = 0; x < nx; x++) {
                    d[y][x] = Math.abs(d[y][x]);
                }
            }
            int y0 = head + r * ny;
            g.drawImage(Images.gray(a, 0, 1, 1), 0, y0, null);
            g.drawImage(Images.gray(b, 0, 1, 1), nx, y0, null);
            g.drawImage(Images.overlay(a, d, hmax, 1), 2 * nx, y0, null);
            if (sa != null) {
                BufferedImage seg = Images.gray(b, 0, 1, 1);
                outline(seg, Images.axial(sb, nx, ny, z), 0x3399ff);
                outline(seg, Images.axial(sa, nx, ny, z), 0xff2020);
                g.drawImage(seg, 3 * nx, y0, null);
            }
            Images.label(g, String.format(Locale.ROOT, "slice %d", z), 4, y0 + ny - 6);
        }
        g.dispose();
        return img;
    }

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
