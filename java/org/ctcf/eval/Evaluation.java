package org.ctcf.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.api.ChunkSweep;
import org.ctcf.api.Classifier;
import org.ctcf.api.ExplainOptions;
import org.ctcf.api.Kernel;
import org.ctcf.api.LatentShift;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.Saliency;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.SweepResult;
import org.ctcf.core.Volume;
import org.ctcf.io.AtomicFiles;
import org.ctcf.io.VolumeIO;

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
        List<String> header = ResultsFile.header(o, hasPositions(m));
        Map<String, Row> done = ResultsFile.read(out.resolve(RESULTS), header, o);
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
            ResultsFile.write(out.resolve(RESULTS), header, rows, o);
            int left = 0;
            for (int j = i + 1; j < m.cases().size(); j++) {
                Row d = done.get(m.cases().get(j).name());
                if (d == null || !d.ok()) {
                    left++;
                }
            }
            listener.finished(i, m.cases().size(), r, spent / measured * left);
        }
        ResultsFile.write(out.resolve(RESULTS), header, rows, o);
        Map<String, Object> summary = EvaluationSummary.summarize(rows, o, m);
        EvaluationSummary.plots(rows, o, out);
        AtomicFiles.write(out.resolve(SUMMARY), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                .writeValueAsBytes(summary));
        return summary;
    }

    static boolean hasPositions(EvalManifest m) {
        return m.cases().stream().anyMatch(c -> c.position() != null);
    }

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
            double[] voxel = c.position() == null ? null : Localizer.worldToVoxel(x.geometry(), c.position());
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
                            loc.put(LATENT_SHIFT, Localizer.localize(x.geometry(), r.heatmap(), best.start(),
                                    best.end(), voxel, c.position()));
                        }
                    }
                }
            }
            if (voxel != null) {
                for (Saliency.Method sm : o.baselines()) {
                    try (Saliency.Map map = Saliency.compute(x, clf, o.explain().target(), sm, o.saliency(), null)) {
                        int[] top = Localizer.topChunk(map.values(), Math.min(main, x.nz()));
                        loc.put(sm.label(), Localizer.localize(x.geometry(), map.values(), top[0], top[1], voxel,
                                c.position()));
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
}
