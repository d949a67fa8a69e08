package org.ctcf.report;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

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

    public static void write(Volume input, List<Column> columns, int slice, Path out) throws IOException {
        AtomicFiles.write(out, Images.png(render(input, columns, slice)));
    }

    public static BufferedImage render(Volume input, List<Column> columns, int slice) {
        if (slice < 0 || slice >= input.nz()) {
            throw new IllegalArgumentException("slice " + slice + " is outside the volume's " + input.nz() + " slices");
        }
        int nx = input.nx();
        int ny = input.ny();
        int head = 22;
        BufferedImage img = new BufferedImage((columns.size() + 1) * nx, head + ny, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = Images.graphics(img);
        g.setColor(Color.BLACK);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        float[][] a = Images.axial(Metrics.toArray(input), nx, ny, slice);
        g.drawImage(Images.gray(a, 0, 1, 1), 0, head, null);
        Images.label(g, "input", 4, 15);
        Images.label(g, String.format(Locale.ROOT, "slice %d", slice), 4, head + ny - 6);
        for (int k = 0; k < columns.size(); k++) {
            float[][] m = Images.axial(Metrics.toArray(columns.get(k).map()), nx, ny, slice);
            double max = 0;
            for (float[] row : m) {
                for (int x = 0; x < row.length; x++) {
                    row[x] = Math.abs(row[x]);
                    max = Math.max(max, row[x]);
                }
            }
            g.drawImage(Images.overlay(a, m, max, 1), (k + 1) * nx, head, null);
            Images.label(g, columns.get(k).title(), (k + 1) * nx + 4, 15);
        }
        g.dispose();
        return img;
    }
}
