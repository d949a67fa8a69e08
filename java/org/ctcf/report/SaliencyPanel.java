package org.ctcf.report;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import org.ctcf.api.Metrics;
import org.ctcf.core.Volume;
import org.ctcf.io.AtomicFiles;

/**
 * The paper's Fig. 4 layout: one axial slice, the input and then one column per attribution map (|map| over the
 * input, each map scaled to its own maximum on that slice).
 */
public final class SaliencyPanel {
    /** A column: its title and map (on the input's processed grid). */
    public record Column(String title, Volume map) {
    }

    private SaliencyPanel() {
    }

    public static void write(Volume input, List<Column> columns, int slice, Display display, Path out)
            throws IOException {
        AtomicFiles.write(out, Images.png(render(input, columns, slice, display)));
    }

    /** The input and one column per map, each tile with its orientation letters, the slice's position below. */
    public static BufferedImage render(Volume input, List<Column> columns, int slice, Display display) {
        if (slice < 0 || slice >= input.nz()) {
            throw new IllegalArgumentException("slice " + slice + " is outside the volume's " + input.nz() + " slices");
        }
        AxialView view = AxialView.of(input.geometry(), display);
        int zoom = AxialView.zoom(view.width(), view.height());
        int w = view.width() * zoom;
        int h = view.height() * zoom;
        int head = 22;
        BufferedImage img = new BufferedImage((columns.size() + 1) * w, head + h + PanelWriter.CAPTION,
                BufferedImage.TYPE_INT_RGB);
        Graphics2D g = Images.graphics(img);
        g.setColor(Color.BLACK);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        float[][] a = view.slice(Metrics.toArray(input), slice);
        Images.drawZoomed(g, Images.gray(a, 0, 1, 1), 0, head, zoom);
        Images.label(g, "input", 4, 15);
        for (int k = 0; k < columns.size(); k++) {
            float[][] m = view.slice(Metrics.toArray(columns.get(k).map()), slice);
            double max = 0;
            for (float[] row : m) {
                for (int x = 0; x < row.length; x++) {
                    row[x] = Math.abs(row[x]);
                    max = Math.max(max, row[x]);
                }
            }
            Images.drawZoomed(g, Images.overlay(a, m, max, 1), (k + 1) * w, head, zoom);
            Images.label(g, columns.get(k).title(), (k + 1) * w + 4, 15);
        }
        g.dispose();
        for (int k = 0; k <= columns.size(); k++) {
            view.letters(img, k * w, head, w, h);
        }
        Glyphs.draw(img, view.position(slice), 4, head + h + (PanelWriter.CAPTION - 2 * Glyphs.HEIGHT) / 2, 2,
                0xffffff);
        return img;
    }
}
