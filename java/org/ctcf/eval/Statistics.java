package org.ctcf.eval;

import org.apache.commons.math3.distribution.TDistribution;
import org.apache.commons.math3.stat.inference.MannWhitneyUTest;

/**
 * The summary statistics of an evaluation: mean ± standard error (the paper's Table 1 layout), Welch's unequal
 * variance t-test and the Mann–Whitney U test (two-sided; Apache Commons Math 3).
 */
public final class Statistics {
    private Statistics() {
    }

    /** Mean, standard error of the mean (sample standard deviation / √n) and n. */
    public record MeanSe(double mean, double se, int n) {
        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "%.4f ± %.4f (n=%d)", mean, se, n);
        }
    }

    /**
     * Welch's t-test: t = (m1 − m2) / √(v1/n1 + v2/n2), Welch–Satterthwaite degrees of freedom, two-sided p.
     */
    public record Welch(double t, double df, double p) {
    }

    /** Mann–Whitney U of the first sample (ties counted ½), and the two-sided p of the normal approximation. */
    public record MannWhitney(double u, double p) {
    }

    public static MeanSe meanSe(double[] v) {
        int n = v.length;
        if (n == 0) {
            return new MeanSe(Double.NaN, Double.NaN, 0);
        }
        double m = 0;
        for (double d : v) {
            m += d;
        }
        m /= n;
        if (n == 1) {
            return new MeanSe(m, Double.NaN, 1);
        }
        double ss = 0;
        for (double d : v) {
            ss += (d - m) * (d - m);
        }
        return new MeanSe(m, Math.sqrt(ss / (n - 1)) / Math.sqrt(n), n);
    }

    public static Welch welch(double[] a, double[] b) {
        if (a.length < 2 || b.length < 2) {
            return new Welch(Double.NaN, Double.NaN, Double.NaN);
        }
        MeanSe x = meanSe(a);
        MeanSe y = meanSe(b);
        double va = x.se() * x.se();  // s²/n
        double vb = y.se() * y.se();
        double t = (x.mean() - y.mean()) / Math.sqrt(va + vb);
        double df = (va + vb) * (va + vb) / (va * va / (a.length - 1) + vb * vb / (b.length - 1));
        if (!Double.isFinite(t)) {
            return new Welch(t, df, Double.isNaN(t) ? Double.NaN : 0.0);
        }
        double p = 2 * new TDistribution(df).cumulativeProbability(-Math.abs(t));
        return new Welch(t, df, p);
    }

    public static MannWhitney mannWhitney(double[] a, double[] b) {
        if (a.length == 0 || b.length == 0) {
            return new MannWhitney(Double.NaN, Double.NaN);
        }
        double u = 0;
        for (double x : a) {
            for (double y : b) {
                u += x > y ? 1 : x == y ? 0.5 : 0;
            }
        }
        double p = new MannWhitneyUTest().mannWhitneyUTest(a, b);
        return new MannWhitney(u, p);
    }
}
