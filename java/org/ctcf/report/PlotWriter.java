package org.ctcf.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

import org.ctcf.io.AtomicFiles;

/** Line and bar plots as PNG (Java2D, no dependencies): λ–prediction, per-chunk prediction, per-slice change. */
public final class PlotWriter {
    private PlotWriter() {
    }

    static final int W = 640;
    static final int H = 360;
    static final int L = 70;
    static final int R = 20;
    static final int T = 36;
    static final int B = 50;

    /** A line plot of y over x with markers; a dashed horizontal line at {@code ref} unless NaN. */
    public static BufferedImage line(String title, String xLabel, String yLabel, double[] x, double[] y, double ref) {
        if (x.length != y.length || x.length == 0) {
            throw new IllegalArgumentException("plot needs equally long, non-empty x and y");
        }
        double[] xr = range(x, Double.NaN);
        double[] yr = range(y, ref);
        BufferedImage img = canvas(title, xLabel, yLabel, xr, yr);
        Graphics2D g = Images.graphics(img);
        if (!Double.isNaN(ref)) {
            g.setColor(new Color(150, 150, 150));
            g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f, new float[] {5f, 4f}, 0f));
            int yy = py(ref, yr);
            g.drawLine(L, yy, W - R, yy);
        }
        g.setColor(new Color(31, 119, 180));
        g.setStroke(new BasicStroke(2f));
        Path2D p = new Path2D.Double();
        for (int i = 0; i < x.length; i++) {
            if (i == 0) {
                p.moveTo(px(x[i], xr), py(y[i], yr));
            } else {
                p.lineTo(px(x[i], xr), py(y[i], yr));
            }
        }
        g.draw(p);
        for (int i = 0; i < x.length; i++) {
            g.fillOval(px(x[i], xr) - 3, py(y[i], yr) - 3, 6, 6);
        }
        g.dispose();
        return img;
    }

    /** Bars of y at positions [start, end) (e.g. chunks), a dashed line at {@code ref}. */
    public static BufferedImage bars(String title, String xLabel, String yLabel, double[] start, double[] end,
            double[] y, double ref) {
        double[] xr = {min(start), max(end)};
        double[] yr = range(y, ref);
        yr[0] = Math.min(yr[0], 0);
        BufferedImage img = canvas(title, xLabel, yLabel, xr, yr);
        Graphics2D g = Images.graphics(img);
        for (int i = 0; i < y.length; i++) {
            int x0 = px(start[i], xr);
            int x1 = Math.max(x0 + 1, px(end[i], xr) - 1);
            int y0 = py(Math.max(0, y[i]), yr);
            int y1 = py(Math.min(0, y[i]), yr);
            g.setColor(new Color(44, 160, 44));
            g.fillRect(x0, y0, x1 - x0, Math.max(1, y1 - y0));
        }
        if (!Double.isNaN(ref)) {
            g.setColor(Color.RED);
            g.setStroke(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f, new float[] {6f, 4f},
                    0f));
            int yy = py(ref, yr);
            g.drawLine(L, yy, W - R, yy);
        }
        g.dispose();
        return img;
    }

    /** Means with ± error bars over x (the paper's Fig. 5A: chunk size against the prediction drop). */
    public static BufferedImage errorBars(String title, String xLabel, String yLabel, double[] x, double[] mean,
            double[] err) {
        if (x.length != mean.length || x.length != err.length || x.length == 0) {
            throw new IllegalArgumentException("plot needs equally long, non-empty x, mean and error");
        }
        double[] lo = new double[x.length];
        double[] hi = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double e = Double.isFinite(err[i]) ? err[i] : 0;
            lo[i] = mean[i] - e;
            hi[i] = mean[i] + e;
        }
        double[] xr = range(x, Double.NaN);
        double[] yr = range(concat(lo, hi), Double.NaN);
        BufferedImage img = canvas(title, xLabel, yLabel, xr, yr);
        Graphics2D g = Images.graphics(img);
        g.setColor(new Color(31, 119, 180));
        g.setStroke(new BasicStroke(2f));
        for (int i = 0; i < x.length; i++) {
            int xx = px(x[i], xr);
            g.drawLine(xx, py(lo[i], yr), xx, py(hi[i], yr));
            g.drawLine(xx - 5, py(lo[i], yr), xx + 5, py(lo[i], yr));
            g.drawLine(xx - 5, py(hi[i], yr), xx + 5, py(hi[i], yr));
            g.fillOval(xx - 4, py(mean[i], yr) - 4, 8, 8);
            if (i > 0) {
                g.drawLine(px(x[i - 1], xr), py(mean[i - 1], yr), xx, py(mean[i], yr));
            }
        }
        g.dispose();
        return img;
    }

    /** Each group's values as jittered points with its mean as a bar (the paper's Fig. 5B distributions). */
    public static BufferedImage strips(String title, String yLabel, String[] groups, double[][] values) {
        if (groups.length != values.length || groups.length == 0) {
            throw new IllegalArgumentException("one value list per group");
        }
        double[] all = new double[0];
        for (double[] v : values) {
            all = concat(all, v);
        }
        double[] yr = range(all.length == 0 ? new double[] {0, 1} : all, Double.NaN);
        double[] xr = {-0.5, groups.length - 0.5};
        BufferedImage img = canvas(title, "", yLabel, xr, yr);
        Graphics2D g = Images.graphics(img);
        g.setColor(Color.WHITE);  // groups, not numbers, along x
        g.fillRect(0, H - B + 2, W, 18);
        java.util.Random jitter = new java.util.Random(1);
        Color[] colors = {new Color(214, 39, 40), new Color(31, 119, 180), new Color(44, 160, 44)};
        for (int k = 0; k < groups.length; k++) {
            int cx = px(k, xr);
            g.setColor(Color.BLACK);
            Images.text(g, groups[k] + " (n=" + values[k].length + ")", cx - 55, H - B + 16);
            g.setColor(colors[k % colors.length]);
            double sum = 0;
            for (double v : values[k]) {
                int jx = cx + (int) Math.round((jitter.nextDouble() - 0.5) * 60);
                g.fillOval(jx - 3, py(v, yr) - 3, 6, 6);
                sum += v;
            }
            if (values[k].length > 0) {
                int my = py(sum / values[k].length, yr);
                g.setStroke(new BasicStroke(2.5f));
                g.drawLine(cx - 40, my, cx + 40, my);
            }
        }
        g.dispose();
        return img;
    }

    private static double[] concat(double[] a, double[] b) {
        double[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    public static void write(BufferedImage img, Path out) throws IOException {
        AtomicFiles.write(out, Images.png(img));
    }

    private static BufferedImage canvas(String title, String xLabel, String yLabel, double[] xr, double[] yr) {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = Images.graphics(img);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);
        g.setColor(Color.BLACK);
        Images.text(g, title, L, 20);
        g.drawRect(L, T, W - L - R, H - T - B);
        for (int k = 0; k <= 4; k++) {
            double xv = xr[0] + (xr[1] - xr[0]) * k / 4;
            double yv = yr[0] + (yr[1] - yr[0]) * k / 4;
            int x = px(xv, xr);
            int y = py(yv, yr);
            g.setColor(new Color(225, 225, 225));
            g.drawLine(L + 1, y, W - R - 1, y);
            g.setColor(Color.BLACK);
            Images.text(g, fmt(xv), x - 12, H - B + 16);
            Images.text(g, fmt(yv), 6, y + 4);
        }
        Images.text(g, xLabel, L + (W - L - R) / 2 - 30, H - 12);
        g.rotate(-Math.PI / 2);
        Images.text(g, yLabel, -(T + (H - T - B) / 2) - 30, 14);
        g.dispose();
        return img;
    }

    private static String fmt(double v) {
        return Math.abs(v) >= 100 || v == Math.rint(v) ? String.format(Locale.ROOT, "%.0f", v)
                : String.format(Locale.ROOT, "%.3g", v);
    }

    private static double[] range(double[] v, double ref) {
        double lo = min(v);
        double hi = max(v);
        if (!Double.isNaN(ref)) {
            lo = Math.min(lo, ref);
            hi = Math.max(hi, ref);
        }
        if (hi - lo < 1e-9) {
            lo -= 0.5;
            hi += 0.5;
        }
        double pad = 0.05 * (hi - lo);
        return new double[] {lo - pad, hi + pad};
    }

    private static double min(double[] v) {
        double m = Double.POSITIVE_INFINITY;
        for (double d : v) {
            m = Math.min(m, d);
        }
        return m;
    }

    private static double max(double[] v) {
        double m = Double.NEGATIVE_INFINITY;
        for (double d : v) {
            m = Math.max(m, d);
        }
        return m;
    }

    private static int px(double x, double[] r) {
        return (int) Math.round(L + (x - r[0]) / (r[1] - r[0]) * (W - L - R));
    }

    private static int py(double y, double[] r) {
        return (int) Math.round(H - B - (y - r[0]) / (r[1] - r[0]) * (H - T - B));
    }
}
