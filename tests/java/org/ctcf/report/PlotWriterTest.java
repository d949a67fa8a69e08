package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.awt.BasicStroke;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import javax.imageio.ImageIO;

import org.jfree.chart.JFreeChart;
import org.jfree.chart.LegendItem;
import org.jfree.chart.LegendItemCollection;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.XYPlot;
import org.junit.jupiter.api.Test;

/** The plots' axes (round ticks, titles with units, 0-based non-negative axes, [0, 1] probabilities) and PNGs. */
class PlotWriterTest {
    private static NumberAxis x(JFreeChart c) {
        return (NumberAxis) c.getXYPlot().getDomainAxis();
    }

    private static NumberAxis y(JFreeChart c) {
        return (NumberAxis) c.getXYPlot().getRangeAxis();
    }

    private static List<String> legend(JFreeChart c) {
        LegendItemCollection items = c.getXYPlot().getLegendItems();
        List<String> out = new ArrayList<>();
        for (int i = 0; i < items.getItemCount(); i++) {
            out.add(items.get(i).getLabel());
        }
        return out;
    }

    private static LegendItem legendItem(JFreeChart c, String label) {
        LegendItemCollection items = c.getXYPlot().getLegendItems();
        for (int i = 0; i < items.getItemCount(); i++) {
            if (items.get(i).getLabel().equals(label)) {
                return items.get(i);
            }
        }
        throw new AssertionError("no legend item " + label + " in " + legend(c));
    }

    /** 1, 2 or 5 × 10^k, or a power of two for slices. */
    private static boolean round(double step, boolean slices) {
        double k = Math.floor(Math.log10(step) + 1e-9);
        double m = step / Math.pow(10, k);
        boolean oneTwoFive = Math.abs(m - 1) < 1e-9 || Math.abs(m - 2) < 1e-9 || Math.abs(m - 5) < 1e-9;
        boolean powerOfTwo = step >= 1 && step == Math.rint(step) && Long.bitCount((long) step) == 1;
        return oneTwoFive || (slices && powerOfTwo);
    }

    /** The ticks an axis draws: multiples of its tick unit within its range. */
    private static List<Double> ticks(NumberAxis a) {
        double u = a.getTickUnit().getSize();
        List<Double> t = new ArrayList<>();
        for (double v = Math.ceil(a.getLowerBound() / u - 1e-9) * u; v <= a.getUpperBound() + 1e-9; v += u) {
            t.add(Math.abs(v) < 1e-12 ? 0 : v);
        }
        return t;
    }

    private static BufferedImage drawn(JFreeChart c) throws IOException {
        byte[] png = PlotWriter.png(c).orElseThrow();
        return ImageIO.read(new ByteArrayInputStream(png));
    }

    /** How many pixels are not white, and how many of them are coloured (not gray). */
    private static int[] ink(BufferedImage img) {
        int dark = 0;
        int coloured = 0;
        for (int r = 0; r < img.getHeight(); r++) {
            for (int c = 0; c < img.getWidth(); c++) {
                int rgb = img.getRGB(c, r) & 0xffffff;
                int red = rgb >> 16;
                int green = (rgb >> 8) & 0xff;
                int blue = rgb & 0xff;
                if (rgb != 0xffffff) {
                    dark++;
                }
                if (Math.max(red, Math.max(green, blue)) - Math.min(red, Math.min(green, blue)) > 60) {
                    coloured++;
                }
            }
        }
        return new int[] {dark, coloured};
    }

    @Test
    void theChangePerSliceStartsAtZeroWithRoundTicksOverTheSlices() throws IOException {
        double[] change = new double[64];
        for (int i = 0; i < change.length; i++) {
            change[i] = 3.7 + 20 * Math.exp(-Math.pow((i - 30) / 5.0, 2));  // nothing near 0: autoscale would not start there
        }
        JFreeChart c = PlotWriter.perSlice("change per slice", "mean |Δ| per voxel (HU)", "mean |heatmap|", 0, change);
        BufferedImage img = drawn(c);  // first: drawing must keep the axes (no tick unit chosen anew)
        assertThat(y(c).getLowerBound()).isEqualTo(0.0);
        assertThat(y(c).getUpperBound()).isGreaterThanOrEqualTo(23.7).isLessThan(30.0);
        assertThat(round(y(c).getTickUnit().getSize(), false)).as("tick %s", y(c).getTickUnit()).isTrue();
        assertThat(ticks(y(c))).containsExactly(0.0, 5.0, 10.0, 15.0, 20.0, 25.0);
        assertThat(y(c).getLabel()).isEqualTo("mean |Δ| per voxel (HU)");
        assertThat(x(c).getLabel()).isEqualTo("slice (index, processed grid)");
        assertThat(x(c).getLowerBound()).isEqualTo(0.0);
        assertThat(x(c).getUpperBound()).isEqualTo(64.0);
        assertThat(ticks(x(c))).containsExactly(0.0, 16.0, 32.0, 48.0, 64.0);
        assertThat(legend(c)).containsExactly("mean |heatmap|");
        assertThat(img.getWidth()).isEqualTo(800);
        assertThat(img.getHeight()).isEqualTo(400);
        assertThat(ink(img)[1]).as("blue bars").isGreaterThan(2000);
        assertThat(img.getRGB(2, 2) & 0xffffff).as("white background").isEqualTo(0xffffff);
    }

