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

import org.ctcf.eval.Evaluation.Row;
import org.ctcf.io.AtomicFiles;
import org.ctcf.io.Csv;

/**
 * {@code results.csv}: one row per volume, rewritten after each, and read back on a rerun so finished volumes are
 * skipped (resume). The header encodes the options that shape the columns; a rerun with other options is refused.
 */
final class ResultsFile {
    private ResultsFile() {
    }

    /** The columns: what of the options and the manifest shapes {@code results.csv}. */
    record Columns(List<Integer> chunkSizes, List<String> methods, boolean positions) {
        Columns {
            chunkSizes = List.copyOf(chunkSizes);
            methods = List.copyOf(methods);
        }

        static Columns of(Evaluation.Options o, boolean positions) {
            return of(o.chunkSizes(), o.baselines(), positions);
        }

        static Columns of(List<Integer> chunkSizes, List<org.ctcf.api.Saliency.Method> baselines, boolean positions) {
            List<String> l = new ArrayList<>(List.of(Evaluation.LATENT_SHIFT, Evaluation.LATENT_SHIFT_CHUNK));
            baselines.forEach(b -> l.add(b.label()));
            return new Columns(chunkSizes, l, positions);
        }

        /** The columns of a header line written by {@link #header()} (for {@code --merge}: no options at hand). */
        static Columns parse(Path file, String line) throws IOException {
            List<String> h = List.of(line.split(",", -1));
            List<String> fixed = FIXED;
            if (h.size() < fixed.size() || !h.subList(0, fixed.size()).equals(fixed)) {
                throw new IOException(file + " is not a ctcf evaluate results.csv (header '" + line + "')");
            }
            List<Integer> chunks = new ArrayList<>();
            int i = fixed.size();
            while (i < h.size() && h.get(i).startsWith("min_cf_chunk")) {
                try {
                    chunks.add(Integer.parseInt(h.get(i).substring("min_cf_chunk".length())));
                } catch (NumberFormatException e) {
                    throw new IOException(file + ": bad column " + h.get(i));
                }
                i++;
            }
            boolean positions = i < h.size() && h.get(i).equals("finding_slice");
            List<String> methods = new ArrayList<>();
            for (int j = positions ? i + 1 : i; j < h.size(); j += 2) {
                String m = h.get(j);
                if (!m.endsWith("_hit") || j + 1 >= h.size()) {
                    throw new IOException(file + ": bad column " + m);
                }
                methods.add(m.substring(0, m.length() - 4));
            }
            if (methods.isEmpty()) {
                methods.add(Evaluation.LATENT_SHIFT);
            }
            Columns c = new Columns(chunks, methods, positions);
            if (chunks.isEmpty() || !c.header().equals(h)) {
                throw new IOException(file + " is not a ctcf evaluate results.csv (header '" + line + "')");
            }
            return c;
        }

        List<String> header() {
            List<String> h = new ArrayList<>(FIXED);
            for (int c : chunkSizes) {
                h.add("min_cf_chunk" + c);
            }
            if (positions) {
                h.add("finding_slice");
                for (String m : methods) {
                    h.add(m + "_hit");
                    h.add(m + "_peak_mm");
                }
            }
            return h;
        }
    }

    private static final List<String> FIXED = List.of("volume", "label", "status", "p0", "min_cf", "stitched",
            "best_start", "best_end", "lambda", "stop_reason", "seconds");

    /** Writes every row so far (atomically: a crash leaves the previous file). */
    static void write(Path file, Columns cols, List<Row> rows) throws IOException {
        StringBuilder sb = new StringBuilder(Csv.row(cols.header().stream().map(Csv::raw).toList()));
        boolean positions = cols.positions();
        for (Row r : rows) {
            List<String> f = new ArrayList<>(List.of(Csv.text(r.volume()), r.positive() ? "1" : "0",
                    Csv.text(r.status()), num(r.p0()), num(r.minCf()), num(r.stitched()), String.valueOf(r.bestStart()),
                    String.valueOf(r.bestEnd()), num(r.lambda()), Csv.text(r.stopReason()),
                    String.format(Locale.ROOT, "%.2f", r.seconds())));
            for (double v : r.minCfByChunk()) {
                f.add(num(v));
            }
            if (positions) {
                f.add(num(r.findingSlice()));
                for (String m : cols.methods()) {
                    Evaluation.Localization l = r.localization().get(m);
                    f.add(l == null ? "" : l.hit() ? "1" : "0");
                    f.add(l == null ? "" : num(l.peakMm()));
                }
            }
            sb.append(Csv.row(f));
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
    static Map<String, Row> read(Path file, Columns cols) throws IOException {
        List<String> header = cols.header();
        Map<String, Row> out = new LinkedHashMap<>();
        if (!Files.isRegularFile(file)) {
            return out;
        }
        List<Csv.Record> records = Csv.parse(file, Files.readString(file, StandardCharsets.UTF_8), false);
        if (records.isEmpty()) {
            return out;
        }
        if (!records.get(0).fields().equals(header)) {
            throw new IOException(file + " was written with other options (chunk sizes, baselines or positions): "
                    + "resume with the same options or choose another --out");
        }
        List<String> ms = cols.methods();
        boolean positions = cols.positions();
        for (int i = 1; i < records.size(); i++) {
            String[] f = records.get(i).fields().toArray(String[]::new);
            int lineNo = records.get(i).line();
            if (f.length != header.size()) {
                throw new IOException(file + ":" + lineNo + ": " + header.size() + " columns expected");
            }
            int c = 11;
            double[] byChunk = new double[cols.chunkSizes().size()];
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
            if (out.put(f[0], r) != null) {
                throw new IOException(file + ":" + lineNo + ": volume " + org.ctcf.core.Text.printable(f[0])
                        + " is listed twice");
            }
        }
        return out;  // by file name, as results.csv names volumes (the manifest's names are unique)
    }
}
