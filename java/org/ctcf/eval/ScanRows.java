package org.ctcf.eval;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.api.Saliency;
import org.ctcf.core.Shard;
import org.ctcf.io.AtomicFiles;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * An evaluation's rows committed one volume at a time, for engines that evaluate a manifest's volumes on many
 * machines at once (the Spark application): {@code DIR/<name>.csv} is a one-row {@code results.csv}, written
 * atomically, so a reader sees a whole row or none and a retried or speculative task replaces a row instead of adding
 * one. {@code DIR/configuration.json} records what produced the rows; a configuration that differs is refused.
 * {@link #assemble} writes {@code results.csv}, {@code summary.json} and the plots exactly as {@link Evaluation#run}
 * writes them for the same rows.
 */
public final class ScanRows {
    /** The record of the models and options, beside the rows. */
    private static final String CONFIGURATION = "configuration.json";
    private static final String SUFFIX = ".csv";

    private final Path dir;
    private final ResultsFile.Columns cols;

    private ScanRows(Path dir, ResultsFile.Columns cols) {
        this.dir = dir;
        this.cols = cols;
    }

    /**
     * The rows folder {@code dir} for an evaluation with these chunk sizes and baselines; {@code positions}: whether
     * the manifest gives finding positions ({@link Evaluation#hasPositions}), which adds the localization columns.
     */
    public static ScanRows in(Path dir, List<Integer> chunkSizes, List<Saliency.Method> baselines, boolean positions) {
        return new ScanRows(dir, ResultsFile.Columns.of(chunkSizes, baselines, positions));
    }

    public Path dir() {
        return dir;
    }

    /**
     * Writes (or replaces) the row of {@code r.volume()}, atomically; a failed row does not replace an ok one (a
     * twin attempt that could not read the volume after another one evaluated it).
     */
    public void commit(Evaluation.Row r) throws IOException {
        Files.createDirectories(dir);
        if (!r.ok()) {
            Evaluation.Row prev = read(r.volume());
            if (prev != null && prev.ok()) {
                return;
            }
        }
        ResultsFile.write(file(r.volume()), cols, List.of(r));
    }

    /** The committed row of volume {@code name} (a file name, as results.csv names volumes), or null. */
    public Evaluation.Row read(String name) throws IOException {
        return ResultsFile.read(file(name), cols).get(name);
    }

    /**
     * Every committed row, by volume name; a row written with other chunk sizes, baselines or positions is an
     * {@link IOException} naming its file.
     */
    public Map<String, Evaluation.Row> readAll() throws IOException {
        Map<String, Evaluation.Row> rows = new LinkedHashMap<>();
        if (!Files.isDirectory(dir)) {
            return rows;
        }
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            ds.forEach(files::add);
        }
        files.sort(null);
        for (Path f : files) {
            if (!f.getFileName().toString().startsWith(".")) {
                rows.putAll(ResultsFile.read(f, cols));
            }
        }
        return rows;
    }

    /**
     * Records {@code configuration} ({@link Evaluation#configuration}) beside the rows, or checks it against the one
     * recorded: rows of other models or options are not mixed.
     */
    public void checkConfiguration(Map<String, Object> configuration) throws IOException {
        Path f = dir.resolve(CONFIGURATION);
        ObjectMapper json = new ObjectMapper();
        byte[] mine = json.enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(configuration);
        if (Files.isRegularFile(f)) {
            if (!json.readTree(f.toFile()).equals(json.readTree(mine))) {
                throw new IOException(f + " records other models or options than this run's: resume with the same "
                        + "models and options, or choose another --out");
            }
            return;
        }
        Files.createDirectories(dir);
        AtomicFiles.write(f, mine);
    }

    /** The recorded configuration, or null when no row has been committed. */
    @SuppressWarnings("unchecked")
    public Map<String, Object> configuration() throws IOException {
        Path f = dir.resolve(CONFIGURATION);
        return Files.isRegularFile(f) ? new ObjectMapper().readValue(f.toFile(), LinkedHashMap.class) : null;
    }

    /**
     * Writes {@code out}'s {@code results.csv} (the rows in the manifest's order), {@code summary.json} and plots,
     * as {@link Evaluation#run} over the whole manifest does. Every volume of {@code m} must have a row.
     */
    public Map<String, Object> assemble(EvalManifest m, Path out) throws IOException {
        Map<String, Evaluation.Row> rows = readAll();
        Map<String, Object> configuration = configuration();
        List<Evaluation.Row> ordered = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (EvalManifest.Case c : m.cases()) {
            Evaluation.Row r = rows.get(c.name());
            if (r == null) {
                missing.add(c.name());
            } else {
                ordered.add(r);
            }
        }
        if (!missing.isEmpty() || configuration == null) {
            throw new IOException(dir + ": no row for " + (missing.isEmpty() ? "any volume" : String.join(", ",
                    missing)));
        }
        Files.createDirectories(out);
        ResultsFile.write(out.resolve(Evaluation.RESULTS), cols, ordered);
        return Evaluation.finish(out, cols, m.file().toString(), configuration, Shard.ALL);
    }

    private Path file(String name) {
        return dir.resolve(name + SUFFIX);
    }
}
