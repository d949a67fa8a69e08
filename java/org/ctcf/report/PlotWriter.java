package org.ctcf.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Paint;
import java.awt.Stroke;
import java.awt.geom.Ellipse2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;

import org.ctcf.io.AtomicFiles;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.block.BlockBorder;
import org.jfree.chart.plot.DatasetRenderingOrder;
import org.jfree.chart.plot.SeriesRenderingOrder;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.StandardXYBarPainter;
import org.jfree.chart.renderer.xy.XYBarRenderer;
import org.jfree.chart.renderer.xy.XYErrorRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.LegendTitle;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.chart.ui.RectangleInsets;
import org.jfree.data.xy.XYIntervalSeries;
import org.jfree.data.xy.XYIntervalSeriesCollection;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.data.xy.YIntervalSeries;
import org.jfree.data.xy.YIntervalSeriesCollection;

/**
 * The report's and the evaluation's plots as PNG, drawn by JFreeChart (LGPL-2.1-or-later): prediction along λ,
 * lowest prediction per chunk, change per slice, and the evaluation's chunk-size and distribution plots. Axes have
 * round ticks (1, 2 or 5 × 10^k; slice axes also powers of two that divide the slice count), titles with units,
 * and every series is in the legend; a probability axis is [0, 1] and a non-negative quantity's axis starts at 0.
 *
 * <p>A chart cannot be drawn without text (Java needs fontconfig and a font; see {@link Images#textAvailable()}):
 * {@link #available()} says whether it can, {@link #png} is then empty and {@link #write} writes nothing, so a
 * caller leaves the plot out (and out of its list of files) instead of writing an unlabelled one.
 */
public final class PlotWriter {
    private PlotWriter() {
    }

    /** The images' size in pixels. */
    public static final int W = 800;
    public static final int H = 400;

    /** What a prediction axis says when its values are probabilities. */
    public static final String PREDICTION = "prediction (probability)";
    public static final String SLICE = "slice (index, processed grid)";
    public static final String LAMBDA = "λ (latent shift)";

    /** The fix where plots cannot be drawn. */
    public static final String FONT_FIX = "apt-get install fontconfig fonts-dejavu-core";