    @Test
    void chunksAreBarsOverTheirSlicesOnAProbabilityAxisWithTheInitialPredictionDashed() throws IOException {
        int[] start = {0, 16, 32, 48};
        int[] end = {16, 32, 48, 64};
        double[] lowest = {0.61, 0.12, 0.55, 0.70};
        JFreeChart c = PlotWriter.chunkPrediction("lowest prediction", start, end, lowest, 0.749, 1);
        int[] ink = ink(drawn(c));
        assertThat(y(c).getLowerBound()).isEqualTo(0.0);
        assertThat(y(c).getUpperBound()).isEqualTo(1.0);
        assertThat(y(c).getTickUnit().getSize()).isCloseTo(0.2, within(1e-12));
        assertThat(y(c).getLabel()).isEqualTo("prediction (probability)");
        assertThat(ticks(x(c))).containsExactly(0.0, 16.0, 32.0, 48.0, 64.0);
        assertThat(legend(c)).containsExactly("lowest prediction per chunk", "explained chunk", "initial prediction");
        assertThat(((BasicStroke) legendItem(c, "initial prediction").getLineStroke()).getDashArray()).isNotNull();
        // the bars span [start, end): the explained chunk's series holds chunk 1 alone
        XYPlot plot = c.getXYPlot();
        var bars = (org.jfree.data.xy.IntervalXYDataset) plot.getDataset(0);
        assertThat(bars.getItemCount(1)).isEqualTo(1);
        assertThat(bars.getStartXValue(1, 0)).isEqualTo(16.0);
        assertThat(bars.getEndXValue(1, 0)).isEqualTo(32.0);
        assertThat(bars.getYValue(1, 0)).isEqualTo(0.12);
        assertThat(ink[0]).isGreaterThan(10000);
        assertThat(ink[1]).isGreaterThan(2000);
    }

    @Test
    void theLambdaPlotHasRoundLambdaTicksAndAPredictionAxisFromZeroToOne() throws IOException {
        double[] lambda = {0, -10, -21, -34, -48.3};
        double[] p = {0.749, 0.61, 0.44, 0.263, 0.11};
        JFreeChart c = PlotWriter.lambdaPrediction("prediction along the latent shift", lambda, p, 0.749);
        BufferedImage img = drawn(c);
        assertThat(x(c).getLabel()).isEqualTo("λ (latent shift)");
        assertThat(x(c).getLowerBound()).isLessThan(-48.3);
        assertThat(x(c).getUpperBound()).isGreaterThan(0.0);
        assertThat(x(c).getTickUnit().getSize()).isEqualTo(10.0);
        assertThat(ticks(x(c))).containsExactly(-50.0, -40.0, -30.0, -20.0, -10.0, 0.0);
        assertThat(y(c).getLowerBound()).isEqualTo(0.0);
        assertThat(y(c).getUpperBound()).isEqualTo(1.0);
        assertThat(ticks(y(c))).hasSize(6).allSatisfy(t -> assertThat(t * 5).isCloseTo(Math.rint(t * 5),
                within(1e-9)));
        assertThat(legend(c)).containsExactly("prediction", "initial");
        assertThat(((BasicStroke) legendItem(c, "initial").getLineStroke()).getDashArray()).isNotNull();
        assertThat(img.getWidth()).isEqualTo(PlotWriter.W);
        assertThat(ink(img)[1]).isGreaterThan(500);
    }

    @Test
    void valuesThatAreNotProbabilitiesGetAnAxisThatHoldsThem() throws IOException {
        JFreeChart c = PlotWriter.line("logits", "λ (latent shift)", "logit", new double[] {0, -5},
                new double[] {2.3, -1.4}, 2.3);
        assertThat(drawn(c)).isNotNull();
        assertThat(y(c).getLowerBound()).isLessThan(-1.4);
        assertThat(y(c).getUpperBound()).isGreaterThan(2.3);
        assertThat(round(y(c).getTickUnit().getSize(), false)).isTrue();
        assertThat(round(x(c).getTickUnit().getSize(), false)).isTrue();
    }

    @Test
    void stepsAreRound() {
        assertThat(PlotWriter.sliceStep(64)).isEqualTo(16);
        assertThat(PlotWriter.sliceStep(16)).isEqualTo(4);
        assertThat(PlotWriter.sliceStep(100)).isEqualTo(20);
        assertThat(PlotWriter.sliceStep(105)).isEqualTo(20);  // nothing round divides 105: 0, 20, …, 100
        assertThat(PlotWriter.sliceStep(3)).isEqualTo(1);
        assertThat(PlotWriter.niceStep(0.749, 6)).isCloseTo(0.2, within(1e-12));
        assertThat(PlotWriter.niceStep(52.5, 6)).isEqualTo(10.0);
        assertThat(PlotWriter.niceStep(26.3, 6)).isEqualTo(5.0);
        for (double span = 0.013; span < 5e4; span *= 1.37) {
            assertThat(round(PlotWriter.niceStep(span, 6), false)).as("span %s", span).isTrue();
            assertThat(span / PlotWriter.niceStep(span, 6)).isLessThanOrEqualTo(6 + 1e-9);
        }
    }

    @Test
    void theEvaluationPlotsDraw() throws IOException {
        JFreeChart e = PlotWriter.errorBars("drop", "chunk size (slices)", "drop", new double[] {10, 20, 40},
                new double[] {0.1, 0.25, 0.3}, new double[] {0.02, Double.NaN, 0.05});
        assertThat(y(e).getLowerBound()).isLessThanOrEqualTo(0.0);
        assertThat(ink(drawn(e))[1]).isGreaterThan(200);
        JFreeChart s = PlotWriter.strips("predictions", PlotWriter.PREDICTION, new String[] {"a", "b", "c"},
                new double[][] {{0.9, 0.8}, {0.1}, {}});
        assertThat(y(s).getUpperBound()).isEqualTo(1.0);
        assertThat(ink(drawn(s))[1]).isGreaterThan(50);
    }
}
