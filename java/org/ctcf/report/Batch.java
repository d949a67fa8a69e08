package org.ctcf.report;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

import org.ctcf.api.Progress;
import org.ctcf.core.CtcfException;
import org.ctcf.core.Shard;
import org.ctcf.io.AtomicFiles;
import org.ctcf.io.Csv;
import org.ctcf.io.OutputFolders;
import org.ctcf.io.OutputLock;
import org.ctcf.io.VolumeFormatException;
import org.ctcf.io.dicom.DicomReader;

/**
 * Many scans explained with one set of loaded models ({@code ctcf explain --manifest/--folder/A B ...}): the
 * Java API the CLI is a shell over.
 *
 * <p>Layout: scan {@code id}'s outputs (those of {@link Explain#toDirectory}) go to {@code OUT/<id>/}, written
 * into {@code OUT/.<id>.partial-<random>/} and renamed at the end, so a scan folder is either complete or absent.
 * The writer of a scan holds its lock ({@code OUT/.<id>.lock}, an {@link OutputLock}): a second process on the same
 * folder skips the scans being written ({@link Outcome#BUSY}) and goes on with the others, and a staged folder is
 * removed only by a writer that holds its scan's lock, so a live writer's is never touched. A scan whose folder is
 * complete (its summary.json there, with every output it lists) is skipped (resume). A folder in the way that ctcf
 * did not write (an input, anything not listed by a summary of ctcf's) is never replaced nor removed: that scan
 * fails, saying so. A scan that fails with an
 * {@link IOException} (which includes {@link VolumeFormatException}), an {@link IllegalArgumentException} or a
 * {@link CtcfException} (other than a cancellation) is recorded in {@code OUT/failures.csv} (rewritten atomically
 * after every failure) and the run goes on; anything else (an {@link Error}, a cancellation, a bug) stops the run,
 * after removing that scan's partial folder. The output folder must not be, hold or lie inside an input.
 *
 * <p>A DICOM output folder in the request ({@code --dicom-out DIR}) is, in a batch, a relative path inside each
 * scan's folder: scan {@code id}'s DICOM objects go to {@code OUT/<id>/DIR/} (e.g. {@code --dicom-out dicom}:
 * {@code OUT/<id>/dicom/}), committed with the scan's other outputs and named relative to them in its summary.
 */
