package org.ctcf.report;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

import javax.imageio.ImageIO;

import org.ctcf.api.Metrics;
import org.ctcf.core.Volume;

/**
 * Axial slices of processed volumes (values in [0, 1] window units) as images, laid out by {@link AxialView} in the
 * chosen {@link Display} convention, and the shared drawing helpers (gray levels, heat overlay, labels).
 */
public final class Images {
    private Images() {
    }

    /**
     * Slice {@code z} of {@code v} as screen rows of columns in {@code display}'s convention (anterior up; for
     * radiological the patient's right in column 0), from the volume's affine.
     */
    public static float[][] axial(Volume v, int z, Display display) {
        if (z < 0 || z >= v.nz()) {
            throw new IllegalArgumentException("slice " + z + " outside 0.." + (v.nz() - 1));
        }
        return AxialView.of(v.geometry(), display).plane(v.plane(z));
    }

    /**
     * Why axial slices of {@code grid} cannot be drawn, as a predicate ("is too small to draw: …"), or empty when
     * they can.
     */
    public static java.util.Optional<String> notDrawable(org.ctcf.core.Geometry grid) {
        return AxialView.problem(grid);
    }

    /** {@code tile} drawn {@code zoom} times larger at (x, y), nearest neighbour (voxels stay square). */
    static void drawZoomed(Graphics2D g, BufferedImage tile, int x, int y, int zoom) {
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_NEAREST_NEIGHBOR);
        g.drawImage(tile, x, y, tile.getWidth() * zoom, tile.getHeight() * zoom, null);
    }

    /** Gray image of values in [lo, hi], scaled by an integer factor. */
    public static BufferedImage gray(float[][] s, double lo, double hi, int scale) {
        int h = s.length;
        int w = s[0].length;
        BufferedImage img = new BufferedImage(w * scale, h * scale, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h * scale; y++) {
            for (int x = 0; x < w * scale; x++) {
                int g = level(s[y / scale][x / scale], lo, hi);
                img.setRGB(x, y, (g << 16) | (g << 8) | g);
            }
        }
        return img;
    }

    /** The slice in gray with {@code heat} (≥ 0) blended on top in a red-yellow ramp, scaled to {@code heatMax}. */
    public static BufferedImage overlay(float[][] s, float[][] heat, double heatMax, int scale) {
        BufferedImage img = gray(s, 0, 1, scale);
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                double t = heatMax <= 0 ? 0 : Math.min(1, heat[y / scale][x / scale] / heatMax);
                if (t < 0.05) {
                    continue;
                }
                int rgb = img.getRGB(x, y);
                int g = rgb & 0xff;
                int r = (int) Math.round(g * (1 - t) + 255 * t);
                int gg = (int) Math.round(g * (1 - t) + 255 * t * t);
                int b = (int) Math.round(g * (1 - t));
                img.setRGB(x, y, (r << 16) | (gg << 8) | b);
            }
        }
        return img;
    }

    private static int level(double v, double lo, double hi) {
        double t = (v - lo) / (hi - lo);
        return (int) Math.round(255 * Math.max(0, Math.min(1, t)));
    }

    static Graphics2D graphics(BufferedImage img) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        if (textAvailable()) {
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        }
        return g;
    }

    private static volatile Boolean textAvailable;

    /**
     * Whether this JVM can draw text. Java's text rendering needs fontconfig and at least one installed font; a bare
     * server or container often has neither, and the first {@code drawString} then throws. Without fonts the images
     * are still written, without their titles (orientation letters and slice positions are {@link Glyphs}, drawn
     * without a font; every number is also in summary.json); the plots are left out and one warning says why.
     */
    static boolean textAvailable() {
        Boolean ok = textAvailable;
        if (ok == null) {
            synchronized (Images.class) {
                if (textAvailable == null) {
                    textAvailable = probeText();
                }
                ok = textAvailable;
            }
        }
        return ok;
    }

    private static boolean probeText() {
        try {
            Graphics2D g = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB).createGraphics();
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            g.drawString("0", 0, 7);
            g.dispose();
            return true;
        } catch (RuntimeException | Error e) {  // "Fontconfig head is null", UnsatisfiedLinkError, InternalError
            // said once, by whoever leaves something out because of it (the plots' warning, the saliency command)
            System.getLogger("org.ctcf.report").log(System.Logger.Level.DEBUG, "this machine cannot draw text: " + e);
            return false;
        }
    }

    /** For tests: behave as on a machine without fonts ({@code false}) or probe again ({@code null}). */
    static void textAvailableForTest(Boolean available) {
        textAvailable = available;
    }

    /** {@code g.drawString}, or nothing where the machine cannot draw text. */
    static void text(Graphics2D g, String text, int x, int y) {
        if (textAvailable()) {
            g.drawString(text, x, y);
        }
    }

    /** Text with a dark outline, readable on any background. */
    static void label(Graphics2D g, String text, int x, int y) {
        g.setColor(Color.BLACK);
        for (int dx = -1; dx <= 1; dx++) {
            for (int dy = -1; dy <= 1; dy++) {
                text(g, text, x + dx, y + dy);
            }
        }
        g.setColor(Color.WHITE);
        text(g, text, x, y);
    }

    public static byte[] png(BufferedImage img) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ImageIO.write(img, "png", out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The slice with the largest summed heat (ties: the lowest index). */
    public static int hottestSlice(Volume heat) {
        float[] h = Metrics.toArray(heat);
        int plane = heat.nx() * heat.ny();
        int best = 0;
        double bestSum = -1;
        for (int z = 0; z < heat.nz(); z++) {
            double s = 0;
            for (int i = 0; i < plane; i++) {
                s += Math.abs(h[z * plane + i]);
            }
            if (s > bestSum) {
                bestSum = s;
                best = z;
            }
        }
        return best;
    }

    /** The {@code n} distinct slices with the largest summed heat, in ascending order. */
    public static int[] hottestSlices(Volume heat, int n) {
        float[] h = Metrics.toArray(heat);
        int plane = heat.nx() * heat.ny();
        double[] sums = new double[heat.nz()];
        for (int z = 0; z < heat.nz(); z++) {
            for (int i = 0; i < plane; i++) {
                sums[z] += Math.abs(h[z * plane + i]);
            }
        }
        Integer[] order = new Integer[heat.nz()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> Double.compare(sums[b], sums[a]));
        int k = Math.min(n, order.length);
        int[] out = new int[k];
        for (int i = 0; i < k; i++) {
            out[i] = order[i];
        }
        java.util.Arrays.sort(out);
        return out;
    }
}
