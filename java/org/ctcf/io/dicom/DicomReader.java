package org.ctcf.io.dicom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

import org.ctcf.core.Geometry;
import org.ctcf.core.Text;
import org.ctcf.core.Volume;
import org.ctcf.io.ReadOptions;
import org.ctcf.io.VolumeFormatException;

/**
 * Reads a DICOM CT series into a {@link Volume}: from a folder (searched recursively), one (multi-frame) file, or a
 * DICOMDIR. Images are grouped by Series Instance UID; slices are sorted by the projection of Image Position
 * (Patient) on the slice normal (row × column of Image Orientation (Patient)), never by file name or Instance
 * Number; spacing comes from the positions. Irregular spacing (a missing slice), duplicate positions, mixed
 * orientations, sizes or pixel spacings, and gantry tilt (positions not along the normal) are refused with a message
 * naming what is wrong. The affine maps (i = column index, j = row index, k = slice) to RAS+ mm (DICOM's LPS with x
 * and y negated). Voxels are HU = stored × slope + intercept, stored values masked to Bits Stored and sign-extended
 * for Pixel Representation 1; Pixel Padding Value (and its range limit) become {@link #PADDING_HU}. The volume's
 * geometry carries a {@link DicomSource}.
 */
public final class DicomReader {
    /** HU given to voxels equal to Pixel Padding Value (outside the scanner's field of view): air. */
    public static final float PADDING_HU = -1024f;
    /** At most this many files are looked at in one folder. */
    public static final int MAX_FILES = 200_000;
    private static final int MAX_DEPTH = 32;

    private DicomReader() {
    }

