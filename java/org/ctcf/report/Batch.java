package org.ctcf.report;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

import org.ctcf.api.Progress;
import org.ctcf.core.CtcfException;
import org.ctcf.core.Shard;
import org.ctcf.io.AtomicFiles;
import org.ctcf.io.VolumeFormatException;
import org.ctcf.io.dicom.DicomReader;

/**
 * Many scans explained with one set of loaded models ({@code ctcf explain --manifest/--folder/A B ...}): the
 * Java API the CLI is a shell over.
 *
 * <p>Layout: scan {@code id}'s outputs (those of {@link Explain#toDirectory}) go to {@code OUT/<id>/}, written
 * into {@code OUT/.<id>.partial-<random>/} and renamed at the end, so a scan folder is either complete or absent.
 * A scan whose {@code OUT/<id>/summary.json} exists is skipped (resume). A scan that fails with an
 * {@link IOException} (which includes {@link VolumeFormatException}), an {@link IllegalArgumentException} or a
 * {@link CtcfException} (other than a cancellation) is recorded in {@code OUT/failures.csv} (rewritten atomically
 * after every failure) and the run goes on; anything else (an {@link Error}, a cancellation, a bug) stops the run,
 * after removing that scan's partial folder. {@code .partial-} folders left by a crashed run are removed at start.
 *
 * <p>A DICOM output folder in the request ({@code --dicom-out DIR}) is, in a batch, a relative path inside each
 * scan's folder: scan {@code id}'s DICOM objects go to {@code OUT/<id>/DIR/} (e.g. {@code --dicom-out dicom}:
 * {@code OUT/<id>/dicom/}), committed with the scan's other outputs and named relative to them in its summary.
 */
public final class Batch {
    /** Marks a scan's folder being written: {@code .<id>.partial-<random>}. */
    static final String PARTIAL = ".partial-";
    /** The failures file in the output folder. */
    public static final String FAILURES = "failures.csv";
    private static final String[] VOLUME_SUFFIXES = {".nii.gz", ".nii", ".mha", ".mhd"};
    private static final SecureRandom RANDOM = new SecureRandom();

    private Batch() {
    }

    /**
     * One scan: its id (the name of its output folder), the volume (a file or a DICOM folder) and the series of a
     * DICOM input that holds several (or null).
     */
    public record Scan(String id, Path volume, String series) {
        public Scan {
            checkId(id);
            if (volume == null) {
                throw new IllegalArgumentException("scan " + id + " has no volume");
            }
            if (series != null && series.isBlank()) {
                series = null;
            }
        }
    }

    /** What became of a scan. */
    public enum Outcome {
        EXPLAINED, SKIPPED, FAILED
    }

    /** A failed scan: the exception's class and message, as {@code failures.csv} records them. */
    public record Failure(Scan scan, String errorClass, String message) {
        /** The failure of {@code scan} with {@code e}: its class, and its message on one line. */
        public static Failure of(Scan scan, Exception e) {
            return new Failure(scan, e.getClass().getName(), Batch.message(e));
        }
    }

    /** The run's counts (this shard's scans only) and its failures, in processing order. */
    public record BatchResult(int explained, int skipped, List<Failure> failures) {
        public BatchResult {
            failures = List.copyOf(failures);
        }

        public int failed() {
            return failures.size();
        }

        /** "N explained, M skipped (done), K failed (see OUT/failures.csv)", given the failures file. */
        public String summaryLine(Path failuresFile) {
            return String.format(Locale.ROOT, "%d explained, %d skipped (done), %d failed%s", explained, skipped,
                    failed(), failed() > 0 ? " (see " + failuresFile + ")" : "");
        }
    }

    /** Follows a batch; called on the thread that runs it. */
    public interface Listener {
        /** A line worth logging (stale partial folders removed). */
        default void log(String line) {
        }

        /**
         * Before the scans: {@code total} scans are this shard's, of which {@code done} are complete already and will
         * be skipped.
         */
        default void started(int total, int done) {
        }

        /**
         * Scan {@code index} (1-based, of {@code count} this shard's scans) starts; returns the listener for its
         * chunks and λ steps (returning false cancels the run, as with {@link Explain#toDirectory}).
         */
        default Progress.Listener scanStarted(int index, int count, Scan scan) {
            return p -> true;
        }

        /**
         * Scan {@code index} ended: explained ({@code summary} set), skipped, or failed ({@code failure} set).
         */
        default void scanDone(int index, int count, Scan scan, Outcome outcome, ExplanationSummary summary,
                Failure failure) {
        }
    }

