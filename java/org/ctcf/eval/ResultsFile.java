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

import org.ctcf.eval.Evaluation.Options;
import org.ctcf.eval.Evaluation.Row;
import org.ctcf.io.AtomicFiles;

/**
 * {@code results.csv}: one row per volume, rewritten after each, and read back on a rerun so finished volumes are
 * skipped (resume). The header encodes the options that shape the columns; a rerun with other options is refused.
 */
final class ResultsFile {
    private ResultsFile() {
    }

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
        List<String> l = new ArrayList<>(List.of(Evaluation.LATENT_SHIFT));
        o.baselines().forEach(b -> l.add(b.label()));
        return l;
    }

    /** Writes every row so far (atomically: a crash leaves the previous file). */
    static void write(Path file, List<String> header, List<Row> rows, Options o) throws IOException {
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
                    Evaluation.Localization l = r.localization().get(m);
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
    static Map<String, Row> read(Path file, List<String> header, Options o) throws IOException {
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
            Map<String, Evaluation.Localization> loc = new LinkedHashMap<>();
            if (positions) {
                finding = parse(f[c++]);
                for (String m : ms) {
                    String hit = f[c++];
                    String mm = f[c++];
                    if (!hit.isEmpty()) {
                        loc.put(m, new Evaluation.Localization(hit.equals("1"), parse(mm)));
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
}
