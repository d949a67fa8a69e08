package org.ctcf.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.lang.reflect.Array;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

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
import org.ctcf.core.Shard;
import org.ctcf.core.Volume;
import org.ctcf.io.AtomicFiles;
import org.ctcf.io.VolumeIO;

import com.fasterxml.jackson.databind.JsonNode;
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
     * Latent Shift's rank-1 chunk on its own: the stitched map within that chunk's slices, which is the chunk's
     * change map (the other chunks' changes, e.g. of chunks that ran to the step limit without moving the prediction,
     * left out).
     */
    public static final String LATENT_SHIFT_CHUNK = "latent-shift-chunk";

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
        return run(k, ae, clf, m, o, Shard.ALL, out, listener);
    }

    /**
     * Runs (or resumes) the evaluation of the manifest's volumes that {@code shard} owns (by {@link
     * EvalManifest.Case#id()}) and writes results, summary and plots into {@code out} as a run over that subset
     * would; {@link #merge} combines the shards' folders into what one run over all volumes writes.
     */
    public static Map<String, Object> run(Kernel k, SliceAutoencoder ae, Classifier clf, EvalManifest m, Options o,
            Shard shard, Path out, Listener listener) throws IOException {
        Files.createDirectories(out);
        // the columns follow the whole manifest, not the shard's rows, so that every shard writes the same header
        ResultsFile.Columns cols = ResultsFile.Columns.of(o, hasPositions(m));
        Map<String, Row> done = ResultsFile.read(out.resolve(RESULTS), cols);
        List<EvalManifest.Case> cases = m.cases().stream().filter(c -> shard.owns(c.id())).toList();
        List<Row> rows = new ArrayList<>();
        double spent = 0;
        int measured = 0;
        for (int i = 0; i < cases.size(); i++) {
            EvalManifest.Case c = cases.get(i);
            Row prev = done.get(c.name());
            if (prev != null && prev.ok()) {
                rows.add(prev);
                continue;
            }
            listener.started(i, cases.size(), c);
            Row r = evaluateCase(k, ae, clf, c, o);
            rows.add(r);
            spent += r.seconds();
            measured++;
            ResultsFile.write(out.resolve(RESULTS), cols, rows);
            int left = 0;
            for (int j = i + 1; j < cases.size(); j++) {
                Row d = done.get(cases.get(j).name());
                if (d == null || !d.ok()) {
                    left++;
                }
            }
            listener.finished(i, cases.size(), r, spent / measured * left);
        }
        ResultsFile.write(out.resolve(RESULTS), cols, rows);
        return finish(out, cols, m.file().toString(), configuration(ae, clf, o), shard);
    }

    /**
     * The one way {@code summary.json} and the plots come about, for a run and for a merge: from the rows of
     * {@code out}'s {@code results.csv} as written (so a merge of shards computes exactly the numbers of one run).
     */
    static Map<String, Object> finish(Path out, ResultsFile.Columns cols, String manifest,
            Map<String, Object> configuration, Shard shard) throws IOException {
        List<Row> rows = new ArrayList<>(ResultsFile.read(out.resolve(RESULTS), cols).values());
        Map<String, Object> summary = new LinkedHashMap<>();
        Map<String, Object> stats = EvaluationSummary.summarize(rows, cols, manifest);
        summary.put("manifest", stats.remove("manifest"));
        if (shard.count() > 1) {
            summary.put("shard", shard.toString());
        }
        summary.put(CONFIGURATION, configuration);
        summary.putAll(stats);
        EvaluationSummary.plots(rows, cols, out);
        AtomicFiles.write(out.resolve(SUMMARY), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                .writeValueAsBytes(summary));
        return summary;
    }

    /** The key of {@code summary.json}'s record of what produced the rows. */
    static final String CONFIGURATION = "configuration";
    /** The fields of {@link #CONFIGURATION} that shards must share to be merged. */
    static final List<String> CONFIGURATION_FIELDS = List.of("options", "classifier", "autoencoder");

    /**
     * What produced the rows: the options, the classifier and the autoencoder (compared by {@link #merge}, recorded
     * in {@code summary.json}).
     */
    public static Map<String, Object> configuration(SliceAutoencoder ae, Classifier clf, Options o) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("options", describe(o));
        Map<String, Object> cl = new LinkedHashMap<>();
        var card = clf.card();  // null for a classifier defined in code
        if (card != null) {
            cl.put("name", card.name());
            // file names, not paths: shards on machines that keep the models in different folders still merge
            cl.put("card", card.file() == null ? null : String.valueOf(card.file().getFileName()));
            cl.put("torchscript", card.torchScript() == null ? null : String.valueOf(card.torchScript().getFileName()));
            cl.put("architecture", card.architecture());
        }
        cl.put("layout", clf.layout().name());
        cl.put("parameters", clf.parameterCount());
        c.put("classifier", cl);
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("config", describe(ae.config()));
        a.put("wrapper", describe(ae.wrapper()));
        a.put("parameters", ae.parameterCount());
        c.put("autoencoder", a);
        return c;
    }

    /** A record as a map of its components, arrays as lists: a stable text for equal configurations. */
    static Object describe(Object v) {
        if (v == null || v instanceof Number || v instanceof Boolean || v instanceof String) {
            return v;
        }
        if (v instanceof Enum<?> e) {
            return e.name();
        }
        if (v instanceof Record r) {
            Map<String, Object> m = new LinkedHashMap<>();
            for (RecordComponent rc : r.getClass().getRecordComponents()) {
                try {
                    m.put(rc.getName(), describe(rc.getAccessor().invoke(r)));
                } catch (ReflectiveOperationException e) {
                    m.put(rc.getName(), String.valueOf(e));
                }
            }
            return m;
        }
        if (v.getClass().isArray()) {
            List<Object> l = new ArrayList<>();
            for (int i = 0; i < Array.getLength(v); i++) {
                l.add(describe(Array.get(v, i)));
            }
            return l;
        }
        if (v instanceof Iterable<?> it) {
            List<Object> l = new ArrayList<>();
            it.forEach(x -> l.add(describe(x)));
            return l;
        }
        if (v instanceof Map<?, ?> mp) {
            Map<String, Object> m = new LinkedHashMap<>();
            mp.forEach((key, val) -> m.put(String.valueOf(key), describe(val)));
            return m;
        }
        return v.toString();
    }

    /**
     * {@code ctcf evaluate --merge}: combines the folders of shard runs into {@code out}'s {@code results.csv},
     * {@code summary.json} and plots, exactly as one unsharded run writes them. The shards must come from the same
     * configuration (the {@link #CONFIGURATION_FIELDS} of their {@code summary.json}, the columns and the manifest),
     * no volume may appear in two of them, and every shard of I/N must be there. Rows follow the manifest's order
     * ({@code manifest}, or the one the shards recorded); when it cannot be read, they are sorted by volume name.
     */
    public static Map<String, Object> merge(List<Path> dirs, Path manifest, Path out) throws IOException {
        if (dirs.isEmpty()) {
            throw new IllegalArgumentException("--merge needs the shards' folders");
        }
        ObjectMapper json = new ObjectMapper();
        ResultsFile.Columns cols = null;
        JsonNode first = null;
        Path firstDir = null;
        Map<String, Row> rows = new LinkedHashMap<>();
        Map<String, Path> from = new HashMap<>();
        Map<Integer, Path> shards = new HashMap<>();
        int count = -1;
        for (Path d : dirs) {
            Path results = d.resolve(RESULTS);
            Path summary = d.resolve(SUMMARY);
            if (!Files.isRegularFile(results) || !Files.isRegularFile(summary)) {
                throw new IOException(d + " holds no finished evaluation (" + RESULTS + " and " + SUMMARY
                        + " expected)");
            }
            if (out.toAbsolutePath().normalize().equals(d.toAbsolutePath().normalize())) {
                throw new IOException("the output folder " + out + " is one of the shards: choose another -o");
            }
            JsonNode s = json.readTree(summary.toFile());
            List<String> lines = Files.readAllLines(results);
            if (lines.isEmpty()) {
                throw new IOException(results + " is empty");
            }
            ResultsFile.Columns c = ResultsFile.Columns.parse(results, lines.get(0));
            if (first == null) {
                first = s;
                firstDir = d;
                cols = c;
            } else {
                if (!c.header().equals(cols.header())) {
                    throw new IOException(firstDir + " and " + d + " come from different configurations: the "
                            + "columns of " + RESULTS + " differ (chunk sizes, baselines or positions)");
                }
                for (String f : CONFIGURATION_FIELDS) {
                    if (!Objects.equals(first.path(CONFIGURATION).path(f), s.path(CONFIGURATION).path(f))) {
                        throw new IOException(firstDir + " and " + d + " come from different configurations: field '"
                                + CONFIGURATION + "." + f + "' of " + SUMMARY + " differs");
                    }
                }
                if (!first.path("manifest").equals(s.path("manifest"))) {
                    throw new IOException(firstDir + " and " + d + " come from different configurations: field "
                            + "'manifest' of " + SUMMARY + " differs (" + first.path("manifest").asText() + " vs "
                            + s.path("manifest").asText() + ")");
                }
            }
            for (Map.Entry<String, Row> e : ResultsFile.read(results, c).entrySet()) {
                Path other = from.putIfAbsent(e.getKey(), d);
                if (other != null) {
                    throw new IOException("volume " + e.getKey() + " is in both " + other + " and " + d
                            + ": a shard given twice, or shards of different --shard counts; merge each shard once");
                }
                rows.put(e.getKey(), e.getValue());
            }
            Shard sh = s.hasNonNull("shard") ? Shard.parse(s.get("shard").asText()) : Shard.ALL;
            if (count >= 0 && sh.count() != count) {
                throw new IOException(d + " is shard " + sh + " but " + firstDir + " is one of " + count
                        + " shards: merge the shards of one --shard I/N split");
            }
            count = sh.count();
            Path twin = shards.putIfAbsent(sh.index(), d);
            if (twin != null) {
                throw new IOException(twin + " and " + d + " are both shard " + sh + ": merge each shard once");
            }
        }
        List<String> missing = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            if (!shards.containsKey(i)) {
                missing.add(i + "/" + count);
            }
        }
        if (!missing.isEmpty()) {
            throw new IOException("shard(s) " + String.join(", ", missing) + " missing: give the folders of all "
                    + count + " shards");
        }
        String recorded = first.path("manifest").asText();
        Path mf = manifest != null ? manifest : recorded.isEmpty() ? null : Path.of(recorded);
        List<Row> ordered = new ArrayList<>();
        EvalManifest m = null;
        if (mf != null) {
            try {
                m = EvalManifest.read(mf, false);  // the scans need not be on the merging machine
            } catch (IOException e) {
                System.getLogger("org.ctcf.eval").log(System.Logger.Level.WARNING, "cannot read the manifest "
                        + mf + " (" + e.getMessage() + "): rows are sorted by volume name");
            }
        }
        if (m != null) {
            for (EvalManifest.Case c : m.cases()) {
                Row r = rows.remove(c.name());
                if (r == null) {
                    throw new IOException("volume " + c.name() + " of " + mf + " is in none of the shards");
                }
                ordered.add(r);
            }
            if (!rows.isEmpty()) {
                throw new IOException("the shards hold volumes that " + mf + " does not list: " + rows.keySet());
            }
        } else {
            rows.keySet().stream().sorted().forEach(n -> ordered.add(rows.get(n)));
        }
        Files.createDirectories(out);
        ResultsFile.write(out.resolve(RESULTS), cols, ordered);
        @SuppressWarnings("unchecked")
        Map<String, Object> config = json.convertValue(first.path(CONFIGURATION), LinkedHashMap.class);
        return finish(out, cols, recorded, config, Shard.ALL);
    }

    /** Whether any of the manifest's volumes has a finding position (which adds the localization columns). */
    public static boolean hasPositions(EvalManifest m) {
        return m.cases().stream().anyMatch(c -> c.position() != null);
    }

    /**
     * One volume's row, as {@link #run} computes it: a volume that fails (unreadable, malformed, the kernel refuses
     * it) becomes a row with status {@code error: ...} rather than an exception, so that a run, a shard or a cluster
     * task goes on; only a cancellation is thrown.
     */
    public static Row evaluateCase(Kernel k, SliceAutoencoder ae, Classifier clf, EvalManifest.Case c, Options o) {
        long t0 = System.nanoTime();
        try {
            return evaluate(k, ae, clf, c, o);
        } catch (org.ctcf.core.CtcfException.CancelledException e) {
            throw e;
        } catch (Exception e) {  // recorded; the run goes on with the next volume
            String msg = (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage())
                    .replaceAll("[\\r\\n,]+", " ");
            return failed(c, o, "error: " + msg, (System.nanoTime() - t0) / 1e9);
        }
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
                            // every chunk's heatmap on its own slices: the whole-volume peak and the best chunk's
                            float[] heat = Metrics.toArray(r.stitchedHeatmap());
                            loc.put(LATENT_SHIFT, Localizer.localize(x.geometry(), heat, best.start(), best.end(), 0,
                                    x.nz(), voxel, c.position()));
                            loc.put(LATENT_SHIFT_CHUNK, Localizer.localize(x.geometry(), heat, best.start(),
                                    best.end(), best.start(), best.end(), voxel, c.position()));
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