    /**
     * The scans of a manifest: CSV with a header naming the columns {@code volume} (required), {@code series} and
     * {@code id} (optional; other columns are ignored, so an evaluation manifest serves as well), one scan per line;
     * blank lines and lines starting with {@code #} are skipped; fields may be double-quoted. Relative volume paths
     * are resolved against the manifest's folder; an empty id is the volume's {@link #stem}. Files are not opened
     * here: a missing volume is that scan's failure. Errors ({@code FILE:LINE: what}) and duplicate ids (all of
     * them listed) are {@link IOException}s.
     */
    public static List<Scan> fromManifest(Path manifest) throws IOException {
        List<String> lines = Files.readAllLines(manifest, StandardCharsets.UTF_8);
        Path base = manifest.toAbsolutePath().getParent();
        int volumeCol = -1;
        int seriesCol = -1;
        int idCol = -1;
        int columns = 0;
        boolean header = false;
        List<Scan> scans = new ArrayList<>();
        List<Integer> lineOf = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String raw = lines.get(i);
            if (i == 0 && raw.startsWith("\uFEFF")) {
                raw = raw.substring(1);
            }
            if (raw.isBlank() || raw.strip().startsWith("#")) {
                continue;
            }
            int lineNo = i + 1;
            List<String> f;
            try {
                f = fields(raw);
            } catch (IllegalArgumentException e) {
                throw bad(manifest, lineNo, e.getMessage());
            }
            if (!header) {
                header = true;
                columns = f.size();
                for (int c = 0; c < f.size(); c++) {
                    String name = f.get(c).toLowerCase(Locale.ROOT);
                    int prev = switch (name) {
                        case "volume" -> volumeCol;
                        case "series" -> seriesCol;
                        case "id" -> idCol;
                        default -> -1;
                    };
                    if (prev >= 0) {
                        throw bad(manifest, lineNo, "the header names the column '" + name + "' twice");
                    }
                    switch (name) {
                        case "volume" -> volumeCol = c;
                        case "series" -> seriesCol = c;
                        case "id" -> idCol = c;
                        default -> {
                        }
                    }
                }
                if (volumeCol < 0) {
                    throw bad(manifest, lineNo, "the header must name a 'volume' column (volume[,series][,id]), not '"
                            + raw.strip() + "'");
                }
                continue;
            }
            if (f.size() != columns) {
                throw bad(manifest, lineNo, columns + " columns expected (as the header), found " + f.size());
            }
            String v = f.get(volumeCol);
            if (v.isEmpty()) {
                throw bad(manifest, lineNo, "no volume");
            }
            Path volume;
            try {
                volume = base.resolve(v).normalize();
            } catch (java.nio.file.InvalidPathException e) {
                throw bad(manifest, lineNo, "volume '" + v + "' is not a valid path");
            }
            String id = idCol >= 0 && !f.get(idCol).isEmpty() ? f.get(idCol) : stem(volume);
            try {
                scans.add(new Scan(id, volume, seriesCol >= 0 ? f.get(seriesCol) : null));
            } catch (IllegalArgumentException e) {
                throw bad(manifest, lineNo, e.getMessage());
            }
            lineOf.add(lineNo);
        }
        if (!header) {
            throw new IOException(manifest + ": empty manifest (the header volume[,series][,id] and one scan per line)");
        }
        if (scans.isEmpty()) {
            throw new IOException(manifest + ": no scans listed");
        }
        Map<String, List<Integer>> lines2 = new LinkedHashMap<>();
        for (int i = 0; i < scans.size(); i++) {
            lines2.computeIfAbsent(scans.get(i).id(), k -> new ArrayList<>()).add(lineOf.get(i));
        }
        List<String> dups = new ArrayList<>();
        lines2.forEach((id, at) -> {
            if (at.size() > 1) {
                dups.add(id + " (lines " + String.join(", ", at.stream().map(String::valueOf).toList()) + ")");
            }
        });
        if (!dups.isEmpty()) {
            throw new IOException(manifest + ": duplicate scan ids (each names an output folder; give an id column): "
                    + String.join("; ", dups));
        }
        return List.copyOf(scans);
    }

    /**
     * The scans of a folder, in name order: each {@code .nii}, {@code .nii.gz}, {@code .mha} and {@code .mhd} file
     * (id: the name without the extension), and each sub-folder holding DICOM files (id: the folder's name;
     * {@link DicomReader#isDicom} on its files). Hidden entries are skipped; duplicate ids ({@code a.nii} and
     * {@code a.nii.gz}) are an {@link IOException}.
     */
    public static List<Scan> fromFolder(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException(dir + ": not a folder (--folder takes a folder of volumes or DICOM series)");
        }
        List<Path> entries = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            ds.forEach(entries::add);
        }
        entries.sort(Comparator.comparing(p -> p.getFileName().toString()));
        List<Scan> scans = new ArrayList<>();
        for (Path p : entries) {
            String name = p.getFileName().toString();
            if (name.startsWith(".")) {
                continue;
            }
            if (Files.isDirectory(p) ? holdsDicom(p) : volumeSuffix(name) != null) {
                scans.add(new Scan(stem(p), p, null));
            }
        }
        if (scans.isEmpty()) {
            throw new IOException(dir + ": no volumes (.nii, .nii.gz, .mha, .mhd) or DICOM folders in it");
        }
        checkUnique(scans, dir.toString());
        return List.copyOf(scans);
    }

    /** The scans of these paths, ids their {@link #stem}s; duplicate ids are an {@link IllegalArgumentException}. */
    public static List<Scan> fromPaths(List<Path> paths) {
        List<Scan> scans = paths.stream().map(p -> new Scan(stem(p), p, null)).toList();
        try {
            checkUnique(scans, "the inputs");
        } catch (IOException e) {
            throw new IllegalArgumentException(e.getMessage());
        }
        return scans;
    }

    /** The file name without {@code .nii.gz}, {@code .nii}, {@code .mha} or {@code .mhd}; a folder's name. */
    public static String stem(Path p) {
        Path n = p.toAbsolutePath().normalize().getFileName();
        String name = n == null ? "scan" : n.toString();
        String suffix = volumeSuffix(name);
        return suffix != null && name.length() > suffix.length() ? name.substring(0, name.length() - suffix.length())
                : name;
    }

    /**
     * Explains this shard's scans into {@code out/<id>/} with the loaded models, skipping complete ones and recording
     * failures; see the class comment. A scan's series (a manifest's column) replaces the request's {@code series}
     * (which stays the default of scans without one); the request's DICOM output folder {@code DIR}, relative,
     * becomes {@code OUT/<id>/DIR}.
     */
    public static BatchResult run(List<Scan> scans, Path out, Explain.Models models, Explain.Request request,
            Shard shard, Listener listener) throws IOException {
        checkUnique(scans, "the scans");
        Files.createDirectories(out);
        checkDicomOut(request);
        for (Path p : removeStale(out, shard)) {
            listener.log("removed " + p + " (left by an interrupted run)");
        }
        List<Scan> mine = scans.stream().filter(s -> shard.owns(s.id())).toList();
        int done = (int) mine.stream().filter(s -> complete(out, s)).count();
        listener.started(mine.size(), done);
        int explained = 0;
        int skipped = 0;
        List<Failure> failures = new ArrayList<>();
        Path failuresFile = out.resolve(failuresName(shard));
        Files.deleteIfExists(failuresFile);  // this run's failures only; the old ones are retried
        for (int i = 0; i < mine.size(); i++) {
            Scan scan = mine.get(i);
            int index = i + 1;
            if (complete(out, scan)) {
                skipped++;
                listener.scanDone(index, mine.size(), scan, Outcome.SKIPPED, null, null);
                continue;
            }
            Progress.Listener progress = listener.scanStarted(index, mine.size(), scan);
            try {
                ExplanationSummary s = explainScan(scan, out, models, request, progress);
                explained++;
                listener.scanDone(index, mine.size(), scan, Outcome.EXPLAINED, s, null);
            } catch (CtcfException.CancelledException e) {
                throw e;
            } catch (IOException | IllegalArgumentException | CtcfException e) {
                Failure f = Failure.of(scan, e);
                failures.add(f);
                writeFailures(failuresFile, failures);
                listener.scanDone(index, mine.size(), scan, Outcome.FAILED, null, f);
            }
        }
        return new BatchResult(explained, skipped, failures);
    }

    /** Whether scan's outputs are complete: its folder holds {@code summary.json}. */
    public static boolean complete(Path out, Scan scan) {
        return isDone(out.resolve(scan.id()));
    }

    /**
     * Explains one scan into {@code out/<id>/}, written into a {@code .partial-} folder and renamed at the end, as
     * {@link #run} does for each of its scans; safe when several processes (retried or speculative cluster tasks)
     * explain the same scan into a shared folder at once: the first rename wins, a complete folder is never replaced,
     * and a loser's work is discarded. Failures are thrown (the caller records them, e.g. with {@link Failure#of}).
     */
    public static ExplanationSummary explainScan(Scan scan, Path out, Explain.Models models, Explain.Request request,
            Progress.Listener progress) throws IOException {
        checkDicomOut(request);
        Path dicomRel = request.dicomOut();
        Files.createDirectories(out);
        String suffix = HexFormat.of().formatHex(randomBytes());
        Path partial = out.resolve("." + scan.id() + PARTIAL + suffix);
        try {
            Explain.Request r = request.withSeries(scan.series() != null ? scan.series() : request.series())
                    .withDicomOut(dicomRel == null ? null : partial.resolve(dicomRel));
            ExplanationSummary s = Explain.toDirectory(scan.volume(), partial, models, r, progress);
            commit(partial, out.resolve(scan.id()));
            return s;
        } finally {
            deleteTree(partial);
        }
    }

    /** In a batch, {@code --dicom-out} is a folder inside each scan's folder: relative, below it. */
    private static void checkDicomOut(Explain.Request request) {
        checkDicomOut(request.dicomOut());
    }

    /** {@code --dicom-out} of a batch: a relative folder inside each scan's folder, or null. */
    public static void checkDicomOut(Path dicomRel) {
        if (dicomRel != null && (dicomRel.isAbsolute() || dicomRel.normalize().toString().isEmpty()
                || dicomRel.normalize().startsWith(".."))) {
            throw new IllegalArgumentException("in a batch, --dicom-out names a folder inside each scan's output "
                    + "folder (e.g. --dicom-out dicom: OUT/<id>/dicom/), not " + dicomRel);
        }
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[6];
        RANDOM.nextBytes(b);
        return b;
    }

    /**
     * Renames {@code partial} to {@code target}. An incomplete folder there (no summary.json: hand-made, or older
     * than the atomic layout) is renamed aside and removed first; a complete one is kept, and {@code partial} (the
     * same scan explained by another process that finished first) is left for the caller to remove. Two processes
     * committing the same scan at once both end with the first one's complete folder.
     */
    static void commit(Path partial, Path target) throws IOException {
        if (isDone(target)) {
            return;
        }
        if (Files.exists(target)) {
            Path aside = target.resolveSibling("." + target.getFileName() + PARTIAL
                    + HexFormat.of().formatHex(randomBytes()));
            try {
                Files.move(target, aside, StandardCopyOption.ATOMIC_MOVE);
            } catch (java.nio.file.NoSuchFileException e) {
                // moved or removed by another process meanwhile
            }
            if (isDone(aside)) {  // a twin's complete folder landed between the check and the move: put it back
                try {
                    Files.move(aside, target, StandardCopyOption.ATOMIC_MOVE);
                    return;
                } catch (IOException e) {
                    if (!isDone(target)) {
                        throw e;
                    }
                }
            }
            deleteTree(aside);
        }
        try {
            try {
                Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(partial, target);
            }
        } catch (IOException e) {  // on Linux a rename onto a non-empty folder is a plain FileSystemException
            if (!isDone(target)) {
                throw e;  // not a finished twin: a real conflict
            }
        }
    }

    private static boolean isDone(Path folder) {
        return Files.isRegularFile(folder.resolve(ExplanationWriter.SUMMARY));
    }

    /**
     * The failures file of a shard: {@code failures.csv} for an unsharded run, {@code failures-I-of-N.csv} for shard
     * I/N (shards sharing an output folder do not overwrite each other's).
     */
    public static String failuresName(Shard shard) {
        return shard.count() == 1 ? FAILURES : "failures-" + shard.index() + "-of-" + shard.count() + ".csv";
    }

    /**
     * Removes the {@code .<id>.partial-*} folders a crashed run left in {@code dir} for this shard's ids (another
     * shard's may be in progress); returns them.
     */
    public static List<Path> removeStale(Path dir, Shard shard) throws IOException {
        List<Path> stale = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                int at = n.lastIndexOf(PARTIAL);
                if (n.startsWith(".") && at > 1 && Files.isDirectory(p) && shard.owns(n.substring(1, at))) {
                    stale.add(p);
                }
            }
        }
        stale.sort(null);
        for (Path p : stale) {
            deleteTree(p);
        }
        return stale;
    }

    /** Writes {@code failures.csv} (id, volume, error, message; atomically). */
    public static void writeFailures(Path file, List<Failure> failures) throws IOException {
        StringBuilder b = new StringBuilder("id,volume,error,message\n");
        for (Failure f : failures) {
            b.append(csv(f.scan().id())).append(',').append(csv(f.scan().volume().toString())).append(',')
                    .append(csv(f.errorClass())).append(',').append(csv(f.message())).append('\n');
        }
        AtomicFiles.write(file, b.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** The message of a failure, on one line; a missing file says so. */
    private static String message(Exception e) {
        String m = e instanceof java.nio.file.NoSuchFileException n ? n.getFile() + ": no such file" : e.getMessage();
        if (m == null) {
            m = e.getClass().getSimpleName();
        }
        return m.replace('\r', ' ').replace('\n', ' ').strip();
    }

    /** A CSV field, quoted when it needs to be. */
    static String csv(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0
                && s.strip().equals(s)) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }

    /** One CSV line's fields: separated by commas, stripped, optionally double-quoted ({@code ""} inside quotes). */
    static List<String> fields(String line) {
        List<String> out = new ArrayList<>();
        int i = 0;
        int n = line.length();
        while (true) {
            while (i < n && line.charAt(i) == ' ') {
                i++;
            }
            StringBuilder f = new StringBuilder();
            if (i < n && line.charAt(i) == '"') {
                i++;
                while (true) {
                    if (i >= n) {
                        throw new IllegalArgumentException("a quoted field is not closed");
                    }
                    char c = line.charAt(i++);
                    if (c == '"') {
                        if (i < n && line.charAt(i) == '"') {
                            f.append('"');
                            i++;
                        } else {
                            break;
                        }
                    } else {
                        f.append(c);
                    }
                }
                while (i < n && Character.isWhitespace(line.charAt(i))) {
                    i++;
                }
                if (i < n && line.charAt(i) != ',') {
                    throw new IllegalArgumentException("text after a quoted field");
                }
                out.add(f.toString());
            } else {
                int j = line.indexOf(',', i);
                int end = j < 0 ? n : j;
                out.add(line.substring(i, end).strip());
                i = end;
            }
            if (i >= n) {
                return out;
            }
            i++;  // the comma
        }
    }

    private static String volumeSuffix(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        for (String s : VOLUME_SUFFIXES) {
            if (lower.endsWith(s)) {
                return s;
            }
        }
        return null;
    }

    /** Whether a folder holds DICOM files (not only sub-folders): one regular file that {@link DicomReader} reads. */
    private static boolean holdsDicom(Path dir) throws IOException {
        try (var walk = Files.walk(dir, 3)) {
            return walk.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith("."))
                    .anyMatch(DicomReader::isDicom);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** An id is a folder name: not empty, no path separator or control character, not starting with a dot. */
    static void checkId(String id) {
        if (id == null || id.isEmpty()) {
            throw new IllegalArgumentException("a scan id must not be empty");
        }
        if (id.startsWith(".") || id.contains("/") || id.contains("\\") || id.chars().anyMatch(c -> c < 0x20)
                || id.equals(FAILURES) || id.length() > 200) {
            throw new IllegalArgumentException("scan id '" + id + "' cannot name an output folder (no '/', '\\' or "
                    + "control characters, no leading '.', not " + FAILURES + ", at most 200 characters)");
        }
    }

    private static void checkUnique(List<Scan> scans, String where) throws IOException {
        Map<String, List<String>> byId = new LinkedHashMap<>();
        for (Scan s : scans) {
            byId.computeIfAbsent(s.id(), k -> new ArrayList<>()).add(s.volume().toString());
        }
        TreeSet<String> dups = new TreeSet<>();
        byId.forEach((id, v) -> {
            if (v.size() > 1) {
                dups.add(id + " (" + String.join(", ", v) + ")");
            }
        });
        if (!dups.isEmpty()) {
            throw new IOException(where + ": duplicate scan ids (each names an output folder): " + String.join("; ",
                    dups));
        }
    }

    private static IOException bad(Path file, int line, String what) {
        return new IOException(file + ":" + line + ": " + what);
    }

    private static void deleteTree(Path p) throws IOException {
        AtomicFiles.deleteTree(p);
    }
}
