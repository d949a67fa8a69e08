package org.ctcf.eval;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.eval.Evaluation.Row;
import org.ctcf.report.PlotWriter;

/**
 * The statistics of an evaluation over its finished rows: {@code summary.json} (Table 1 as mean ± SE, the tests,
 * the prediction drop per chunk size, the localization scores) and the two plots.
 */
final class EvaluationSummary {
    private EvaluationSummary() {
    }

    /**
     * The statistics of these rows (as read back from {@code results.csv}: a run and a merge of shards compute the
     * same numbers from the same text). {@code manifest}: the manifest's path as recorded.
     */
    static Map<String, Object> summarize(List<Row> rows, ResultsFile.Columns o, String manifest) {
        List<Row> ok = rows.stream().filter(Row::ok).toList();
        double[] pos = ok.stream().filter(Row::positive).mapToDouble(Row::p0).toArray();
        double[] neg = ok.stream().filter(r -> !r.positive()).mapToDouble(Row::p0).toArray();
        double[] cf = ok.stream().filter(Row::positive).mapToDouble(Row::minCf).toArray();
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("manifest", manifest);
        s.put("volumes", rows.size());
        s.put("failed", rows.stream().filter(r -> !r.ok()).map(r -> r.volume() + ": " + r.status()).toList());
        Map<String, Object> table = new LinkedHashMap<>();
        table.put("positives", meanSe(pos));
        table.put("negatives", meanSe(neg));
        table.put("counterfactuals_of_positives", meanSe(cf));
        s.put("table1", table);
        Map<String, Object> tests = new LinkedHashMap<>();
        tests.put("note", "two-sided; Welch's unequal-variance t-test and the Mann-Whitney U test (normal "
                + "approximation without tie correction), Apache Commons Math 3.6.1");
        tests.put("positives_vs_counterfactuals", tests(pos, cf));
        tests.put("negatives_vs_counterfactuals", tests(neg, cf));
        tests.put("positives_vs_negatives", tests(pos, neg));
        s.put("tests", tests);
        List<Map<String, Object>> chunks = new ArrayList<>();
        for (int i = 0; i < o.chunkSizes().size(); i++) {
            int j = i;
            double[] drop = ok.stream().filter(Row::positive).mapToDouble(r -> r.p0() - r.minCfByChunk()[j]).toArray();
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("chunk", o.chunkSizes().get(i));
            c.put("prediction_drop", meanSe(drop));
            chunks.add(c);
        }
        s.put("chunk_sizes", chunks);
        if (o.positions()) {
            Map<String, Object> loc = new LinkedHashMap<>();
            for (String method : o.methods()) {
                List<Evaluation.Localization> l = ok.stream().filter(Row::positive).map(r -> r.localization().get(method))
                        .filter(x -> x != null).toList();
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("n", l.size());
                e.put("top_chunk_hit_rate", l.isEmpty() ? Double.NaN
                        : l.stream().filter(Evaluation.Localization::hit).count() / (double) l.size());
                e.put("peak_distance_mm", meanSe(l.stream().mapToDouble(Evaluation.Localization::peakMm).toArray()));
                loc.put(method, e);
            }
            s.put("localization", loc);
        }
        s.put("seconds", ok.stream().mapToDouble(Row::seconds).sum());
        return s;
    }

    private static Map<String, Object> meanSe(double[] v) {
        Statistics.MeanSe m = Statistics.meanSe(v);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("mean", m.mean());
        out.put("se", m.se());
        out.put("n", m.n());
        return out;
    }

    private static Map<String, Object> tests(double[] a, double[] b) {
        Statistics.Welch w = Statistics.welch(a, b);
        Statistics.MannWhitney u = Statistics.mannWhitney(a, b);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("welch_t", w.t());
        out.put("welch_df", w.df());
        out.put("welch_p", w.p());
        out.put("mann_whitney_u", u.u());
        out.put("mann_whitney_p", u.p());
        return out;
    }

    static void plots(List<Row> rows, ResultsFile.Columns o, Path out) throws IOException {
        List<Row> ok = rows.stream().filter(Row::ok).toList();
        int n = o.chunkSizes().size();
        double[] x = new double[n];
        double[] mean = new double[n];
        double[] se = new double[n];
        for (int i = 0; i < n; i++) {
            int j = i;
            Statistics.MeanSe m = Statistics.meanSe(ok.stream().filter(Row::positive)
                    .mapToDouble(r -> r.p0() - r.minCfByChunk()[j]).toArray());
            x[i] = o.chunkSizes().get(i);
            mean[i] = Double.isNaN(m.mean()) ? 0 : m.mean();
            se[i] = m.se();
        }
        if (!PlotWriter.available()) {
            System.getLogger("org.ctcf.eval").log(System.Logger.Level.WARNING,
                    PlotWriter.skippedMessage(List.of(Evaluation.CHUNK_PLOT, Evaluation.DISTRIBUTION_PLOT)));
            return;
        }
        PlotWriter.write(PlotWriter.errorBars("prediction drop of positives by chunk size (mean ± SE)",
                "chunk size (slices)", "p0 − lowest CF prediction (probability)", x, mean, se),
                out.resolve(Evaluation.CHUNK_PLOT));
        PlotWriter.write(PlotWriter.strips("predictions (points; bars: group means)", PlotWriter.PREDICTION,
                new String[] {"positives", "negatives", "CF of positives"},
                new double[][] {ok.stream().filter(Row::positive).mapToDouble(Row::p0).toArray(),
                    ok.stream().filter(r -> !r.positive()).mapToDouble(Row::p0).toArray(),
                    ok.stream().filter(Row::positive).mapToDouble(Row::minCf).toArray()}),
                out.resolve(Evaluation.DISTRIBUTION_PLOT));
    }
}