    private static final Color BLUE = new Color(31, 119, 180);
    private static final Color GREEN = new Color(44, 160, 44);
    private static final Color ORANGE = new Color(255, 127, 14);
    private static final Color RED = new Color(214, 39, 40);
    private static final Color GRID = new Color(220, 220, 220);
    private static final Stroke DASHED = new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f,
            new float[] {7f, 5f}, 0f);
    private static final int MAX_INTERVALS = 6;

    /** Whether this machine can draw the plots (they need text: fontconfig and a font). */
    public static boolean available() {
        return Images.textAvailable();
    }

    /** The message for plots left out on a machine without fonts, naming them. */
    public static String skippedMessage(java.util.Collection<String> files) {
        return "not written: " + String.join(", ", files) + " (plots need text, and this machine cannot draw any: "
                + "Java needs fontconfig and a font; install them, e.g. " + FONT_FIX + "); all other outputs are "
                + "written, the images without their titles (orientation letters and slice positions need no font)";
    }

    /** The chart as a {@link #W}×{@link #H} PNG, or empty where this machine cannot draw text. */
    public static Optional<byte[]> png(JFreeChart chart) {
        return available() ? Optional.of(Images.png(render(chart))) : Optional.empty();
    }

    /** Writes the chart as a PNG; false (nothing written) where this machine cannot draw text. */
    public static boolean write(JFreeChart chart, Path out) throws IOException {
        Optional<byte[]> png = png(chart);
        if (png.isPresent()) {
            AtomicFiles.write(out, png.get());
        }
        return png.isPresent();
    }

    /** The chart drawn at {@link #W}×{@link #H} on white; needs text ({@link #available()}). */
    static BufferedImage render(JFreeChart chart) {
        return chart.createBufferedImage(W, H, BufferedImage.TYPE_INT_RGB, null);
    }

    /**
     * The prediction at each λ (line with markers, in the order given: the search's steps or the sweep's frames)
     * and the initial prediction (dashed).
     */
    public static JFreeChart lambdaPrediction(String title, double[] lambda, double[] prediction, double initial) {
        return line(title, LAMBDA, PREDICTION, lambda, prediction, "prediction", initial, "initial");
    }

    /** A line of y over x with markers, "y" in the legend; a dashed "reference" line at {@code ref} unless NaN. */
    public static JFreeChart line(String title, String xLabel, String yLabel, double[] x, double[] y, double ref) {
        return line(title, xLabel, yLabel, x, y, "y", ref, "reference");
    }

    static JFreeChart line(String title, String xLabel, String yLabel, double[] x, double[] y, String name,
            double ref, String refName) {
        if (x.length != y.length || x.length == 0) {
            throw new IllegalArgumentException("plot needs equally long, non-empty x and y");
        }
        XYSeries s = new XYSeries(name, false, true);
        for (int i = 0; i < x.length; i++) {
            s.add(x[i], y[i]);
        }
        NumberAxis xAxis = axis(xLabel, min(x), max(x), Scale.FREE);
        XYSeriesCollection data = new XYSeriesCollection(s);
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
        r.setSeriesPaint(0, BLUE);
        r.setSeriesStroke(0, new BasicStroke(2f));
        r.setSeriesShape(0, new Ellipse2D.Double(-3.5, -3.5, 7, 7));
        boolean hasRef = !Double.isNaN(ref);
        if (hasRef) {
            XYSeries rs = new XYSeries(refName, false, true);
            rs.add(xAxis.getLowerBound(), ref);
            rs.add(xAxis.getUpperBound(), ref);
            data.addSeries(rs);
            r.setSeriesPaint(1, RED);
            r.setSeriesStroke(1, DASHED);
            r.setSeriesShapesVisible(1, false);
        }
        double[] all = hasRef ? concat(y, new double[] {ref}) : y;
        XYPlot plot = new XYPlot(data, xAxis, valueAxis(yLabel, all), r);
        return chart(title, plot);
    }

    /**
     * One bar per chunk over its slices [start, end) up to its lowest prediction ("lowest prediction per chunk";
     * the explained chunk, index {@code explained} or −1, in its own colour), the initial prediction dashed.
     * Chunks that overlap (a stride below the chunk size) are drawn half transparent, so the overlap shows.
     */
    public static JFreeChart chunkPrediction(String title, int[] start, int[] end, double[] lowest, double initial,
            int explained) {
        if (start.length != end.length || start.length != lowest.length || start.length == 0) {
            throw new IllegalArgumentException("plot needs equally long, non-empty starts, ends and predictions");
        }
        XYIntervalSeries chunks = new XYIntervalSeries("lowest prediction per chunk");
        XYIntervalSeries focus = new XYIntervalSeries("explained chunk");
        int first = Integer.MAX_VALUE;
        int last = Integer.MIN_VALUE;
        for (int i = 0; i < start.length; i++) {
            XYIntervalSeries s = i == explained ? focus : chunks;
            s.add((start[i] + end[i]) / 2.0, start[i], end[i], lowest[i], 0, lowest[i]);
            first = Math.min(first, start[i]);
            last = Math.max(last, end[i]);
        }
        XYIntervalSeriesCollection bars = new XYIntervalSeriesCollection();
        bars.addSeries(chunks);
        if (focus.getItemCount() > 0) {
            bars.addSeries(focus);
        }
        XYBarRenderer br = new XYBarRenderer();
        br.setBarPainter(new StandardXYBarPainter());
        br.setShadowVisible(false);
        br.setDrawBarOutline(true);
        br.setSeriesPaint(0, alpha(GREEN, 170));
        br.setSeriesOutlinePaint(0, GREEN.darker());
        br.setSeriesPaint(1, alpha(ORANGE, 200));
        br.setSeriesOutlinePaint(1, ORANGE.darker());
        NumberAxis x = sliceAxis(first, last);
        XYPlot plot = new XYPlot(bars, x, valueAxis(PREDICTION, concat(lowest, new double[] {initial})), br);
        plot.setSeriesRenderingOrder(SeriesRenderingOrder.FORWARD);  // the explained chunk over the others
        if (!Double.isNaN(initial)) {
            XYSeries p0 = new XYSeries("initial prediction", false, true);
            p0.add(first, initial);
            p0.add(last, initial);
            XYLineAndShapeRenderer lr = new XYLineAndShapeRenderer(true, false);
            lr.setSeriesPaint(0, RED);
            lr.setSeriesStroke(0, DASHED);
            plot.setDataset(1, new XYSeriesCollection(p0));
            plot.setRenderer(1, lr);
            plot.setDatasetRenderingOrder(DatasetRenderingOrder.FORWARD);  // the line over the bars
        }
        return chart(title, plot);
    }

    /**
     * A non-negative per-slice quantity as one bar per slice [z, z + 1), slices {@code first} … on a y axis from 0
     * titled {@code yLabel} (give the unit); the legend names it {@code name}.
     */
    public static JFreeChart perSlice(String title, String yLabel, String name, int first, double[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("plot needs at least one slice");
        }
        XYIntervalSeries s = new XYIntervalSeries(name);
        for (int i = 0; i < values.length; i++) {
            s.add(first + i + 0.5, first + i, first + i + 1, values[i], 0, values[i]);
        }
        XYBarRenderer r = new XYBarRenderer();
        r.setBarPainter(new StandardXYBarPainter());
        r.setShadowVisible(false);
        r.setSeriesPaint(0, BLUE);
        XYIntervalSeriesCollection data = new XYIntervalSeriesCollection();
        data.addSeries(s);
        XYPlot plot = new XYPlot(data, sliceAxis(first, first + values.length),
                axis(yLabel, 0, max(values), Scale.FROM_ZERO), r);
        return chart(title, plot);
    }

    /** Means with ± error bars over x (the paper's Fig. 5A: chunk size against the prediction drop). */
    public static JFreeChart errorBars(String title, String xLabel, String yLabel, double[] x, double[] mean,
            double[] err) {
        if (x.length != mean.length || x.length != err.length || x.length == 0) {
            throw new IllegalArgumentException("plot needs equally long, non-empty x, mean and error");
        }
        YIntervalSeries s = new YIntervalSeries("mean ± SE");
        double[] lo = new double[x.length];
        double[] hi = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double e = Double.isFinite(err[i]) ? err[i] : 0;
            lo[i] = mean[i] - e;
            hi[i] = mean[i] + e;
            s.add(x[i], mean[i], lo[i], hi[i]);
        }
        YIntervalSeriesCollection data = new YIntervalSeriesCollection();
        data.addSeries(s);
        XYErrorRenderer r = new XYErrorRenderer();
        r.setDefaultLinesVisible(true);
        r.setSeriesPaint(0, BLUE);
        r.setSeriesStroke(0, new BasicStroke(2f));
        r.setErrorPaint(BLUE);
        r.setErrorStroke(new BasicStroke(1.5f));
        r.setCapLength(8);
        r.setSeriesShape(0, new Ellipse2D.Double(-4, -4, 8, 8));
        double[] all = concat(lo, hi);
        XYPlot plot = new XYPlot(data, axis(xLabel, min(x), max(x), Scale.FREE),
                axis(yLabel, Math.min(0, min(all)), max(all), Scale.FREE), r);
        return chart(title, plot);
    }

    /** Each group's values as jittered points with its mean as a dark bar (the paper's Fig. 5B distributions). */
    public static JFreeChart strips(String title, String yLabel, String[] groups, double[][] values) {
        if (groups.length != values.length || groups.length == 0) {
            throw new IllegalArgumentException("one value list per group");
        }
        String[] names = new String[groups.length];
        XYSeriesCollection points = new XYSeriesCollection();
        XYSeriesCollection means = new XYSeriesCollection();
        Random jitter = new Random(1);
        double[] all = new double[0];
        Color[] colors = {RED, BLUE, GREEN};
        XYLineAndShapeRenderer pr = new XYLineAndShapeRenderer(false, true);
        XYLineAndShapeRenderer mr = new XYLineAndShapeRenderer(true, false);
        for (int k = 0; k < groups.length; k++) {
            names[k] = groups[k] + " (n=" + values[k].length + ")";
            XYSeries s = new XYSeries(names[k], false, true);
            double sum = 0;
            for (double v : values[k]) {
                s.add(k + (jitter.nextDouble() - 0.5) * 0.3, v);
                sum += v;
            }
            points.addSeries(s);
            pr.setSeriesPaint(k, alpha(colors[k % colors.length], 190));
            pr.setSeriesShape(k, new Ellipse2D.Double(-3.5, -3.5, 7, 7));
            XYSeries m = new XYSeries("mean, " + groups[k], false, true);
            if (values[k].length > 0) {
                m.add(k - 0.3, sum / values[k].length);
                m.add(k + 0.3, sum / values[k].length);
            }
            means.addSeries(m);
            mr.setSeriesPaint(k, colors[k % colors.length].darker());
            mr.setSeriesStroke(k, new BasicStroke(3f));
            mr.setSeriesVisibleInLegend(k, false);
            all = concat(all, values[k]);
        }
        SymbolAxis x = new SymbolAxis("", names);
        x.setRange(-0.5, groups.length - 0.5);
        x.setGridBandsVisible(false);
        XYPlot plot = new XYPlot(points, x, valueAxis(yLabel, all.length == 0 ? new double[] {0, 1} : all), pr);
        plot.setDataset(1, means);
        plot.setRenderer(1, mr);
        plot.setDatasetRenderingOrder(DatasetRenderingOrder.FORWARD);
        JFreeChart c = chart(title, plot);
        c.getLegend().setVisible(false);  // the groups are the x axis' labels
        return c;
    }

    /** How an axis' range is chosen. */
    enum Scale {
        /** from 0 up to a round number above the largest value (a non-negative quantity) */
        FROM_ZERO,
        /** the values with a small margin each side */
        FREE
    }

    /** A prediction axis: [0, 1] in steps of 0.2 when every value is a probability, else as the values need. */
    static NumberAxis valueAxis(String label, double[] v) {
        double lo = min(v);
        double hi = max(v);
        if (lo >= 0 && hi <= 1) {
            NumberAxis a = new NumberAxis(label);
            a.setRange(0, 1);
            a.setTickUnit(new NumberTickUnit(0.2, format(0.2)), false, true);
            return a;
        }
        return axis(label, lo, hi, Scale.FREE);
    }

    /** A value axis over [lo, hi] with round ticks. */
    static NumberAxis axis(String label, double lo, double hi, Scale scale) {
        if (!Double.isFinite(lo) || !Double.isFinite(hi)) {  // no finite value: a unit range
            lo = 0;
            hi = 1;
        }
        if (scale == Scale.FROM_ZERO) {
            lo = 0;
            hi = Math.max(hi, 0);
        }
        if (hi - lo < 1e-12) {
            double d = Math.max(Math.abs(hi) * 0.1, scale == Scale.FROM_ZERO ? 1 : 0.5);
            hi += d;
            lo = scale == Scale.FROM_ZERO ? 0 : lo - d;
        }
        double step = niceStep(hi - lo, MAX_INTERVALS);
        double upper;
        double lower;
        if (scale == Scale.FROM_ZERO) {
            lower = 0;
            upper = Math.ceil((hi + 0.02 * (hi - lo)) / step - 1e-9) * step;  // a round top a little above
        } else {
            double pad = 0.04 * (hi - lo);
            lower = lo - pad;
            upper = hi + pad;
        }
        NumberAxis a = new NumberAxis(label);
        a.setAutoRangeIncludesZero(false);
        a.setRange(lower, upper);
        a.setTickUnit(new NumberTickUnit(step, format(step)), false, true);
        return a;
    }

    /**
     * A slice axis over [first, last] (slice z spans [z, z + 1)) with integer ticks: the smallest power of two or
     * 1, 2, 5 × 10^k that divides the span into at most 6 parts (0, 16, 32, 48, 64 for 64 slices), else a 1-2-5
     * step.
     */
    static NumberAxis sliceAxis(int first, int last) {
        int n = Math.max(1, last - first);
        NumberAxis a = new NumberAxis(SLICE);
        a.setAutoRangeIncludesZero(false);
        a.setRange(first, first + n);
        double step = sliceStep(n);
        a.setTickUnit(new NumberTickUnit(step, format(step)), false, true);
        return a;
    }

    static double sliceStep(int n) {
        for (long u = 1; u <= n; u++) {
            if (n % u == 0 && n / u <= MAX_INTERVALS && (isPowerOfTwo(u) || isOneTwoFive(u))) {
                return u;
            }
        }
        return Math.max(1, niceStep(n, MAX_INTERVALS));
    }

    private static boolean isPowerOfTwo(long u) {
        return Long.bitCount(u) == 1;
    }

    private static boolean isOneTwoFive(long u) {
        while (u % 10 == 0) {
            u /= 10;
        }
        return u == 1 || u == 2 || u == 5;
    }

    /** The smallest 1, 2 or 5 × 10^k that divides {@code span} into at most {@code intervals} parts. */
    static double niceStep(double span, int intervals) {
        double raw = span / intervals;
        double base = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double m : new double[] {1, 2, 5, 10}) {
            if (m * base >= raw * (1 - 1e-9)) {
                return m * base;
            }
        }
        return 10 * base;
    }

    /** Tick labels with as many decimals as the step needs (0.2 → "0.2", 16 → "16", 0.05 → "0.05"). */
    private static DecimalFormat format(double step) {
        int decimals = Math.max(0, (int) Math.ceil(-Math.log10(step) - 1e-9));
        DecimalFormat f = new DecimalFormat(decimals == 0 ? "0" : "0." + "0".repeat(decimals),
                DecimalFormatSymbols.getInstance(Locale.ROOT));
        return f;
    }

    private static JFreeChart chart(String title, XYPlot plot) {
        Font tick = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
        Font label = new Font(Font.SANS_SERIF, Font.PLAIN, 14);
        for (int i = 0; i < plot.getDomainAxisCount(); i++) {
            style(plot.getDomainAxis(i), tick, label);
        }
        for (int i = 0; i < plot.getRangeAxisCount(); i++) {
            style(plot.getRangeAxis(i), tick, label);
        }
        plot.setBackgroundPaint(Color.WHITE);
        plot.setOutlinePaint(Color.GRAY);
        plot.setDomainGridlinePaint(GRID);
        plot.setRangeGridlinePaint(GRID);
        plot.setDomainGridlineStroke(new BasicStroke(1f));
        plot.setRangeGridlineStroke(new BasicStroke(1f));
        plot.setAxisOffset(RectangleInsets.ZERO_INSETS);
        JFreeChart c = new JFreeChart(title, new Font(Font.SANS_SERIF, Font.BOLD, 16), plot, true);
        c.setBackgroundPaint(Color.WHITE);
        c.setAntiAlias(true);
        c.setTextAntiAlias(true);
        c.setPadding(new RectangleInsets(6, 6, 6, 12));
        TextTitle t = c.getTitle();
        t.setPaint(Color.BLACK);
        LegendTitle l = c.getLegend();
        l.setItemFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        l.setBackgroundPaint(Color.WHITE);
        l.setFrame(BlockBorder.NONE);
        l.setPosition(RectangleEdge.BOTTOM);
        return c;
    }

    private static void style(org.jfree.chart.axis.ValueAxis a, Font tick, Font label) {
        if (a == null) {
            return;
        }
        a.setTickLabelFont(tick);
        a.setLabelFont(label);
        a.setTickLabelPaint(Color.BLACK);
        a.setLabelPaint(Color.BLACK);
        a.setAxisLinePaint(Color.GRAY);
    }

    private static Paint alpha(Color c, int a) {
        return new Color(c.getRed(), c.getGreen(), c.getBlue(), a);
    }

    private static double[] concat(double[] a, double[] b) {
        double[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** The smallest finite value (+∞ if none). */
    private static double min(double[] v) {
        double m = Double.POSITIVE_INFINITY;
        for (double d : v) {
            if (Double.isFinite(d)) {
                m = Math.min(m, d);
            }
        }
        return m;
    }

    /** The largest finite value (−∞ if none). */
    private static double max(double[] v) {
        double m = Double.NEGATIVE_INFINITY;
        for (double d : v) {
            if (Double.isFinite(d)) {
                m = Math.max(m, d);
            }
        }
        return m;
    }
}
