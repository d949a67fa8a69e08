package org.ctcf.eval;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.ctcf.api.ChunkSweep;
import org.ctcf.api.Classifier;
import org.ctcf.api.ExplainOptions;
import org.ctcf.api.Kernel;
import org.ctcf.api.LatentShift;
import org.ctcf.api.Metrics;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.Saliency;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.SweepResult;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.ctcf.io.AtomicFiles;
import org.ctcf.io.VolumeIO;
import org.ctcf.report.PlotWriter;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * A dataset evaluation (the paper's Table 1 and Fig. 5, plus localization, which the paper could not score):
 * a chunk sweep per volume, the predictions of positives, negatives and the counterfactuals of positives with
 * mean ± SE and two tests, the prediction drop per chunk size, and where positions are known, whether the
 * top-ranked chunk holds the finding and how far the heatmap's peak lies from it, against the same scores of the
 * saliency baselines. Results go to {@code results.csv} after every volume; a rerun skips finished volumes and
 * retries failed ones.
 */
public final class Evaluation {
    public static final String RESULTS = "results.csv";
    public static final String SUMMARY = "summary.json";
    public static final String CHUNK_PLOT = "chunk_size.png";
    public static final String DISTRIBUTION_PLOT = "distributions.png";
    /** The counterfactual's name among the localization methods. */
    public static final String LATENT_SHIFT = "latent-shift";

    /**
     * @param explain search options (a sweep with 2 frames per chunk, as the reference)
     * @param chunkSizes chunk sizes of the sweep; the first is the main one (table, localization), the others only
     *     add their prediction drop to the chunk-size plot
     * @param preprocessing how volumes become the classifier's input (its card's)
     * @param baselines saliency methods scored for localization beside the counterfactual
     */
    public record Options(ExplainOptions explain, PreprocessOptions preprocessing, List<Integer> chunkSizes,
            List<Saliency.Method> baselines, Saliency.Options saliency) {
        public Options {
            if (chunkSizes.isEmpty() || chunkSizes.stream().anyMatch(c -> c < 1)) {
                throw new IllegalArgumentException("chunk sizes must be >= 1 (at least one)");
            }
            chunkSizes = List.copyOf(chunkSizes);
            baselines = List.copyOf(baselines);
        }
    }

    /** Whether a method's top chunk holds the finding, and its peak's distance (mm) from the finding. */
    public record Localization(boolean hit, double peakMm) {
    }

    /** One volume's results; numbers are NaN where they do not apply (a failed volume, no position). */
    public record Row(String volume, boolean positive, String status, double p0, double minCf, double stitched,
            int bestStart, int bestEnd, double lambda, String stopReason, double seconds, double[] minCfByChunk,
            double findingSlice, Map<String, Localization> localization) {
        public boolean ok() {
            return status.equals("ok");
        }
    }

    /** Progress: before and after each volume, with the estimated time left. */
    public interface Listener {
        void started(int index, int count, EvalManifest.Case c);

        void finished(int index, int count, Row row, double etaSeconds);
    }

    private Evaluation() {
    }

    /** Runs (or resumes) the evaluation and writes results, summary and plots into {@code out}. */
    public static Map<String, Object> run(Kernel k, SliceAutoencoder ae, Classifier clf, EvalManifest m, Options o,
            Path out, Listener listener) throws IOException {
        Files.createDirectories(out);
        List<String> header = header(o, hasPositions(m));
        Map<String, Row> done = readDone(out.resolve(RESULTS), header, o);
        List<Row> rows = new ArrayList<>();
        double spent = 0;
        int measured = 0;
        for (int i = 0; i < m.cases().size(); i++) {
            EvalManifest.Case c = m.cases().get(i);
            Row prev = done.get(c.name());
            if (prev != null && prev.ok()) {
                rows.add(prev);
                continue;
            }
            listener.started(i, m.cases().size(), c);
            long t0 = System.nanoTime();
            Row r;
            try {
                r = evaluate(k, ae, clf, c, o);
            } catch (org.ctcf.core.CtcfException.CancelledException e) {
                throw e;
            } catch (Exception e) {  // recorded; the run goes on with the next volume
                String msg = (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage())
                        .replaceAll("[\\r\\n,]+", " ");
                r = failed(c, o, "error: " + msg, (System.nanoTime() - t0) / 1e9);
            }
            rows.add(r);
            spent += r.seconds();
            measured++;
            writeResults(out.resolve(RESULTS), header, rows, o);
            int left = 0;
            for (int j = i + 1; j < m.cases().size(); j++) {
                Row d = done.get(m.cases().get(j).name());
                if (d == null || !d.ok()) {
                    left++;
                }
            }
            listener.finished(i, m.cases().size(), r, spent / measured * left);
        }
        writeResults(out.resolve(RESULTS), header, rows, o);
        Map<String, Object> summary = summarize(rows, o, m);
        plots(rows, o, out);
        AtomicFiles.write(out.resolve(SUMMARY), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                .writeValueAsBytes(summary));
        return summary;
    }

    static boolean hasPositions(EvalManifest m) {
        return m.cases().stream().anyMatch(c -> c.position() != null);
    }

    // ---- one volume ------------------------------------------------------------------------------------------

    private static Row evaluate(Kernel k, SliceAutoencoder ae, Classifier clf, EvalManifest.Case c, Options o)
            throws IOException {
        long t0 = System.nanoTime();
        try (Volume ct = VolumeIO.read(c.volume()); Volume x = k.preprocess(ct, o.preprocessing())) {
            int main = o.chunkSizes().get(0);
            double[] byChunk = new double[o.chunkSizes().size()];
            double p0 = Double.NaN;
            double stitched = Double.NaN;
            SweepResult.Chunk best = null;
            Map<String, Localization> loc = new LinkedHashMap<>();
            double findingSlice = Double.NaN;
            double[] voxel = c.position() == null ? null : worldToVoxel(x.geometry(), c.position());
            if (voxel != null) {
                findingSlice = voxel[2];
            }
            for (int s = 0; s < o.chunkSizes().size(); s++) {
                int n = Math.min(o.chunkSizes().get(s), x.nz());
                ExplainOptions eo = o.explain().toBuilder().lambdaSweepSteps(2).focusFrames(0).build();
                try (SweepResult r = LatentShift.sweep(x, ae, clf, eo, ChunkSweep.of(n), null)) {
                    byChunk[s] = r.minimumPrediction();
                    if (s == 0) {
                        best = r.ranked().get(0);
                        p0 = r.initialPrediction();
                        stitched = r.stitchedPrediction();
                        if (voxel != null) {
                            loc.put(LATENT_SHIFT, localize(x.geometry(), r.heatmap(), best.start(), best.end(), voxel,
                                    c.position()));
                        }
                    }
                }
            }
            if (voxel != null) {
                for (Saliency.Method sm : o.baselines()) {
                    try (Saliency.Map map = Saliency.compute(x, clf, o.explain().target(), sm, o.saliency(), null)) {
                        int[] top = topChunk(map.values(), Math.min(main, x.nz()));
                        loc.put(sm.label(), localize(x.geometry(), map.values(), top[0], top[1], voxel, c.position()));
                    }
                }
            }
            double sec = (System.nanoTime() - t0) / 1e9;
            return new Row(c.name(), c.positive(), "ok", p0, byChunk[0], stitched, best.start(), best.end(),
                    best.bound(), best.stopReason().name(), sec, byChunk, findingSlice, loc);
        }
    }

    private static Row failed(EvalManifest.Case c, Options o, String status, double seconds) {
        double[] nan = new double[o.chunkSizes().size()];
        java.util.Arrays.fill(nan, Double.NaN);
        return new Row(c.name(), c.positive(), status, Double.NaN, Double.NaN, Double.NaN, -1, -1, Double.NaN, "",
                seconds, nan, Double.NaN, Map.of());
    }

    /** The chunk [i·n, min((i+1)·n, nz)) with the largest Σ|map| (the sweep's chunks, stride = size). */
    static int[] topChunk(Volume map, int n) {
        float[] v = Metrics.toArray(map);
        int plane = map.nx() * map.ny();
        int[] best = {0, Math.min(n, map.nz())};
        double bestSum = -1;
        for (int s = 0; s < map.nz(); s += n) {
            int e = Math.min(s + n, map.nz());
            double sum = 0;
            for (int i = s * plane; i < e * plane; i++) {
                sum += Math.abs(v[i]);
            }
            if (sum > bestSum) {
                bestSum = sum;
                best = new int[] {s, e};
            }
        }
        return best;
    }

    /** Hit = the finding's slice lies in [start, end); distance from the voxel of the largest |map| (mm). */
    static Localization localize(Geometry g, Volume map, int start, int end, double[] voxel, double[] world) {
        int z = (int) Math.round(voxel[2]);
        boolean hit = z >= start && z < end;
        float[] v = Metrics.toArray(map);
        int arg = 0;
        for (int i = 1; i < v.length; i++) {
            if (Math.abs(v[i]) > Math.abs(v[arg])) {
                arg = i;
            }
        }
        int px = arg % g.nx();
        int py = (arg / g.nx()) % g.ny();
        int pz = arg / (g.nx() * g.ny());
        double[] a = g.affine();
        double d2 = 0;
        for (int r = 0; r < 3; r++) {
            double w = a[r * 4] * px + a[r * 4 + 1] * py + a[r * 4 + 2] * pz + a[r * 4 + 3];
            d2 += (w - world[r]) * (w - world[r]);
        }
        return new Localization(hit, Math.sqrt(d2));
    }

    /** Continuous voxel coordinates of a world point (the inverse of the grid's affine). */
    static double[] worldToVoxel(Geometry g, double[] world) {
        double[] a = g.affine();
        double[][] m = new double[3][3];
        double[] b = new double[3];
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) {
                m[r][c] = a[r * 4 + c];
            }
            b[r] = world[r] - a[r * 4 + 3];
        }
        double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        double[] out = new double[3];
        for (int c = 0; c < 3; c++) {  // Cramer's rule
            double[][] mc = {m[0].clone(), m[1].clone(), m[2].clone()};
            for (int r = 0; r < 3; r++) {
                mc[r][c] = b[r];
            }
            double dc = mc[0][0] * (mc[1][1] * mc[2][2] - mc[1][2] * mc[2][1])
                    - mc[0][1] * (mc[1][0] * mc[2][2] - mc[1][2] * mc[2][0])
                    + mc[0][2] * (mc[1][0] * mc[2][1] - mc[1][1] * mc[2][0]);
            out[c] = dc / det;
        }
        return out;
    }

    // ---- results file ----------------------------------------------------------------------------------------

    static List<String> header(Options o, boolean positions) {
        List<String> h = new ArrayList<>(List.of("volume", "label", "status", "p0", "min_cf", "stitched", "best_start",
                "best_end", "lambda", "stop_reason", "seconds"));
        for (int c : o.chunkSizes()) {
            h.add("min_cf_chunk" + c);
        }
        if (positions) {
            h.add("finding_slice");
            for (String m : methods(o)) {
                h.add(m + "_hit");
                h.add(m + "_peak_mm");
            }
        }
        return h;
    }

    static List<String> methods(Options o) {
        List<String> l = new ArrayList<>(List.of(LATENT_SHIFT));
        o.baselines().forEach(b -> l.add(b.label()));
        return l;
    }

    private static void writeResults(Path file, List<String> header, List<Row> rows, Options o) throws IOException {
        StringBuilder sb = new StringBuilder(String.join(",", header)).append('\n');
        boolean positions = header.contains("finding_slice");
        for (Row r : rows) {
            List<String> f = new ArrayList<>(List.of(r.volume(), r.positive() ? "1" : "0", r.status(), num(r.p0()),
                    num(r.minCf()), num(r.stitched()), String.valueOf(r.bestStart()), String.valueOf(r.bestEnd()),
                    num(r.lambda()), r.stopReason(), String.format(Locale.ROOT, "%.2f", r.seconds())));
            for (double v : r.minCfByChunk()) {
                f.add(num(v));
            }
            if (positions) {
                f.add(num(r.findingSlice()));
                for (String m : methods(o)) {
                    Localization l = r.localization().get(m);
                    f.add(l == null ? "" : l.hit() ? "1" : "0");
                    f.add(l == null ? "" : num(l.peakMm()));
                }
            }
            sb.append(String.join(",", f)).append('\n');
        }
        AtomicFiles.write(file, sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.6g", v);
    }

    private static double parse(String s) {
        return s.isEmpty() ? Double.NaN : Double.parseDouble(s);
    }

    /** Rows of an earlier run, by volume path; the header must match these options. */
    private static Map<String, Row> readDone(Path file, List<String> header, Options o) throws IOException {
        Map<String, Row> out = new LinkedHashMap<>();
        if (!Files.isRegularFile(file)) {
            return out;
        }
        List<String> lines = Files.readAllLines(file);
        if (lines.isEmpty()) {
            return out;
        }
        if (!lines.get(0).equals(String.join(",", header))) {
            throw new IOException(file + " was written with other options (chunk sizes, baselines or positions): "
                    + "resume with the same options or choose another --out");
        }
        List<String> ms = methods(o);
        boolean positions = header.contains("finding_slice");
        for (int i = 1; i < lines.size(); i++) {
            String[] f = lines.get(i).split(",", -1);
            if (f.length != header.size()) {
                throw new IOException(file + ":" + (i + 1) + ": " + header.size() + " columns expected");
            }
            int c = 11;
            double[] byChunk = new double[o.chunkSizes().size()];
            for (int j = 0; j < byChunk.length; j++) {
                byChunk[j] = parse(f[c++]);
            }
            double finding = Double.NaN;
            Map<String, Localization> loc = new LinkedHashMap<>();
            if (positions) {
                finding = parse(f[c++]);
                for (String m : ms) {
                    String hit = f[c++];
                    String mm = f[c++];
                    if (!hit.isEmpty()) {
                        loc.put(m, new Localization(hit.equals("1"), parse(mm)));
                    }
                }
            }
            Row r = new Row(f[0], f[1].equals("1"), f[2], parse(f[3]), parse(f[4]), parse(f[5]),
                    Integer.parseInt(f[6]), Integer.parseInt(f[7]), parse(f[8]), f[9], parse(f[10]), byChunk, finding,
                    loc);
            out.put(f[0], r);
        }
        return out;  // by file name, as results.csv names volumes (the manifest's names are unique)
    }

    // ---- summary -------------------------------------------------------------------------------------------

    static Map<String, Object> summarize(List<Row> rows, Options o, EvalManifest m) {
        List<Row> ok = rows.stream().filter(Row::ok).toList();
        double[] pos = ok.stream().filter(Row::positive).mapToDouble(Row::p0).toArray();
        double[] neg = ok.stream().filter(r -> !r.positive()).mapToDouble(Row::p0).toArray();
        double[] cf = ok.stream().filter(Row::positive).mapToDouble(Row::minCf).toArray();
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("manifest", m.file().toString());
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
        if (hasPositions(m)) {
            Map<String, Object> loc = new LinkedHashMap<>();
            for (String method : methods(o)) {
                List<Localization> l = ok.stream().filter(Row::positive).map(r -> r.localization().get(method))
                        .filter(x -> x != null).toList();
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("n", l.size());
                e.put("top_chunk_hit_rate", l.isEmpty() ? Double.NaN
                        : l.stream().filter(Localization::hit).count() / (double) l.size());
                e.put("peak_distance_mm", meanSe(l.stream().mapToDouble(Localization::peakMm).toArray()));
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

    private static void plots(List<Row> rows, Options o, Path out) throws IOException {
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
        PlotWriter.write(PlotWriter.errorBars("prediction drop of positives by chunk size (mean ± SE)", "chunk size",
                "p0 - min CF", x, mean, se), out.resolve(CHUNK_PLOT));
        PlotWriter.write(PlotWriter.strips("predictions", "prediction",
                new String[] {"positives", "negatives", "CF of positives"},
                new double[][] {ok.stream().filter(Row::positive).mapToDouble(Row::p0).toArray(),
                    ok.stream().filter(r -> !r.positive()).mapToDouble(Row::p0).toArray(),
                    ok.stream().filter(Row::positive).mapToDouble(Row::minCf).toArray()}),
                out.resolve(DISTRIBUTION_PLOT));
    }
}
