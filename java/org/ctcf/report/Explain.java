package org.ctcf.report;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

import org.ctcf.api.ChunkSweep;
import org.ctcf.api.Classifier;
import org.ctcf.api.ExplainOptions;
import org.ctcf.api.Explanation;
import org.ctcf.api.InputDomain;
import org.ctcf.api.Kernel;
import org.ctcf.api.LatentShift;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.Progress;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.SweepResult;
import org.ctcf.api.Target;
import org.ctcf.core.CtcfException;
import org.ctcf.core.Volume;
import org.ctcf.io.AtomicFiles;
import org.ctcf.io.OutputException;
import org.ctcf.io.OutputFolders;
import org.ctcf.io.OutputLock;
import org.ctcf.io.dicom.DicomSource;
import org.ctcf.io.dicom.DicomWriter;
import org.ctcf.io.ReadOptions;
import org.ctcf.io.VolumeIO;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The Java API's "explain this file and write the outputs here", which {@code ctcf explain} is a shell over:
 * reads a CT volume, preprocesses it as the classifier's card says, runs Latent Shift over one chunk or a chunk
 * sweep, and writes the volumes, images, {@code report.html} and {@code summary.json} ({@link ExplanationWriter}).
 *
 * <p>Progress reaches the listener from the kernel's thread. Cancellation: the listener returning false, or
 * {@link Kernel#cancel()} from another thread, stops the kernel at its next safe point and {@link #toDirectory}
 * throws {@link CtcfException.CancelledException}; files already written are complete, the summary is not there.
 */
public final class Explain {
    /** An input grid further than this from the world axes is oblique: warned of and recorded in the summary. */
    static final double OBLIQUE_DEGREES = 0.1;

    private Explain() {
    }

    /**
     * The models, on one kernel, and how they were named (recorded in the summary).
     *
     * @param autoencoderSource the autoencoder's card or weights file as given
     * @param classifierCard the classifier's card file as given
     * @param device the device as requested (e.g. {@code cpu}, {@code cuda:0})
     * @param threads the intra-op threads as requested (0 = every available processor)
     */
    public record Models(Kernel kernel, SliceAutoencoder autoencoder, Classifier classifier, String autoencoderSource,
            String classifierCard, String device, int threads) {
    }

    /** Slices {@code [start, end)} of the processed volume. */
    public record Slices(int start, int end) {
        @Override
        public String toString() {
            return start + ":" + end;
        }
    }

    /**
     * What to explain and what to write. Exactly one of {@code chunk} and {@code sweep}.
     *
     * @param options the Latent Shift options; the λ steps of one chunk and the sweep's focus are {@code frames}
     * @param chunk one chunk of the (ranged) processed volume, or null
     * @param sweep a chunk sweep over it, or null
     * @param range only these slices of the processed volume are the volume (score, pixel cap and outputs see
     *     only them), or null for all of it
     * @param frames sweep frames of the explained chunk (GIF, λ plot), ≥ 2
     * @param gifSlice the GIF's slice (processed grid), or −1 for the slice with the most change
     * @param images write the images and the report (else volumes and summary only)
     * @param display how the images and the report's viewer put the patient on the screen
     * @param dicomOut where to write the explanation as DICOM objects in the input's study (the input must be
     *     DICOM), or null for none
     * @param series the series of a DICOM folder or DICOMDIR holding several (Series Instance UID or Series
     *     Number), or null
     */
    public record Request(ExplainOptions options, Slices chunk, ChunkSweep sweep, Slices range, int frames,
            int gifSlice, boolean images, Display display, Path dicomOut, String series) {
        public Request {
            if (options == null || (chunk == null) == (sweep == null)) {
                throw new IllegalArgumentException("a request needs options and one chunk or one sweep");
            }
            if (display == null) {
                throw new IllegalArgumentException("a request needs a display convention");
            }
            if (frames < 2) {
                throw new IllegalArgumentException("--frames must be >= 2");
            }
        }

        /** Explains one chunk, with 10 frames, the images and the report. */
        public static Request chunk(ExplainOptions options, Slices chunk) {
            return new Request(options, chunk, null, null, 10, -1, true, Display.RADIOLOGICAL, null, null);
        }

        /** A chunk sweep and the explanation of its rank-1 chunk, with 10 frames, the images and the report. */
        public static Request sweep(ExplainOptions options, ChunkSweep sweep) {
            return new Request(options, null, sweep, null, 10, -1, true, Display.RADIOLOGICAL, null, null);
        }

        public Request withRange(Slices slices) {
            return new Request(options, chunk, sweep, slices, frames, gifSlice, images, display, dicomOut, series);
        }

        public Request withFrames(int n) {
            return new Request(options, chunk, sweep, range, n, gifSlice, images, display, dicomOut, series);
        }

        public Request withGifSlice(int z) {
            return new Request(options, chunk, sweep, range, frames, z, images, display, dicomOut, series);
        }

        public Request withImages(boolean on) {
            return new Request(options, chunk, sweep, range, frames, gifSlice, on, display, dicomOut, series);
        }

        /** The request with the images and viewer in {@code d}'s convention (default: radiological). */
        public Request withDisplay(Display d) {
            return new Request(options, chunk, sweep, range, frames, gifSlice, images, d, dicomOut, series);
        }

        /** The request reading series {@code uidOrNumber} of a DICOM folder or DICOMDIR that holds several. */
        public Request withSeries(String uidOrNumber) {
            return new Request(options, chunk, sweep, range, frames, gifSlice, images, display, dicomOut, uidOrNumber);
        }

        /** The request that also writes the explanation as DICOM into {@code dir} (a DICOM input only). */
        public Request withDicomOut(Path dir) {
            return new Request(options, chunk, sweep, range, frames, gifSlice, images, display, dir, series);
        }
    }

    /**
     * Explains {@code input} and writes every output into {@code outDir}; returns the summary written as
     * {@code summary.json}. Slice numbers that do not fit the processed volume are an
     * {@link IllegalArgumentException} naming the CLI option they come from.
     *
     * <p>The outputs appear together or not at all: they are written into a staged folder beside {@code outDir} and
     * renamed into place at the end (a DICOM output folder outside {@code outDir} likewise, just before). What stood
     * at {@code outDir} is replaced only when it is empty or an earlier ctcf explain's folder (every file in it listed
     * by its summary.json); anything else is refused before any work, and never removed. An output folder that is,
     * holds or lies inside the input is refused. A second process explaining into the same folder at the same time is
     * refused ({@link OutputException}); one that died is cleaned up after.
     */
    public static ExplanationSummary toDirectory(Path input, Path outDir, Models models, Request request,
            Progress.Listener progress) throws IOException {
        checkOutputs(input, outDir, request.dicomOut());
        Path out = outDir.toAbsolutePath().normalize();
        Path dicom = request.dicomOut() == null ? null : request.dicomOut().toAbsolutePath().normalize();
        boolean dicomInside = dicom != null && dicom.startsWith(out);
        try (OutputLock lock = lock(out, "-o"); OutputLock dicomLock = dicom == null || dicomInside ? null
                : lock(dicom, "--dicom-out")) {
            recover(out, ExplainOutputs::isOwn);
            if (dicomLock != null) {
                recover(dicom, DicomWriter::isOwnOutput);
            }
            checkOutputs(input, outDir, request.dicomOut());  // again, now that no other ctcf can be writing there
            Path staged = OutputFolders.staged(out);
            Path dicomStaged = dicomLock == null ? null : OutputFolders.staged(dicom);
            try {
                Request r = request.withDicomOut(dicom == null ? null
                        : dicomInside ? staged.resolve(out.relativize(dicom)) : dicomStaged);
                ExplanationSummary s = write(input, staged, models, r, progress, dicomInside ? null : dicom);
                ExplainOutputs.checkWritten(staged, dicom, dicomStaged);
                // the DICOM folder first, its earlier output kept aside until -o is in place too: both new, or both
                // as they were
                OutputFolders.Swap dicomSwap = dicomStaged == null ? null
                        : swap(dicomStaged, dicom, "--dicom-out", DicomWriter::isOwnOutput);
                try {
                    commit(staged, out, "-o", ExplainOutputs::isOwn);
                } catch (IOException | RuntimeException e) {
                    if (dicomSwap != null) {
                        try {
                            dicomSwap.undo();
                        } catch (IOException again) {
                            e.addSuppressed(again);
                        }
                    }
                    throw e;
                }
                if (dicomSwap != null) {
                    dicomSwap.finish();
                }
                return s;
            } finally {
                AtomicFiles.deleteTree(staged);
                if (dicomStaged != null) {
                    AtomicFiles.deleteTree(dicomStaged);
                }
            }
        }
    }

    /**
     * The checks of {@link #toDirectory} that need no models, for a caller that wants them before it loads any: the
     * output folders are not the input, and hold nothing ctcf did not write.
     */
    public static void checkOutputs(Path input, Path outDir, Path dicomOut) throws IOException {
        Path out = outDir.toAbsolutePath().normalize();
        OutputFolders.checkNotAnInput(out, "-o", List.of(input), false);
        checkReplaceable(out, "-o", ExplainOutputs::isOwn, "an earlier ctcf explain's folder");
        if (dicomOut != null) {
            Path dicom = dicomOut.toAbsolutePath().normalize();
            if (dicom.equals(out)) {
                throw new IllegalArgumentException("--dicom-out " + dicomOut + " is the output folder -o " + outDir
                        + ": give the DICOM objects a folder of their own (e.g. --dicom-out " + outDir + "/dicom)");
            }
            OutputFolders.checkNotAnInput(dicom, "--dicom-out", List.of(input), true);
            if (!dicom.startsWith(out)) {
                checkReplaceable(dicom, "--dicom-out", DicomWriter::isOwnOutput, "an earlier ctcf --dicom-out");
            }
        }
    }

    /** The lock of output folder {@code out}; another live writer is an {@link OutputException}. */
    private static OutputLock lock(Path out, String option) throws IOException {
        try {
            return OutputLock.tryAcquire(out.getParent(), out.getFileName().toString())
                    .orElseThrow(() -> new OutputException(out, "another ctcf is writing this " + option
                            + " folder now (it holds " + out.resolveSibling(OutputLock.fileName(
                                    out.getFileName().toString())) + "); wait for it, or give another folder", null));
        } catch (OutputLock.Unsupported e) {
            System.getLogger("org.ctcf.report").log(System.Logger.Level.WARNING, e.getMessage()
                    + "; writing without a lock");
            return null;
        }
    }

    private static void recover(Path out, java.util.function.Predicate<Path> own) throws IOException {
        for (OutputFolders.Recovered r : OutputFolders.recover(out, own)) {
            System.getLogger("org.ctcf.report").log(System.Logger.Level.INFO, r.toString());
        }
    }

    /** Refuses, before any work, an output folder that holds what ctcf did not write. */
    private static void checkReplaceable(Path out, String option, java.util.function.Predicate<Path> own,
            String ownKind) throws IOException {
        if (!OutputFolders.exists(out) || OutputFolders.isEmptyFolder(out) || own.test(out)) {
            return;
        }
        throw new IllegalArgumentException(refusal(out, option, ownKind));
    }

    static String refusal(Path out, String option, String ownKind) throws IOException {
        if (!Files.isDirectory(out, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return option + " " + out + " exists and is not a folder; ctcf never replaces it: give a new folder";
        }
        List<String> some = ExplainOutputs.foreign(out, 5);
        return option + " " + out + " holds files ctcf did not write (" + String.join(", ", some)
                + (some.size() == 5 ? ", ..." : "") + "); ctcf never mixes its outputs into them nor removes "
                + "them: give a new or empty folder, or " + ownKind;
    }

    private static OutputFolders.Swap swap(Path staged, Path out, String option,
            java.util.function.Predicate<Path> own) throws IOException {
        OutputFolders.Swap swap = OutputFolders.swap(staged, out, own);
        if (swap == null) {
            throw new IllegalArgumentException(refusal(out, option, "an earlier ctcf output")
                    + " (it appeared while ctcf was working)");
        }
        return swap;
    }

    private static void commit(Path staged, Path out, String option, java.util.function.Predicate<Path> own)
            throws IOException {
        swap(staged, out, option, own).finish();
    }

    /**
     * The explanation of {@code input} written straight into {@code outDir} (which the caller stages and commits),
     * DICOM objects into the request's {@code dicomOut}, named in the summary as if below {@code dicomShownAs} when
     * that is set (a staged DICOM folder's final place).
     */
    static ExplanationSummary write(Path input, Path outDir, Models models, Request request,
            Progress.Listener progress, Path dicomShownAs) throws IOException {
        long t0 = System.nanoTime();
        Classifier clf = models.classifier();
        PreprocessOptions pre = clf.card().preprocessing();
        ExplainOptions o = request.options();
        try (Volume ct = VolumeIO.read(input, ReadOptions.defaults().withSeries(request.series()))) {
            if (request.dicomOut() != null && !(ct.geometry().sourceHint() instanceof DicomSource)) {
                throw new IllegalArgumentException("--dicom-out writes DICOM objects into the input's study, but "
                        + input + " is not a DICOM series; give a DICOM folder, file or DICOMDIR, or leave it out");
            }
            if (ct.geometry().sourceHint() instanceof DicomSource src) {
                InputDomain.checkModality(clf.card(), src.modality(), input.toString());
            }
            String sha256 = sha256(input, ct);
            Files.createDirectories(outDir);
            try (Volume processed = preprocess(input, models.kernel(), ct, pre);
                    Volume ranged = request.range() == null ? null
                            : slices(processed, check("--range", request.range(), processed.nz()))) {
                Volume x = ranged != null ? ranged : processed;
                InputDomain.checkSlices(clf.card(), x.nz(), input.toString());
                // the lung fraction of the volume the classifier sees (null: the card states no domain)
                InputDomain.Check domain = InputDomain.check(clf.card(), x);
                ExplanationWriter w = new ExplanationWriter(outDir, models.kernel(), ct, pre, processed,
                        ranged != null ? request.range().start() : -1, clf, o.target().index(), request.images(),
                        request.gifSlice(), request.display(), request.dicomOut(), dicomShownAs);
                double oblique = ct.geometry().obliquityDegrees();
                if (oblique > OBLIQUE_DEGREES) {
                    w.warn(String.format(Locale.ROOT, "the input's grid is oblique: its axes lie up to %.2f° from "
                            + "the world axes (%s); preprocessing takes it for that axis orientation and does not "
                            + "resample the rotation, so the classifier sees the volume rotated by up to %.2f°", oblique,
                            ct.geometry().orientationCode(), oblique));
                }
                String title = "ctcf explanation: " + input.getFileName() + " — " + clf.card().name();
                if (request.chunk() != null) {
                    Slices c = check("--slices", request.chunk(), x.nz());
                    try (Explanation e = LatentShift.explain(x, models.autoencoder(), clf,
                            o.toBuilder().lambdaSweepSteps(request.frames()).build(), c.start(), c.end(), progress)) {
                        return w.write(e, draft(input, sha256, ct, x, domain, models, request, ExplanationSummary
                                .ChunkExplanation.of(e), null), t0, title);
                    }
                }
                ChunkSweep s = request.sweep();
                if (s.chunk() > x.nz()) {
                    throw new IllegalArgumentException("--chunk " + s.chunk() + " must be between 1 and the "
                            + "processed volume's " + x.nz() + " slices");
                }
                try (SweepResult r = LatentShift.sweep(x, models.autoencoder(), clf, o.toBuilder()
                        .focusFrames(request.images() ? request.frames() : 0).build(), s, progress)) {
                    var focus = r.focus().map(ExplanationSummary.ChunkExplanation::of).orElse(null);
                    return w.write(r, draft(input, sha256, ct, x, domain, models, request, null,
                            ExplanationSummary.SweepSummary.of(r, s.chunk(), s.stride(), focus)), t0, title);
                }
            }
        }
    }

    /** The summary before the files are written (no outputs, no cost yet). */
    private static ExplanationSummary draft(Path input, String sha256, Volume ct, Volume x, InputDomain.Check domain,
            Models m, Request r,
            ExplanationSummary.ChunkExplanation chunk, ExplanationSummary.SweepSummary sweep) throws IOException {
        Classifier clf = m.classifier();
        ExplainOptions o = r.options();
        Target t = o.target();
        List<String> classes = clf.card().classes();
        var options = new ExplanationSummary.OptionsSummary(o.searchPredDiff(), o.searchStepSize(),
                o.searchMaxSteps(), o.searchMaxPixelDiffPct(), o.stopBelow(), o.heatmap().name().toLowerCase(Locale.ROOT),
                o.autocast().name().toLowerCase(Locale.ROOT), r.frames(),
                o.fixedRange() ? List.of(o.fixLow(), o.fixHigh()) : null, m.device(), m.threads());
        return new ExplanationSummary(input.toString(), sha256, ct.geometry().toString(), clf.card().name(),
                m.classifierCard(), new ExplanationSummary.TargetSummary(t.index(), classes.isEmpty() ? ""
                        : classes.get(t.index()), t.offset()), m.autoencoderSource(),
                new ObjectMapper().readTree(m.autoencoder().wrapper().toJson()),
                clf.card().orientation().name().toLowerCase(Locale.ROOT), o.referenceMode() ? "reference" : "fast",
                ExplanationSummary.Versions.current(), options, r.range() == null ? null : r.range().toString(),
                x.geometry().toString(), r.display().id(), domain == null ? null : domain.lungFraction(),
                domain == null ? null : domain.lungFractionMin(), domain == null ? null : domain.inDomain(), chunk,
                sweep, List.of(), List.of(), 0, 0);
    }

    /** {@code s} if it is a non-empty span of the processed volume's {@code nz} slices. */
    private static Slices check(String option, Slices s, int nz) {
        if (s.start() < 0 || s.end() > nz || s.start() >= s.end()) {
            throw new IllegalArgumentException(option + " " + s + " is outside the processed volume's " + nz
                    + " slices (0:" + nz + ")");
        }
        return s;
    }

    private static Volume slices(Volume processed, Slices s) {
        return processed.slices(s.start(), s.end());
    }

    /**
     * The input preprocessed; a preprocessing that the input's header makes too large (an absurd spacing) is refused
     * before anything is allocated, naming the input (the kernel would refuse it too, without the file's name).
     */
    private static Volume preprocess(Path input, Kernel kernel, Volume ct, PreprocessOptions pre)
            throws IOException {
        java.util.Optional<String> tooLarge = org.ctcf.api.PreprocessPlan.of(ct.geometry(), pre)
                .sizeProblem(ct.geometry(), pre, ReadOptions.maxVoxelsByDefault());
        if (tooLarge.isPresent()) {
            throw new org.ctcf.io.VolumeFormatException(input, tooLarge.get());
        }
        return kernel.preprocess(ct, pre);
    }

    /**
     * The SHA-256 of what was read of the input: of a file, its bytes (a MetaImage header and its data file, when
     * apart); of a DICOM series, its files in path order (each relative path, UTF-8, then a 0 byte, then the file's
     * bytes), and only those: not the other series, objects or files beside it.
     */
    static String sha256(Path f, Volume ct) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            if (ct.geometry().sourceHint() instanceof DicomSource src && !src.files().isEmpty()) {
                Path base = Files.isDirectory(f) ? f : f.toAbsolutePath().getParent();
                List<Path> files = src.files().stream().sorted().toList();
                for (Path p : files) {
                    md.update(base.relativize(p).toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    md.update((byte) 0);
                    digest(md, p);
                }
            } else {
                digest(md, f);
                Path data = org.ctcf.io.MetaImageReader.separateDataFile(f);
                if (data != null) {
                    digest(md, data);
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void digest(MessageDigest md, Path f) throws IOException {
        try (InputStream in = Files.newInputStream(f)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0;) {
                md.update(buf, 0, n);
            }
        }
    }
}