    /** One series found in the input: what {@code ctcf info} lists and {@code --series} picks from. */
    public record SeriesSummary(String uid, String number, String description, String modality, int slices, int rows,
            int columns, String imageType, boolean ctcf) {
        /** Whether it is an original, primary image series (Image Type ORIGINAL\PRIMARY, or none given). */
        public boolean originalPrimary() {
            return imageType.isEmpty() || imageType.toUpperCase(Locale.ROOT).startsWith("ORIGINAL\\PRIMARY");
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s  number %s  \"%s\"  %s  %d slices  %d x %d%s%s", uid,
                    number.isEmpty() ? "-" : number, Text.printable(description), modality.isEmpty() ? "?"
                            : Text.printable(modality), slices, columns, rows, imageType.isEmpty() ? ""
                                    : "  " + Text.printable(imageType), ctcf ? "  (written by ctcf)" : "");
        }
    }

    /** SOP classes of images that stack into a volume: CT, MR and PET, classic and enhanced. */
    private static final java.util.Set<String> VOLUME_IMAGE_CLASSES = java.util.Set.of(
            "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1", "1.2.840.10008.5.1.4.1.1.2.2",
            "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.4.1", "1.2.840.10008.5.1.4.1.1.4.4",
            "1.2.840.10008.5.1.4.1.1.128", "1.2.840.10008.5.1.4.1.1.130", "1.2.840.10008.5.1.4.1.1.128.1");

    /** Names of the SOP classes a study commonly holds beside its images, for the note on what was skipped. */
    private static final Map<String, String> OTHER_CLASSES = Map.ofEntries(
            Map.entry("1.2.840.10008.5.1.4.1.1.7", "Secondary Capture"),
            Map.entry("1.2.840.10008.5.1.4.1.1.7.1", "Secondary Capture"),
            Map.entry("1.2.840.10008.5.1.4.1.1.7.2", "Secondary Capture"),
            Map.entry("1.2.840.10008.5.1.4.1.1.7.3", "Secondary Capture"),
            Map.entry("1.2.840.10008.5.1.4.1.1.7.4", "Secondary Capture"),
            Map.entry("1.2.840.10008.5.1.4.1.1.66.4", "Segmentation"),
            Map.entry("1.2.840.10008.5.1.4.1.1.30", "Parametric Map"),
            Map.entry("1.2.840.10008.5.1.4.1.1.481.2", "RT Dose"),
            Map.entry("1.2.840.10008.5.1.4.1.1.481.3", "RT Structure Set"),
            Map.entry("1.2.840.10008.5.1.4.1.1.88.11", "Basic Text SR"),
            Map.entry("1.2.840.10008.5.1.4.1.1.88.22", "Enhanced SR"),
            Map.entry("1.2.840.10008.5.1.4.1.1.88.33", "Comprehensive SR"),
            Map.entry("1.2.840.10008.5.1.4.1.1.88.59", "Key Object Selection"),
            Map.entry("1.2.840.10008.5.1.4.1.1.88.67", "X-Ray Radiation Dose SR"),
            Map.entry("1.2.840.10008.5.1.4.1.1.11.1", "Grayscale Softcopy Presentation State"),
            Map.entry("1.2.840.10008.5.1.4.1.1.104.1", "Encapsulated PDF"));

    /** The chosen series, sorted and checked: geometry (with its {@link DicomSource}) and where each slice is. */
    public record Series(List<SeriesSummary> all, SeriesSummary chosen, Geometry geometry, String detail,
            List<Slice> slices) {
    }

    /**
     * What a scan of the input found: every image frame with its series, the series in the order first found (with
     * the first error of a series whose image could not be placed), and the objects left out because they are not
     * images of a volume (a Secondary Capture, a SEG, an SR, a dose report), one line per kind.
     */
    private record Found(List<Frame> frames, Map<String, SeriesInfo> series, Map<String, Integer> skipped) {
        String skippedNote() {
            if (skipped.isEmpty()) {
                return "";
            }
            List<String> parts = new ArrayList<>();
            skipped.forEach((kind, n) -> parts.add(n + " " + kind));
            return "skipped " + String.join(", ", parts) + " (not images of a volume)";
        }
    }

    /** A series as scanned: its first image's fields, its image count, and its first error (or null). */
    private static final class SeriesInfo {
        final String uid;
        final String number;
        final String description;
        final String modality;
        final String imageType;
        final boolean ctcf;
        int images;
        int frames;
        int rows;
        int columns;
        VolumeFormatException error;

        SeriesInfo(String uid, String number, String description, String modality, String imageType, boolean ctcf) {
            this.uid = uid;
            this.number = number;
            this.description = description;
            this.modality = modality;
            this.imageType = imageType;
            this.ctcf = ctcf;
        }
    }

    /** One slice of the volume: the file and frame holding it, and its rescale. */
    public record Slice(Path file, int frame, double slope, double intercept) {
    }

    /** One frame as found while scanning: position, orientation, spacing, rescale. */
    private record Frame(ImageInfo image, int frame, double[] ipp, double[] iop, double[] spacing, double slope,
            double intercept) {
    }

    /** One image file's series-level fields. */
    private record ImageInfo(Path file, String seriesUid, String number, String description, String modality,
            String sopClass, String sopInstance, String transferSyntax, int rows, int columns, int frames,
            int bitsAllocated, int bitsStored, int pixelRepresentation, int samples, String photometric,
            Integer padding, Integer paddingLimit, double sliceThickness, double gantryTilt,
            List<DicomSource.DicomElement> kept) {
    }

    /** Whether {@code input} should be read as DICOM: a directory, a file named DICOMDIR, or 'DICM' at byte 128. */
    public static boolean isDicom(Path input) {
        if (Files.isDirectory(input)) {
            return true;
        }
        String name = input.getFileName() == null ? "" : input.getFileName().toString();
        return name.equalsIgnoreCase("DICOMDIR") || name.toLowerCase(Locale.ROOT).endsWith(".dcm")
                || DicomFile.looksLikeDicom(input);
    }

    /** The series in {@code input}, in the order first found. */
    public static List<SeriesSummary> list(Path input, ReadOptions options) throws IOException {
        return summaries(scan(input, options));
    }

    /**
     * Finds, sorts and checks the series {@code options} picks, without decoding voxels. Objects that are not images
     * of a volume are left out (and named in the detail); with several series and none picked, the one original,
     * primary CT series not written by ctcf is taken (ctcf's own derived series beside it never are), and an error
     * lists them when there is no such single series.
     */
    public static Series series(Path input, ReadOptions options) throws IOException {
        Found found = scan(input, options);
        List<SeriesSummary> all = summaries(found);
        if (all.isEmpty()) {
            throw new VolumeFormatException(input, "no DICOM images of a volume (CT, MR, PET) found"
                    + (found.skipped().isEmpty() ? "" : "; " + found.skippedNote()));
        }
        SeriesSummary chosen = choose(input, all, options.series());
        SeriesInfo info = found.series().get(chosen.uid());
        if (info.error != null) {
            throw info.error;
        }
        List<Frame> frames = found.frames().stream().filter(f -> f.image().seriesUid().equals(chosen.uid())).toList();
        Series s = assemble(input, all, chosen, frames, options);
        String note = found.skippedNote();
        return note.isEmpty() ? s : new Series(s.all(), s.chosen(), s.geometry(), s.detail() + "; " + note,
                s.slices());
    }

    /** Reads the series {@code options} picks into a new volume (the caller closes it). */
    public static Volume read(Path input, ReadOptions options) throws IOException {
        Series s = series(input, options);
        Geometry g = s.geometry();
        Volume v = Volume.allocate(g);
        try {
            int plane = g.nx() * g.ny();
            int[] stored = new int[plane];
            float[] hu = new float[plane];
            DicomFile open = null;
            ImageInfo info = null;
            PixelDecoder.Layout layout = null;
            try {
                for (int k = 0; k < s.slices().size(); k++) {
                    Slice sl = s.slices().get(k);
                    if (open == null || !open.path().equals(sl.file())) {  // a multi-frame file: opened once
                        if (open != null) {
                            open.close();
                            open = null;
                        }
                        open = DicomFile.open(sl.file(), inflateCap(options));
                        info = imageInfo(open);
                        layout = new PixelDecoder.Layout(info.rows(), info.columns(), info.frames(),
                                info.bitsAllocated(), info.samples());
                    }
                    try {
                        PixelDecoder.decode(open, layout, sl.frame(), stored);
                    } catch (IndexOutOfBoundsException e) {
                        throw new VolumeFormatException(sl.file(), "truncated pixel data: " + e.getMessage(), e);
                    }
                    toHu(stored, hu, info, sl.slope(), sl.intercept());
                    long at = (long) k * plane * Float.BYTES;
                    v.withSegment(seg -> {
                        MemorySegment.copy(hu, 0, seg, JAVA_FLOAT, at, plane);
                        return null;
                    });
                }
            } finally {
                if (open != null) {
                    open.close();
                }
            }
            return v;
        } catch (IOException | RuntimeException e) {
            v.close();
            throw e;
        }
    }

    static long inflateCap(ReadOptions o) {
        return Math.min(512L << 20, 2 * Math.min(o.maxVoxels(), 1L << 28) + (16L << 20));
    }

    private static void toHu(int[] stored, float[] hu, ImageInfo info, double slope, double intercept) {
        int bits = info.bitsStored();
        boolean signed = info.pixelRepresentation() == 1;
        int mask = bits >= 32 ? -1 : (1 << bits) - 1;
        int lo = Integer.MIN_VALUE;
        int hi = Integer.MIN_VALUE;
        if (info.padding() != null) {
            int p = interpret(info.padding(), Math.min(bits, 16), signed);
            int q = info.paddingLimit() == null ? p : interpret(info.paddingLimit(), Math.min(bits, 16), signed);
            lo = Math.min(p, q);
            hi = Math.max(p, q);
        }
        boolean padding = info.padding() != null;
        if (!padding && bits < 32) {  // the common case, branch-free: sign-extend by shifts or mask
            int shift = 32 - bits;
            if (signed) {
                for (int i = 0; i < hu.length; i++) {
                    hu[i] = (float) (((stored[i] << shift) >> shift) * slope + intercept);
                }
            } else {
                for (int i = 0; i < hu.length; i++) {
                    hu[i] = (float) ((stored[i] & mask) * slope + intercept);
                }
            }
            return;
        }
        for (int i = 0; i < hu.length; i++) {
            int v = stored[i] & mask;
            if (signed && bits < 32 && (v & (1 << (bits - 1))) != 0) {
                v -= 1 << bits;
            }
            hu[i] = padding && v >= lo && v <= hi ? PADDING_HU : (float) (v * slope + intercept);
        }
    }

    private static int interpret(int raw16, int bits, boolean signed) {
        int v = raw16 & ((1 << bits) - 1);
        if (signed && (v & (1 << (bits - 1))) != 0) {
            v -= 1 << bits;
        }
        return v;
    }

    // ---- scanning ----

    private static Found scan(Path input, ReadOptions options) throws IOException {
        List<Path> files = new ArrayList<>();
        if (Files.isDirectory(input)) {
            try (Stream<Path> walk = Files.walk(input, MAX_DEPTH, new FileVisitOption[0])) {
                var it = walk.filter(Files::isRegularFile).filter(p -> !hidden(input, p)).sorted().iterator();
                while (it.hasNext()) {
                    Path p = it.next();
                    if (p.getFileName().toString().equalsIgnoreCase("DICOMDIR") || !DicomFile.looksLikeDicom(p)) {
                        continue;
                    }
                    options.checkConfinedIn(input, p);  // a symbolic link to a file outside the folder
                    if (files.size() >= MAX_FILES) {
                        throw new VolumeFormatException(input, "more than " + MAX_FILES + " DICOM files");
                    }
                    files.add(p);
                }
            }
        } else if (input.getFileName() != null && input.getFileName().toString().equalsIgnoreCase("DICOMDIR")) {
            files.addAll(dicomdirFiles(input, options));
        } else {
            files.add(input);
        }
        List<Frame> frames = new ArrayList<>();
        Map<String, SeriesInfo> series = new LinkedHashMap<>();
        Map<String, Integer> skipped = new java.util.TreeMap<>();
        for (Path p : files) {
            try (DicomFile f = DicomFile.open(p, inflateCap(options))) {
                DicomObject d = f.dataset();
                String sop = nz(d.string(Tags.SOP_CLASS));
                String kind = f.pixels() == null ? OTHER_CLASSES.getOrDefault(sop, "object without pixel data")
                        : !sop.isEmpty() && !VOLUME_IMAGE_CLASSES.contains(sop)
                                ? OTHER_CLASSES.getOrDefault(sop, "image of SOP class " + sop) : null;
                if (kind == null && f.pixels() != null && !greyScale(d)) {
                    kind = "colour image";  // a colour object of an image class: not a CT slice
                }
                if (kind != null) {
                    if (files.size() == 1) {
                        throw f.fail("not an image of a volume (" + kind + "); ctcf reads CT series");
                    }
                    skipped.merge(kind, 1, Integer::sum);
                    continue;
                }
                String uid = nz(d.string(Tags.SERIES_UID));
                SeriesInfo info = series.computeIfAbsent(uid, u -> new SeriesInfo(u, nz(d.string(Tags.SERIES_NUMBER)),
                        nz(d.string(Tags.SERIES_DESCRIPTION)), nz(d.string(Tags.MODALITY)),
                        nz(d.string(Tags.IMAGE_TYPE)), writtenByCtcf(f)));
                info.images++;
                if (info.rows == 0) {
                    info.rows = d.uint16(Tags.ROWS, 0);
                    info.columns = d.uint16(Tags.COLUMNS, 0);
                }
                if (info.error != null) {
                    continue;
                }
                try {
                    int before = frames.size();
                    addFrames(f, frames, options);
                    info.frames += frames.size() - before;
                } catch (VolumeFormatException e) {
                    info.error = e;  // the series' own problem: only an error when it is the one read
                }
            } catch (IndexOutOfBoundsException e) {
                throw new VolumeFormatException(p, "truncated or inconsistent DICOM data (" + e.getMessage() + ")", e);
            }
        }
        return new Found(frames, series, skipped);
    }

    /**
     * Whether {@code p} is hidden below the folder {@code root} (its name, or a folder's on the way, starts with a
     * dot): skipped, as a folder's other files are. That keeps out what is not the study's: ctcf's own lock files and
     * staged folders (a {@code --dicom-out} being written into the study, which must not be read half-written, and
     * whose lock a read must not touch), macOS's {@code ._} files, version-control folders.
     */
    public static boolean hidden(Path root, Path p) {
        for (Path part : root.relativize(p)) {
            if (part.toString().startsWith(".")) {
                return true;
            }
        }
        return false;
    }

    private static List<Path> dicomdirFiles(Path dicomdir, ReadOptions options) throws IOException {
        Path root = dicomdir.toAbsolutePath().normalize().getParent();
        List<Path> out = new ArrayList<>();
        try (DicomFile f = DicomFile.open(dicomdir, inflateCap(options))) {
            for (DicomObject rec : f.dataset().items(Tags.DIRECTORY_RECORD_SEQUENCE)) {
                String id = rec.string(Tags.REFERENCED_FILE_ID);
                if (id == null || id.isEmpty()) {
                    continue;
                }
                Path p = root;
                for (String part : id.split("\\\\", 16)) {
                    String c = part.trim();
                    if (c.isEmpty() || c.equals("..") || c.equals(".") || c.contains("/")) {
                        throw f.fail("DICOMDIR references an unsafe file ID '" + id + "'");
                    }
                    p = p.resolve(c);
                }
                if (!p.normalize().startsWith(root)) {
                    throw f.fail("DICOMDIR references a file outside its folder: '" + id + "'");
                }
                if (!Files.isRegularFile(p)) {
                    throw f.fail("DICOMDIR references " + p + ", which does not exist");
                }
                options.checkConfined(dicomdir, id, p);  // a symbolic link below the DICOMDIR's folder
                if (out.size() >= MAX_FILES) {
                    throw f.fail("DICOMDIR references more than " + MAX_FILES + " files");
                }
                out.add(p);
            }
        }
        if (out.isEmpty()) {
            throw new VolumeFormatException(dicomdir, "DICOMDIR references no files");
        }
        return out;
    }

    private static ImageInfo imageInfo(DicomFile f) throws VolumeFormatException {
        DicomObject d = f.dataset();
        int rows = d.uint16(Tags.ROWS, 0);
        int cols = d.uint16(Tags.COLUMNS, 0);
        if (rows < 1 || cols < 1) {
            throw f.fail("Rows/Columns missing or zero (" + rows + " x " + cols + ")");
        }
        double nf = d.decimal(Tags.NUMBER_OF_FRAMES, 1);
        if (!(nf >= 1) || nf > Integer.MAX_VALUE || nf != Math.rint(nf)) {
            throw f.fail("invalid Number of Frames '" + d.string(Tags.NUMBER_OF_FRAMES) + "'");
        }
        int frames = (int) nf;
        int ba = d.uint16(Tags.BITS_ALLOCATED, 16);
        if (ba != 8 && ba != 16 && ba != 32) {
            throw f.fail("unsupported Bits Allocated " + ba + " (8, 16 or 32)");
        }
        int bs = d.uint16(Tags.BITS_STORED, ba);
        if (bs < 1 || bs > ba) {
            throw f.fail("Bits Stored " + bs + " does not fit Bits Allocated " + ba);
        }
        int pr = d.uint16(Tags.PIXEL_REPRESENTATION, 0);
        if (pr != 0 && pr != 1) {
            throw f.fail("invalid Pixel Representation " + pr);
        }
        int spp = d.uint16(Tags.SAMPLES_PER_PIXEL, 1);
        String photometric = nz(d.string(Tags.PHOTOMETRIC));
        if (!greyScale(d)) {
            throw f.fail("not a grey-scale image (Samples per Pixel " + spp + ", Photometric Interpretation '"
                    + photometric + "'); CT is MONOCHROME2");
        }
        Integer padding = d.hasValue(Tags.PIXEL_PADDING_VALUE) ? d.uint16(Tags.PIXEL_PADDING_VALUE, 0) : null;
        Integer limit = d.hasValue(Tags.PIXEL_PADDING_RANGE_LIMIT) ? d.uint16(Tags.PIXEL_PADDING_RANGE_LIMIT, 0) : null;
        List<DicomSource.DicomElement> kept = new ArrayList<>();
        for (DicomObject.Element e : d.elements()) {
            if (DicomSource.kept(e.tag()) && e.value() != null && e.items() == null) {
                kept.add(new DicomSource.DicomElement(e.tag(), e.vr(), e.value()));
            }
        }
        kept.sort(Comparator.comparingInt(e -> e.tag() ^ Integer.MIN_VALUE));
        return new ImageInfo(f.path(), nz(d.string(Tags.SERIES_UID)), nz(d.string(Tags.SERIES_NUMBER)),
                nz(d.string(Tags.SERIES_DESCRIPTION)), nz(d.string(Tags.MODALITY)), nz(d.string(Tags.SOP_CLASS)),
                nz(d.string(Tags.SOP_INSTANCE)), f.transferSyntax(), rows, cols, frames, ba, bs, pr, spp, photometric,
                padding, limit, d.decimal(Tags.SLICE_THICKNESS, Double.NaN), d.decimal(Tags.GANTRY_TILT, 0), kept);
    }

    private static String nz(String s) {
        return s == null ? "" : s;
    }

    private static boolean greyScale(DicomObject d) {
        String photometric = nz(d.string(Tags.PHOTOMETRIC));
        return d.uint16(Tags.SAMPLES_PER_PIXEL, 1) == 1 && (photometric.isEmpty()
                || photometric.startsWith("MONOCHROME"));
    }

    /** Whether ctcf wrote the object: its Manufacturer or Software Versions, or its File Meta's implementation. */
    private static boolean writtenByCtcf(DicomFile f) {
        DicomObject d = f.dataset();
        return "ctcf".equals(nz(d.string(Tags.MANUFACTURER)).strip())
                || "ctcf".equals(nz(d.string(Tags.SOFTWARE_VERSIONS)).strip())
                || DicomUids.IMPLEMENTATION_CLASS_UID.equals(nz(d.string(0x00020012)).replace("\0", "").strip());
    }

    private static void addFrames(DicomFile f, List<Frame> out, ReadOptions options) throws VolumeFormatException {
        ImageInfo info = imageInfo(f);
        long voxels = (long) info.rows() * info.columns() * info.frames();
        if (voxels > options.maxVoxels()) {
            throw f.fail(info.rows() + " x " + info.columns() + " x " + info.frames() + " frames = " + voxels
                    + " voxels, more than the limit of " + options.maxVoxels());
        }
        if (!f.pixels().encapsulated()) {
            long need = voxels * (info.bitsAllocated() / 8);
            if (f.pixels().length() < need) {
                throw f.fail("pixel data holds " + f.pixels().length() + " bytes, but " + info.rows() + " x "
                        + info.columns() + " x " + info.frames() + " frames of " + info.bitsAllocated()
                        + " bits need " + need);
            }
        } else if (!PixelDecoder.supported(info.transferSyntax())
                || info.transferSyntax().equals(PixelDecoder.JPEG_EXTENDED)) {
            PixelDecoder.Layout l = new PixelDecoder.Layout(info.rows(), info.columns(), info.frames(),
                    info.bitsAllocated(), 1);
            PixelDecoder.decode(f, l, 0, new int[0]); // throws the error naming the syntax
        }
        DicomObject d = f.dataset();
        DicomObject shared = d.item(Tags.SHARED_FUNCTIONAL_GROUPS);
        List<DicomObject> perFrame = d.items(Tags.PER_FRAME_FUNCTIONAL_GROUPS);
        double slope0 = d.decimal(Tags.RESCALE_SLOPE, 1);
        double intercept0 = d.decimal(Tags.RESCALE_INTERCEPT, 0);
        if (info.frames() > 1 || shared != null || !perFrame.isEmpty()) {
            if (perFrame.size() != info.frames()) {
                throw f.fail(info.frames() + " frames but " + perFrame.size()
                        + " per-frame functional group items (5200,9230): cannot place the frames");
            }
            for (int i = 0; i < info.frames(); i++) {
                DicomObject pf = perFrame.get(i);
                double[] ipp = group(pf, shared, Tags.PLANE_POSITION_SEQUENCE, Tags.IPP);
                double[] iop = group(pf, shared, Tags.PLANE_ORIENTATION_SEQUENCE, Tags.IOP);
                double[] ps = group(pf, shared, Tags.PIXEL_MEASURES_SEQUENCE, Tags.PIXEL_SPACING);
                double[] slope = group(pf, shared, Tags.PIXEL_VALUE_TRANSFORMATION_SEQUENCE, Tags.RESCALE_SLOPE);
                double[] icpt = group(pf, shared, Tags.PIXEL_VALUE_TRANSFORMATION_SEQUENCE, Tags.RESCALE_INTERCEPT);
                out.add(checked(f, new Frame(info, i, ipp, iop, ps, slope == null ? slope0 : slope[0],
                        icpt == null ? intercept0 : icpt[0])));
            }
        } else {
            out.add(checked(f, new Frame(info, 0, d.decimals(Tags.IPP), d.decimals(Tags.IOP),
                    d.decimals(Tags.PIXEL_SPACING), slope0, intercept0)));
        }
    }

    private static double[] group(DicomObject perFrame, DicomObject shared, int seq, int tag) {
        for (DicomObject g : new DicomObject[] {perFrame, shared}) {
            if (g == null) {
                continue;
            }
            DicomObject item = g.item(seq);
            if (item != null && item.hasValue(tag)) {
                return item.decimals(tag);
            }
        }
        return null;
    }

    private static Frame checked(DicomFile f, Frame fr) throws VolumeFormatException {
        String where = fr.image().frames() > 1 ? " of frame " + (fr.frame() + 1) : "";
        if (fr.ipp() == null || fr.ipp().length != 3 || !finite(fr.ipp())) {
            throw f.fail("no valid Image Position (Patient) (0020,0032)" + where + ": cannot place the slice");
        }
        if (fr.iop() == null || fr.iop().length != 6 || !finite(fr.iop())) {
            throw f.fail("no valid Image Orientation (Patient) (0020,0037)" + where + ": cannot place the slice");
        }
        if (fr.spacing() == null || fr.spacing().length != 2 || !finite(fr.spacing()) || fr.spacing()[0] <= 0
                || fr.spacing()[1] <= 0) {
            throw f.fail("no valid Pixel Spacing (0028,0030)" + where);
        }
        if (!Double.isFinite(fr.slope()) || !Double.isFinite(fr.intercept()) || fr.slope() == 0) {
            throw f.fail("invalid Rescale Slope/Intercept " + fr.slope() + "/" + fr.intercept() + where);
        }
        double[] r = {fr.iop()[0], fr.iop()[1], fr.iop()[2]};
        double[] c = {fr.iop()[3], fr.iop()[4], fr.iop()[5]};
        if (Math.abs(norm(r) - 1) > 1e-3 || Math.abs(norm(c) - 1) > 1e-3 || Math.abs(dot(r, c)) > 1e-3) {
            throw f.fail("Image Orientation (Patient) " + java.util.Arrays.toString(fr.iop())
                    + " is not two orthogonal unit vectors" + where);
        }
        return fr;
    }

    private static boolean finite(double[] a) {
        for (double x : a) {
            if (!Double.isFinite(x)) {
                return false;
            }
        }
        return true;
    }

    // ---- grouping and choosing ----

    private static List<SeriesSummary> summaries(Found found) {
        List<SeriesSummary> out = new ArrayList<>();
        for (SeriesInfo i : found.series().values()) {
            out.add(new SeriesSummary(i.uid, i.number, i.description, i.modality, i.error != null ? i.images
                    : i.frames, i.rows, i.columns, i.imageType, i.ctcf));
        }
        return out;
    }

    private static SeriesSummary choose(Path input, List<SeriesSummary> all, String pick) throws VolumeFormatException {
        if (pick == null) {
            if (all.size() == 1) {
                return all.get(0);  // the only series, ctcf's own too (a derived series read back on its own)
            }
            List<SeriesSummary> original = all.stream().filter(s -> !s.ctcf() && s.originalPrimary()
                    && s.modality().equals("CT")).toList();
            if (original.size() == 1) {
                return original.get(0);  // the study's CT beside derived series (ctcf's own among them)
            }
            throw new VolumeFormatException(input, all.size() + " series found" + (original.isEmpty()
                    ? ", none an original CT series not written by ctcf" : ", " + original.size()
                            + " of them original CT series") + "; pick one with --series UID|NUMBER:\n"
                    + listing(all));
        }
        for (SeriesSummary s : all) {
            if (s.uid().equals(pick)) {
                return s;
            }
        }
        List<SeriesSummary> byNumber = all.stream().filter(s -> !s.number().isEmpty() && s.number().equals(pick))
                .toList();
        if (byNumber.size() == 1) {
            return byNumber.get(0);
        }
        throw new VolumeFormatException(input, (byNumber.isEmpty() ? "no series with UID or number '" + pick + "'"
                : byNumber.size() + " series have number " + pick + "; pick one by UID") + "; found:\n"
                + listing(all));
    }

    /** The series, one per line, for messages and {@code ctcf info}. */
    public static String listing(List<SeriesSummary> all) {
        StringBuilder sb = new StringBuilder();
        for (SeriesSummary s : all) {
            sb.append("  ").append(s).append('\n');
        }
        return sb.toString().stripTrailing();
    }

    // ---- geometry ----

    private static Series assemble(Path input, List<SeriesSummary> all, SeriesSummary chosen, List<Frame> frames,
            ReadOptions options) throws VolumeFormatException {
        Frame f0 = frames.get(0);
        ImageInfo i0 = f0.image();
        for (Frame f : frames) {
            ImageInfo i = f.image();
            if (i.rows() != i0.rows() || i.columns() != i0.columns()) {
                throw new VolumeFormatException(i.file(), "mixed image sizes in series " + chosen.uid() + ": "
                        + i.columns() + " x " + i.rows() + " here, " + i0.columns() + " x " + i0.rows() + " in "
                        + i0.file().getFileName());
            }
            if (i.bitsAllocated() != i0.bitsAllocated() || i.pixelRepresentation() != i0.pixelRepresentation()) {
                throw new VolumeFormatException(i.file(), "mixed Bits Allocated / Pixel Representation in the series");
            }
            for (int a = 0; a < 6; a++) {
                if (Math.abs(f.iop()[a] - f0.iop()[a]) > 1e-4) {
                    throw new VolumeFormatException(i.file(), "mixed orientations in series " + chosen.uid() + ": "
                            + "Image Orientation (Patient) " + java.util.Arrays.toString(f.iop()) + " here, "
                            + java.util.Arrays.toString(f0.iop()) + " in " + i0.file().getFileName());
                }
            }
            for (int a = 0; a < 2; a++) {
                if (Math.abs(f.spacing()[a] - f0.spacing()[a]) > 1e-4 * Math.max(1, f0.spacing()[a])) {
                    throw new VolumeFormatException(i.file(), "mixed Pixel Spacing in the series: "
                            + java.util.Arrays.toString(f.spacing()) + " here, "
                            + java.util.Arrays.toString(f0.spacing()) + " in " + i0.file().getFileName());
                }
            }
        }
        double[] r = unit(new double[] {f0.iop()[0], f0.iop()[1], f0.iop()[2]});
        double[] c = unit(new double[] {f0.iop()[3], f0.iop()[4], f0.iop()[5]});
        double[] n = unit(cross(r, c));
        List<Frame> sorted = new ArrayList<>(frames);
        sorted.sort(Comparator.comparingDouble(f -> dot(f.ipp(), n)));
        int nz = sorted.size();
        long voxels = (long) i0.rows() * i0.columns() * nz;
        if (voxels > options.maxVoxels()) {
            throw new VolumeFormatException(input, "series " + chosen.uid() + " has " + voxels
                    + " voxels, more than the limit of " + options.maxVoxels());
        }
        double sz;
        if (nz == 1) {
            sz = Double.isFinite(i0.sliceThickness()) && i0.sliceThickness() > 0 ? i0.sliceThickness() : 1.0;
        } else {
            double[] d = new double[nz];
            for (int k = 0; k < nz; k++) {
                d[k] = dot(sorted.get(k).ipp(), n);
            }
            double[] steps = new double[nz - 1];
            for (int k = 0; k + 1 < nz; k++) {
                steps[k] = d[k + 1] - d[k];
                if (steps[k] < 1e-3) {
                    throw new VolumeFormatException(input, "two images of series " + chosen.uid()
                            + " lie at the same position (" + fmt(d[k]) + " mm along the normal: "
                            + sorted.get(k).image().file().getFileName() + ", "
                            + sorted.get(k + 1).image().file().getFileName()
                            + "); several acquisitions or phases in one series are not read");
                }
            }
            double[] st = steps.clone();
            java.util.Arrays.sort(st);
            double median = st[st.length / 2];
            double tol = Math.max(0.02, 0.01 * median);
            List<String> gaps = new ArrayList<>();
            for (int k = 0; k + 1 < nz; k++) {
                if (Math.abs(steps[k] - median) > tol) {
                    double ratio = steps[k] / median;
                    gaps.add(String.format(Locale.ROOT, "%.4f mm between slices %d and %d (at %.4f and %.4f mm)%s",
                            steps[k], k, k + 1, d[k], d[k + 1], Math.abs(ratio - Math.rint(ratio)) < 0.05
                                    && ratio > 1.5 ? String.format(Locale.ROOT, " (%.0f missing slice%s?)",
                                            Math.rint(ratio) - 1, Math.rint(ratio) > 2 ? "s" : "") : ""));
                }
            }
            if (!gaps.isEmpty()) {
                throw new VolumeFormatException(input, "irregular slice spacing in series " + chosen.uid() + ": most"
                        + " steps are " + fmt(median) + " mm, but " + String.join("; ", gaps.subList(0,
                                Math.min(8, gaps.size()))) + (gaps.size() > 8 ? "; and " + (gaps.size() - 8)
                                        + " more" : "") + ". ctcf does not resample irregular series: read the"
                        + " regular part, or resample it with another tool first");
            }
            for (int k = 1; k < nz; k++) {
                double[] delta = sub(sorted.get(k).ipp(), sorted.get(0).ipp());
                double along = dot(delta, n);
                double[] perp = sub(delta, scale(n, along));
                if (norm(perp) > 0.01 + 1e-3 * Math.abs(along)) {
                    double tilt = Math.toDegrees(Math.atan2(norm(perp), Math.abs(along)));
                    throw new VolumeFormatException(input, String.format(Locale.ROOT, "slice positions of series %s"
                            + " do not run along the slice normal: slice %d is offset %.3f mm in-plane (a %.2f° gantry"
                            + " tilt or sheared stack%s); ctcf does not resample tilted series", chosen.uid(), k,
                            norm(perp), tilt, i0.gantryTilt() != 0 ? ", Gantry/Detector Tilt " + i0.gantryTilt()
                                    : ""));
                }
            }
            sz = (d[nz - 1] - d[0]) / (nz - 1);
        }
        double sx = f0.spacing()[1]; // Pixel Spacing = row spacing \ column spacing; i runs along a row
        double sy = f0.spacing()[0];
        double[] o = sorted.get(0).ipp();
        double[] lps = {
            r[0] * sx, c[0] * sy, n[0] * sz, o[0],
            r[1] * sx, c[1] * sy, n[1] * sz, o[1],
            r[2] * sx, c[2] * sy, n[2] * sz, o[2],
            0, 0, 0, 1};
        double[] ras = lps.clone();
        for (int a = 0; a < 8; a++) {
            ras[a] = -ras[a];
        }
        List<Slice> slices = new ArrayList<>();
        List<DicomSource.Instance> instances = new ArrayList<>();
        List<Path> files = new ArrayList<>();
        Path last = null;
        for (Frame f : sorted) {
            slices.add(new Slice(f.image().file(), f.frame(), f.slope(), f.intercept()));
            if (!f.image().file().equals(last)) {
                instances.add(new DicomSource.Instance(f.image().sopClass(), f.image().sopInstance(),
                        f.image().frames()));
                files.add(f.image().file());
                last = f.image().file();
            }
        }
        ImageInfo first = sorted.get(0).image();
        DicomSource src = new DicomSource(first.kept(), instances, first.modality(), chosen.uid(),
                first.description(), first.transferSyntax(), first.bitsAllocated(), first.bitsStored(),
                first.pixelRepresentation(), sorted.get(0).slope(), sorted.get(0).intercept(), files);
        Geometry g = new Geometry(i0.columns(), i0.rows(), nz, ras, src);
        String detail = "DICOM series " + chosen.uid() + (chosen.number().isEmpty() ? "" : " (number "
                + chosen.number() + ")") + ", " + chosen.modality() + ", " + PixelDecoder.name(first.transferSyntax())
                + " (" + first.transferSyntax() + "), " + (i0.frames() > 1 ? "multi-frame, " + i0.frames()
                        + " frames" : nz + " files") + ", " + first.bitsStored() + "/" + first.bitsAllocated()
                + " bits " + (first.pixelRepresentation() == 1 ? "signed" : "unsigned") + ", rescale "
                + sorted.get(0).slope() + "/" + sorted.get(0).intercept();
        return new Series(all, chosen, g, detail, slices);
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }

    private static double dot(double[] a, double[] b) {
        return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    }

    private static double norm(double[] a) {
        return Math.sqrt(dot(a, a));
    }

    private static double[] unit(double[] a) {
        double l = norm(a);
        return new double[] {a[0] / l, a[1] / l, a[2] / l};
    }

    private static double[] cross(double[] a, double[] b) {
        return new double[] {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
    }

    private static double[] sub(double[] a, double[] b) {
        return new double[] {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
    }

    private static double[] scale(double[] a, double s) {
        return new double[] {a[0] * s, a[1] * s, a[2] * s};
    }
}