public final class Batch {
    /** The failures file in the output folder. */
    public static final String FAILURES = "failures.csv";
    private static final String[] VOLUME_SUFFIXES = {".nii.gz", ".nii", ".mha", ".mhd"};

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
        EXPLAINED, SKIPPED, FAILED,
        /** Another live process is explaining it into the same folder now (it holds the scan's lock). */
        BUSY
    }

    /** What {@link #explainScan} did: explained (with the summary), skipped as complete, or left to a busy twin. */
    public record ScanResult(Outcome outcome, ExplanationSummary summary) {
    }

    /**
     * What makes one scan's outputs: writes them into {@code folder} (a staged folder, which the batch commits) and
     * returns the summary that lists them, as {@code summary.json} in that folder does.
     */
    @FunctionalInterface
    public interface ScanWriter {
        ExplanationSummary write(Scan scan, Path folder, Progress.Listener progress) throws IOException;
    }

    /** The scan writer of an explanation with {@code models} and {@code request} (a relative DICOM folder inside). */
    public static ScanWriter explaining(Explain.Models models, Explain.Request request) {
        checkDicomOut(request);
        Path dicomRel = request.dicomOut();
        return (scan, folder, progress) -> Explain.write(scan.volume(), folder, models, request
                .withSeries(scan.series() != null ? scan.series() : request.series())
                .withDicomOut(dicomRel == null ? null : folder.resolve(dicomRel)), progress, null);
    }

    /** A failed scan: the exception's class and message, as {@code failures.csv} records them. */
    public record Failure(Scan scan, String errorClass, String message) {
        /** The failure of {@code scan} with {@code e}: its class, and its message on one line. */
        public static Failure of(Scan scan, Exception e) {
            return new Failure(scan, e.getClass().getName(), Batch.message(e));
        }
    }

    /** The run's counts (this shard's scans only) and its failures, in processing order. */
    public record BatchResult(int explained, int skipped, int busy, List<Failure> failures) {
        public BatchResult {
            failures = List.copyOf(failures);
        }

        public BatchResult(int explained, int skipped, List<Failure> failures) {
            this(explained, skipped, 0, failures);
        }

        public int failed() {
            return failures.size();
        }

        /** "N explained, M skipped (done), K failed (see OUT/failures.csv)", given the failures file. */
        public String summaryLine(Path failuresFile) {
            return String.format(Locale.ROOT, "%d explained, %d skipped (done)%s, %d failed%s", explained, skipped,
                    busy > 0 ? ", " + busy + " left to another process writing them now" : "", failed(),
                    failed() > 0 ? " (see " + failuresFile + ")" : "");
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
     * blank lines and lines starting with {@code #} are skipped; ctcf's CSV ({@link Csv}: RFC 4180, fields may be
     * double-quoted, a quoted field may span lines). Relative volume paths
     * are resolved against the manifest's folder; an empty id is the volume's {@link #stem}. Files are not opened
     * here: a missing volume is that scan's failure. Errors ({@code FILE:LINE: what}) and duplicate ids (all of
     * them listed) are {@link IOException}s.
     */
    public static List<Scan> fromManifest(Path manifest) throws IOException {
        List<Csv.Record> records = Csv.parse(manifest, Files.readString(manifest, StandardCharsets.UTF_8), true);
        Path base = manifest.toAbsolutePath().getParent();
        int volumeCol = -1;
        int seriesCol = -1;
        int idCol = -1;
        int columns = 0;
        boolean header = false;
        List<Scan> scans = new ArrayList<>();
        List<Integer> lineOf = new ArrayList<>();
        for (Csv.Record rec : records) {
            int lineNo = rec.line();
            List<String> f = rec.fields();
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
                            + org.ctcf.core.Text.printable(String.join(",", f)) + "'");
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
                throw bad(manifest, lineNo, "volume '" + org.ctcf.core.Text.printable(v) + "' is not a valid path");
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
        return run(scans, out, explaining(models, request), shard, listener);
    }

    /** As {@link #run(List, Path, Explain.Models, Explain.Request, Shard, Listener)}, each scan made by {@code writer}. */
    public static BatchResult run(List<Scan> scans, Path out, ScanWriter writer, Shard shard, Listener listener)
            throws IOException {
        checkUnique(scans, "the scans");
        checkOutOutsideInputs(out, scans, List.of());
        Files.createDirectories(out);
        for (Path p : removeStale(out, scans, shard)) {
            listener.log("removed " + p + " (left by an interrupted run)");
        }
        List<Scan> mine = scans.stream().filter(s -> shard.owns(s.id())).toList();
        int done = (int) mine.stream().filter(s -> complete(out, s)).count();
        listener.started(mine.size(), done);
        int explained = 0;
        int skipped = 0;
        int busy = 0;
        List<Failure> failures = new ArrayList<>();
        Path failuresFile = out.resolve(failuresName(shard));
        deleteOwnFailures(failuresFile);  // this run's failures only; the old ones are retried
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
                ScanResult r = explainScan(scan, out, writer, progress, false);
                switch (r.outcome()) {
                    case EXPLAINED -> explained++;
                    case SKIPPED -> skipped++;
                    default -> busy++;
                }
                listener.scanDone(index, mine.size(), scan, r.outcome(), r.summary(), null);
            } catch (CtcfException.CancelledException e) {
                throw e;
            } catch (IOException | IllegalArgumentException | CtcfException e) {
                Failure f = Failure.of(scan, e);
                failures.add(f);
                writeFailures(failuresFile, failures);
                listener.scanDone(index, mine.size(), scan, Outcome.FAILED, null, f);
            }
        }
        return new BatchResult(explained, skipped, busy, failures);
    }

    /**
     * Refuses an output folder that is, holds or lies inside one of the scans' volumes or {@code others} (a manifest,
     * a {@code --folder}).
     */
    public static void checkOutOutsideInputs(Path out, List<Scan> scans, List<Path> others) {
        List<Path> inputs = new ArrayList<>(others);
        scans.forEach(s -> inputs.add(s.volume()));
        OutputFolders.checkNotAnInput(out, "-o", inputs, false);
    }

    /** Whether scan's outputs are complete: its folder's summary.json is there, and every output it lists. */
    public static boolean complete(Path out, Scan scan) {
        return isDone(out.resolve(scan.id()));
    }

    /**
     * Explains one scan into {@code out/<id>/}, written into a {@code .partial-} folder and renamed at the end, as
     * {@link #run} does for each of its scans, under the scan's lock: safe when several processes (retried or
     * speculative cluster tasks, two people on one folder) explain the same scan into a shared folder at once. A
     * process that finds the lock held returns {@link Outcome#BUSY} at once, or with {@code wait} waits for it (while
     * {@code progress} agrees) and then finds the scan done; a complete folder is never replaced, and a folder ctcf
     * did not write is never replaced nor removed (an {@link IllegalArgumentException}, before any work). Failures
     * are thrown (the caller records them, e.g. with {@link Failure#of}).
     */
    public static ScanResult explainScan(Scan scan, Path out, Explain.Models models, Explain.Request request,
            Progress.Listener progress, boolean wait) throws IOException {
        return explainScan(scan, out, explaining(models, request), progress, wait);
    }

    /** As {@link #explainScan(Scan, Path, Explain.Models, Explain.Request, Progress.Listener, boolean)}, by {@code writer}. */
    public static ScanResult explainScan(Scan scan, Path out, ScanWriter writer, Progress.Listener progress,
            boolean wait) throws IOException {
        Files.createDirectories(out);
        Path target = out.resolve(scan.id());
        OutputLock lock = null;
        try {
            Optional<OutputLock> l = acquire(out, scan, wait);
            if (l.isEmpty()) {
                return new ScanResult(complete(out, scan) ? Outcome.SKIPPED : Outcome.BUSY, null);
            }
            lock = l.get();
        } catch (OutputLock.Unsupported e) {
            // no locks on this file system: the commit alone keeps twins apart, and stale folders stay
        }
        try (OutputLock held = lock) {
            if (held != null) {
                OutputFolders.recover(target, ExplainOutputs::isOwn);
            }
            if (complete(out, scan)) {
                return new ScanResult(Outcome.SKIPPED, null);
            }
            if (OutputFolders.exists(target) && !replaceable(target)) {
                throw new IllegalArgumentException(Explain.refusal(target, "the scan's folder", "a folder of an "
                        + "earlier ctcf explain") + " (move it away to explain this scan)");
            }
            Path partial = OutputFolders.staged(target);
            try {
                ExplanationSummary s = writer.write(scan, partial, progress);
                ExplainOutputs.checkWritten(partial, null, null);
                commit(partial, target);
                return new ScanResult(Outcome.EXPLAINED, s);
            } finally {
                deleteTree(partial);
            }
        }
    }

    /** The scan's lock, waiting for it when {@code wait}; empty when another holds it (or the scan is done). */
    private static Optional<OutputLock> acquire(Path out, Scan scan, boolean wait) throws IOException {
        while (true) {
            Optional<OutputLock> l = OutputLock.tryAcquire(out, scan.id());
            if (l.isPresent() || !wait || complete(out, scan)) {
                return l;
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CtcfException.CancelledException("interrupted while waiting for " + out.resolve(
                        OutputLock.fileName(scan.id())));
            }
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

    /**
     * Renames {@code partial} to {@code target}: onto an absent or empty one; a complete folder there (the same scan
     * explained by another process that finished first) is kept, and {@code partial} is left for the caller to
     * remove; a damaged folder of ctcf's own (its summary lists every file in it, but some are gone) is replaced; a
     * folder with anything ctcf did not write is refused ({@link IllegalArgumentException}) and left as it is.
     */
    static void commit(Path partial, Path target) throws IOException {
        if (isDone(target)) {
            return;
        }
        try {
            if (OutputFolders.commit(partial, target, Batch::replaceable) == OutputFolders.Commit.COMMITTED) {
                return;
            }
        } catch (IOException e) {  // on Linux a rename onto a non-empty folder is a plain FileSystemException
            if (isDone(target)) {
                return;  // a finished twin
            }
            throw e;
        }
        if (isDone(target)) {
            return;  // a twin's complete folder landed meanwhile
        }
        throw new IllegalArgumentException(Explain.refusal(target, "the scan's folder", "a folder of an earlier ctcf "
                + "explain"));
    }

    /** A folder in a scan's place that a commit may replace: ctcf's own and not complete. */
    private static boolean replaceable(Path target) {
        return !isDone(target) && ExplainOutputs.isOwn(target);
    }

    private static boolean isDone(Path folder) {
        return ExplainOutputs.complete(folder);
    }

    /**
     * The failures file of a shard: {@code failures.csv} for an unsharded run, {@code failures-I-of-N.csv} for shard
     * I/N (shards sharing an output folder do not overwrite each other's).
     */
    public static String failuresName(Shard shard) {
        return shard.count() == 1 ? FAILURES : "failures-" + shard.index() + "-of-" + shard.count() + ".csv";
    }

    /**
     * Removes the {@code .<id>.partial-RANDOM} folders that dead writers left in {@code dir} for {@code scans}' ids
     * this shard owns: only those whose scan's lock can be taken (no live process is writing that scan: another
     * shard's, a twin's, stay), and none at all on a file system without locks. Returns them.
     */
    public static List<Path> removeStale(Path dir, List<Scan> scans, Shard shard) throws IOException {
        java.util.Set<String> mine = new java.util.HashSet<>();
        scans.forEach(s -> mine.add(s.id()));
        TreeSet<String> ids = new TreeSet<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String id = OutputFolders.stagedName(p.getFileName().toString());
                if (id != null && mine.contains(id) && shard.owns(id)
                        && Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    ids.add(id);
                }
            }
        }
        List<Path> stale = new ArrayList<>();
        for (String id : ids) {  // the run's own scan ids: valid folder names
            Optional<OutputLock> lock;
            try {
                lock = OutputLock.tryAcquire(dir, id);
            } catch (OutputLock.Unsupported e) {
                return List.of();
            }
            if (lock.isEmpty()) {
                continue;  // a live writer's
            }
            try (OutputLock held = lock.get()) {
                for (OutputFolders.Recovered r : OutputFolders.recover(dir.resolve(id), ExplainOutputs::isOwn)) {
                    if (r.what() == OutputFolders.Recovered.What.STAGED_REMOVED) {
                        stale.add(r.path());
                    }
                }
            }
        }
        stale.sort(null);
        return stale;
    }

    /**
     * Writes {@code failures.csv} (id, volume, error, message; atomically), in ctcf's CSV ({@link Csv}: quoted where
     * needed, control characters escaped, formulas neutralised).
     */
    public static void writeFailures(Path file, List<Failure> failures) throws IOException {
        StringBuilder b = new StringBuilder(FAILURES_HEADER + "\n");
        for (Failure f : failures) {
            b.append(Csv.row(Csv.text(f.scan().id()), Csv.text(f.scan().volume().toString()),
                    Csv.text(f.errorClass()), Csv.text(f.message())));
        }
        AtomicFiles.write(file, b.toString().getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Removes an earlier run's failures file (its first line is ctcf's header); a file of that name that is not
     * ctcf's is refused, never removed.
     */
    public static void deleteOwnFailures(Path file) throws IOException {
        if (!Files.exists(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        String first;
        try (var r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            first = r.readLine();
        } catch (IOException e) {
            first = null;
        }
        if (!Files.isRegularFile(file, java.nio.file.LinkOption.NOFOLLOW_LINKS) || !FAILURES_HEADER.equals(first)) {
            throw new IllegalArgumentException(file + " is not a failures file of ctcf's (its first line is not "
                    + FAILURES_HEADER + "); ctcf never removes it: move it away or give another -o");
        }
        Files.delete(file);
    }

    /** The first line of {@code failures.csv}. */
    static final String FAILURES_HEADER = "id,volume,error,message";

    /** The message of a failure, on one line; a missing file says so. */
    private static String message(Exception e) {
        String m = e instanceof java.nio.file.NoSuchFileException n ? n.getFile() + ": no such file" : e.getMessage();
        if (m == null) {
            m = e.getClass().getSimpleName();
        }
        return m.replace('\r', ' ').replace('\n', ' ').strip();
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
            return walk.filter(Files::isRegularFile).filter(f -> !DicomReader.hidden(dir, f))
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
