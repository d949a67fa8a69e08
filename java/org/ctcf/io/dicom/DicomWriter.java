package org.ctcf.io.dicom;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.ctcf.io.AtomicFiles;

/**
 * Writes ctcf's explanation back into the source study as DICOM (PS3.10 files, Explicit VR Little Endian, encoded
 * here: no DICOM toolkit): the counterfactual as a derived CT series, the change map as a Parametric Map and a
 * picture as an RGB Secondary Capture. Each object is a new series of the source's study; the Patient, General
 * Study and Frame of Reference elements the reader kept ({@link DicomSource#kept()}) are copied, new UIDs are
 * made under {@code 2.25.} ({@link DicomUids}), and the source images are referenced.
 *
 * <p>Geometry: ctcf's affine maps voxels to RAS+ millimetres; DICOM's patient coordinates are LPS, so x and y are
 * negated. Voxel axis i runs along a row (Image Orientation's row direction), axis j down the columns, and each
 * slice k is one image (or frame) at the world position of voxel (0, 0, k).
 */
public final class DicomWriter {
    public static final String CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";
    public static final String PARAMETRIC_MAP_STORAGE = "1.2.840.10008.5.1.4.1.1.30";
    public static final String SECONDARY_CAPTURE_STORAGE = "1.2.840.10008.5.1.4.1.1.7";
    public static final String EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1";
    /** Series Numbers of the written series (the source's own number is not known to the writer). */
    public static final int CT_SERIES_NUMBER = 9001;
    public static final int PARAMETRIC_MAP_SERIES_NUMBER = 9002;
    public static final int SECONDARY_CAPTURE_SERIES_NUMBER = 9003;
    static final String SOFTWARE_VERSION = "ctcf";

    private DicomWriter() {
    }

    /**
     * Writes {@code counterfactualHu} (on the source's grid, in HU) as a derived CT series in the source's study:
     * one CT Image Storage file per slice, {@code dir/ctcf-ct-0001.dcm} onward (slice k = 0 first), stored in 16
     * bits with the source's Pixel Representation (stored value = round((HU − intercept) / slope)). Each slice
     * has a Rescale Slope/Intercept of its own ({@link #rescaleFor}): the source's when it holds the slice's values
     * at 1 HU or finer, else one made for the slice's range, so that the slice read back equals the volume within
     * half its slope wherever the values are finite, whatever the source's rescale (a series whose slices each have
     * their own, as ITK writes float images, included). Nothing is clamped; a non-finite voxel (there should be
     * none) is stored as the lowest (NaN, −∞) or highest (+∞) stored value, with a warning.
     *
     * @return the files written, in slice order
     */
    public static List<Path> writeDerivedCt(Volume counterfactualHu, DicomSource src, Path dir, Derivation d)
            throws IOException {
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(d, "derivation");
        Geometry g = counterfactualHu.geometry();
        Plane plane = Plane.of(g);
        List<SourceRef> refs = sourceRefs(src, g.nz());
        if (!(src.rescaleSlope() != 0 && Double.isFinite(src.rescaleSlope())
                && Double.isFinite(src.rescaleIntercept()))) {
            throw new IllegalArgumentException("source Rescale Slope/Intercept unusable: " + src.rescaleSlope()
                    + " / " + src.rescaleIntercept());
        }
        int bitsStored = 16;  // all the bits allocated: a 12-bit source's slice of a wider range keeps a fine slope
        boolean signed = src.pixelRepresentation() == 1;
        long lo = signed ? -(1L << (bitsStored - 1)) : 0;
        long hi = signed ? (1L << (bitsStored - 1)) - 1 : (1L << bitsStored) - 1;
        String seriesUid = DicomUids.newUid();
        Stamp now = Stamp.now();
        String frameOfReference = frameOfReference(src);
        List<Path> files = new ArrayList<>();
        int nx = g.nx();
        int ny = g.ny();
        for (int k = 0; k < g.nz(); k++) {
            String sopUid = DicomUids.newUid();
            DicomDataset ds = common(src, CT_IMAGE_STORAGE, sopUid, seriesUid, CT_SERIES_NUMBER, "CT",
                    "ctcf counterfactual", now, d);
            ds.str(0x00080008, "CS", "DERIVED", "SECONDARY", "AXIAL");
            ds.is(0x00200013, k + 1);
            ds.empty(0x00200012, "IS"); // Acquisition Number
            ds.empty(0x00180060, "DS"); // KVP
            ds.empty(0x00185100, "CS"); // Patient Position (unknown to the writer)
            typeTwo(ds, 0x00200060, "CS"); // Laterality (unknown)
            frameOfReferenceModule(ds, src, frameOfReference);
            ds.str(0x00082111, "ST", d.text());
            ds.seq(0x00082112, refs.get(k).item());
            ds.ds(0x00200032, plane.ipp(k));
            ds.ds(0x00200037, plane.iop());
            ds.ds(0x00201041, plane.sliceLocation(k));
            ds.ds(0x00180050, plane.thickness());
            ds.ds(0x00280030, plane.rowSpacing(), plane.columnSpacing());
            ds.us(0x00280002, 1);
            ds.str(0x00280004, "CS", "MONOCHROME2");
            ds.us(0x00280010, ny);
            ds.us(0x00280011, nx);
            ds.us(0x00280100, 16);
            ds.us(0x00280101, bitsStored);
            ds.us(0x00280102, bitsStored - 1);
            ds.us(0x00280103, signed ? 1 : 0);
            ds.str(0x00280301, "CS", "NO"); // Burned In Annotation
            ds.str(0x00282110, "CS", "00"); // Lossy Image Compression
            ds.ds(0x00281050, 40, -600);
            ds.ds(0x00281051, 400, 1500);
            ds.str(0x00281055, "LO", "SOFT TISSUE", "LUNG");
            float[] hu = counterfactualHu.plane(k);
            Rescale rs = rescaleFor(hu, src.rescaleSlope(), src.rescaleIntercept(), lo, hi);
            ds.ds(0x00281052, rs.intercept());
            ds.ds(0x00281053, rs.slope());
            ds.str(0x00281054, "LO", "HU");
            ByteBuffer px = DicomDataset.le(2 * hu.length);
            int nonFinite = 0;
            for (float v : hu) {
                long q;
                if (Float.isFinite(v)) {
                    q = Math.round((v - rs.intercept()) / rs.slope());
                } else {
                    nonFinite++;
                    q = v == Float.POSITIVE_INFINITY ? hi : lo;
                }
                px.putShort((short) q);
            }
            if (nonFinite > 0) {
                System.getLogger("org.ctcf.io.dicom").log(System.Logger.Level.WARNING, nonFinite + " non-finite "
                        + "voxels of slice " + k + " stored as the lowest/highest stored value in " + dir);
            }
            byte[] pixels = px.array();
            Path file = dir.resolve(String.format("ctcf-ct-%04d.dcm", k + 1));
            writeFile(file, CT_IMAGE_STORAGE, sopUid, ds, 0x7FE00010, "OW", pixels.length,
                    out -> out.write(pixels));
            files.add(file);
        }
        return List.copyOf(files);
    }

    /**
     * Writes {@code changeMap} (on the source's grid) as one multi-frame Parametric Map, {@code
     * dir/ctcf-parametric-map.dcm}: 32-bit float pixel data, one frame per slice, its values mapped to
     * {@code quantity} in {@code unit} (a UCUM code, e.g. {@code "[hnsf'U]"} for HU) by a Real World Value Mapping
     * of slope 1.
     */
    public static Path writeParametricMap(Volume changeMap, String quantity, String unit, DicomSource src, Path dir,
            Derivation d) throws IOException {
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(d, "derivation");
        Geometry g = changeMap.geometry();
        Plane plane = Plane.of(g);
        List<SourceRef> refs = sourceRefs(src, g.nz());
        Volume.VoxelStats stats = changeMap.stats();
        double min = Double.isFinite(stats.min()) ? stats.min() : 0;
        double max = Double.isFinite(stats.max()) ? stats.max() : 0;
        String sopUid = DicomUids.newUid();
        Stamp now = Stamp.now();
        DicomDataset ds = common(src, PARAMETRIC_MAP_STORAGE, sopUid, DicomUids.newUid(),
                PARAMETRIC_MAP_SERIES_NUMBER, src.modality() == null || src.modality().isBlank() ? "CT"
                        : src.modality(), "ctcf change map", now, d);
        String[] imageType = {"DERIVED", "PRIMARY", "VOLUME", "NONE"};
        ds.str(0x00080008, "CS", imageType);
        ds.is(0x00200013, 1);
        frameOfReferenceModule(ds, src, frameOfReference(src));
        ds.str(0x00081090, "LO", "ctcf"); // Manufacturer's Model Name
        ds.str(0x00181000, "LO", "0"); // Device Serial Number
        ds.str(0x00189004, "CS", "RESEARCH"); // Content Qualification
        ds.str(0x00700080, "CS", "CTCF_CHANGE");
        ds.str(0x00700081, "LO", cut(quantity, 64));
        ds.empty(0x00700084, "PN");
        ds.us(0x00280002, 1);
        ds.str(0x00280004, "CS", "MONOCHROME2");
        ds.is(0x00280008, g.nz());
        ds.us(0x00280010, g.ny());
        ds.us(0x00280011, g.nx());
        ds.us(0x00280100, 32);
        ds.str(0x00280301, "CS", "NO");
        ds.str(0x00280302, "CS", "NO"); // Recognizable Visual Features
        ds.str(0x00282110, "CS", "00");
        ds.str(0x20500020, "CS", "IDENTITY");
        ds.empty(0x00400555, "SQ"); // Acquisition Context Sequence
        // Multi-frame Dimension: frames indexed by stack and position in the stack
        String dimUid = DicomUids.newUid();
        ds.seq(0x00209221, new DicomDataset().str(0x00209164, "UI", dimUid));
        ds.str(0x00209311, "CS", "3D");
        ds.seq(0x00209222,
                new DicomDataset().str(0x00209164, "UI", dimUid).at(0x00209165, 0x00209056)
                        .at(0x00209167, 0x00209111).str(0x00209421, "LO", "Stack ID"),
                new DicomDataset().str(0x00209164, "UI", dimUid).at(0x00209165, 0x00209057)
                        .at(0x00209167, 0x00209111).str(0x00209421, "LO", "In-Stack Position Number"));
        // Common Instance Reference: the source series
        List<DicomDataset> referenced = new ArrayList<>();
        for (DicomSource.Instance in : src.instances()) {
            referenced.add(new DicomDataset().str(0x00081150, "UI", in.sopClassUid())
                    .str(0x00081155, "UI", in.sopInstanceUid()));
        }
        if (src.seriesInstanceUid() != null && !src.seriesInstanceUid().isBlank()) {
            ds.seq(0x00081115, new DicomDataset().str(0x0020000E, "UI", src.seriesInstanceUid())
                    .seq(0x0008114A, referenced));
        }
        DicomDataset shared = new DicomDataset();
        shared.seq(0x00289110, new DicomDataset().ds(0x00180050, plane.thickness())
                .ds(0x00180088, plane.thickness()).ds(0x00280030, plane.rowSpacing(), plane.columnSpacing()));
        shared.seq(0x00209116, new DicomDataset().ds(0x00200037, plane.iop()));
        shared.seq(0x00209071, new DicomDataset()
                .seq(0x00082218, code("51185008", "SCT", "Chest"))
                .str(0x00209072, "CS", "U"));
        shared.seq(0x00409092, new DicomDataset().str(0x00089007, "CS", imageType));
        shared.seq(0x00289145, new DicomDataset().ds(0x00281052, 0).ds(0x00281053, 1).str(0x00281054, "LO", "US"));
        shared.seq(0x00289132, new DicomDataset().ds(0x00281050, (min + max) / 2) // the whole range, exactly
                .ds(0x00281051, max > min ? max - min : 1).str(0x00281056, "CS", "LINEAR_EXACT"));
        shared.seq(0x00409096, new DicomDataset()
                .str(0x00283003, "LO", cut(quantity, 64))
                .str(0x00409210, "SH", cut(quantity, 16))
                .seq(0x004008EA, code(unit, "UCUM", unitMeaning(unit)))
                .fd(0x00409213, min) // Double Float Real World Value First Value Mapped
                .fd(0x00409214, max)
                .fd(0x00409224, 0)
                .fd(0x00409225, 1));
        ds.seq(0x52009229, shared);
        List<DicomDataset> perFrame = new ArrayList<>();
        for (int k = 0; k < g.nz(); k++) {
            DicomDataset f = new DicomDataset();
            f.seq(0x00209111, new DicomDataset().ul(0x00209157, 1, k + 1).str(0x00209056, "SH", "1")
                    .ul(0x00209057, k + 1));
            f.seq(0x00209113, new DicomDataset().ds(0x00200032, plane.ipp(k)));
            f.seq(0x00089124, new DicomDataset() // Derivation Image
                    .str(0x00082111, "ST", d.text())
                    .seq(0x00089215, code("113062", "DCM", "Pixel by pixel subtraction"))
                    .seq(0x00082112, refs.get(k).item()));
            perFrame.add(f);
        }
        ds.seq(0x52009230, perFrame);
        Path file = dir.resolve("ctcf-parametric-map.dcm");
        long bytes = 4L * g.voxelCount();
        writeFile(file, PARAMETRIC_MAP_STORAGE, sopUid, ds, 0x7FE00008, "OF", bytes, out -> {
            for (int k = 0; k < g.nz(); k++) {
                float[] p = changeMap.plane(k);
                ByteBuffer b = DicomDataset.le(4 * p.length);
                b.asFloatBuffer().put(p);
                out.write(b.array());
            }
        });
        return file;
    }

    /**
     * Writes {@code rgbPanel} (any BufferedImage; drawn as 8-bit RGB) as a Secondary Capture image, {@code
     * dir/ctcf-secondary-capture.dcm}, in a series of its own in the source's study.
     */
    public static Path writeSecondaryCapture(BufferedImage rgbPanel, DicomSource src, Path dir, Derivation d)
            throws IOException {
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(d, "derivation");
        int w = rgbPanel.getWidth();
        int h = rgbPanel.getHeight();
        if (w > 0xFFFF || h > 0xFFFF) {
            throw new IllegalArgumentException("image too large for DICOM: " + w + "x" + h);
        }
        String sopUid = DicomUids.newUid();
        Stamp now = Stamp.now();
        DicomDataset ds = common(src, SECONDARY_CAPTURE_STORAGE, sopUid, DicomUids.newUid(),
                SECONDARY_CAPTURE_SERIES_NUMBER, "OT", "ctcf explanation panel", now, d);
        ds.str(0x00080008, "CS", "DERIVED", "SECONDARY");
        ds.str(0x00080064, "CS", "WSD");
        ds.remove(0x00200052); // the Secondary Capture IOD has no Frame of Reference
        ds.remove(0x00201040);
        typeTwo(ds, 0x00200060, "CS"); // Laterality (unknown)
        ds.is(0x00200013, 1);
        ds.empty(0x00200020, "CS"); // Patient Orientation
        ds.str(0x00082111, "ST", d.text());
        List<DicomDataset> refs = new ArrayList<>();
        for (DicomSource.Instance in : src.instances()) {
            refs.add(new DicomDataset().str(0x00081150, "UI", in.sopClassUid())
                    .str(0x00081155, "UI", in.sopInstanceUid())
                    .seq(0x0040A170, code("121322", "DCM", "Source image for image processing operation")));
        }
        ds.seq(0x00082112, refs);
        ds.us(0x00280002, 3);
        ds.str(0x00280004, "CS", "RGB");
        ds.us(0x00280006, 0);
        ds.us(0x00280010, h);
        ds.us(0x00280011, w);
        ds.us(0x00280100, 8);
        ds.us(0x00280101, 8);
        ds.us(0x00280102, 7);
        ds.us(0x00280103, 0);
        ds.str(0x00280301, "CS", "NO");
        ds.str(0x00282110, "CS", "00");
        ds.str(0x00181012, "DA", now.date()); // Date of Secondary Capture
        ds.str(0x00181014, "TM", now.time());
        byte[] pixels = new byte[3 * w * h];
        int i = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = rgbPanel.getRGB(x, y);
                pixels[i++] = (byte) (rgb >> 16);
                pixels[i++] = (byte) (rgb >> 8);
                pixels[i++] = (byte) rgb;
            }
        }
        Path file = dir.resolve("ctcf-secondary-capture.dcm");
        writeFile(file, SECONDARY_CAPTURE_STORAGE, sopUid, ds, 0x7FE00010, "OB", pixels.length,
                out -> out.write(pixels));
        return file;
    }

    /** A slice's Rescale Slope and Intercept, exactly as written (parsed back from their Decimal Strings). */
    record Rescale(double slope, double intercept) {
    }

    /**
     * The rescale of a slice with values {@code hu} stored in [{@code lo}, {@code hi}]: the source's ({@code slope},
     * {@code intercept}) when its slope is at most 1 HU and every finite value fits; else the finest that fits the
     * slice's finite range (its lowest value at {@code lo}). The numbers are those the Decimal Strings say, so what
     * is stored is what a reader computes.
     */
    static Rescale rescaleFor(float[] hu, double slope, double intercept, long lo, long hi) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (float v : hu) {
            if (Float.isFinite(v)) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
        }
        Rescale source = new Rescale(Double.parseDouble(DicomDataset.ds(slope)),
                Double.parseDouble(DicomDataset.ds(intercept)));
        if (min > max || (source.slope() > 0 && source.slope() <= 1 && fits(source, min, max, lo, hi))) {
            return source;
        }
        double s = Math.max((max - min) / (hi - lo), 1e-6);
        for (int attempt = 0; attempt < 200; attempt++) {
            double sl = Double.parseDouble(DicomDataset.ds(s));
            Rescale r = new Rescale(sl, Double.parseDouble(DicomDataset.ds(min - lo * sl)));
            if (fits(r, min, max, lo, hi)) {
                return r;
            }
            s *= 1.0005;
        }
        throw new IllegalArgumentException("no Rescale Slope/Intercept represents the slice's values " + min + " .. "
                + max + " in stored values " + lo + " .. " + hi);
    }

    private static boolean fits(Rescale r, double min, double max, long lo, long hi) {
        long a = Math.round((min - r.intercept()) / r.slope());
        long b = Math.round((max - r.intercept()) / r.slope());
        return Math.min(a, b) >= lo && Math.max(a, b) <= hi;
    }

    /**
     * Whether {@code folder} holds only DICOM files ctcf wrote (their File Meta Information names ctcf's
     * Implementation Class UID), in it or below: an earlier {@code --dicom-out} of ctcf's, which a new one may
     * replace. A folder with any other file in it (a study's own images, a note) is not.
     */
    public static boolean isOwnOutput(Path folder) {
        try (var walk = java.nio.file.Files.walk(folder)) {
            for (Path p : walk.toList()) {
                if (java.nio.file.Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                if (!java.nio.file.Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                        || !DicomUids.IMPLEMENTATION_CLASS_UID.equals(implementationClassUid(p))) {
                    return false;
                }
            }
            return true;
        } catch (IOException | java.io.UncheckedIOException e) {
            return false;
        }
    }

    /** The Implementation Class UID (0002,0012) of a PS3.10 file's File Meta Information, or null. */
    static String implementationClassUid(Path file) throws IOException {
        byte[] head;
        try (var in = java.nio.file.Files.newInputStream(file)) {
            head = in.readNBytes(4096);
        }
        if (head.length < 144 || head[128] != 'D' || head[129] != 'I' || head[130] != 'C' || head[131] != 'M') {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        int at = 132;
        while (at + 8 <= head.length) {
            int group = Short.toUnsignedInt(b.getShort(at));
            int element = Short.toUnsignedInt(b.getShort(at + 2));
            if (group != 0x0002) {
                return null;
            }
            String vr = new String(head, at + 4, 2, StandardCharsets.US_ASCII);
            long len;
            int value;
            if (vr.equals("OB") || vr.equals("OW") || vr.equals("SQ") || vr.equals("UN") || vr.equals("UT")) {
                if (at + 12 > head.length) {
                    return null;
                }
                len = Integer.toUnsignedLong(b.getInt(at + 8));
                value = at + 12;
            } else {
                len = Short.toUnsignedInt(b.getShort(at + 6));
                value = at + 8;
            }
            if (value + len > head.length) {
                return null;
            }
            if (element == 0x0012) {
                return new String(head, value, (int) len, StandardCharsets.US_ASCII).replace("\0", "").trim();
            }
            at = (int) (value + len);
        }
        return null;
    }

    // ---------------------------------------------------------------------------------------------------------

    /** The elements every object shares: kept source elements, SOP Common, General Series, Equipment, Image. */
    private static DicomDataset common(DicomSource src, String sopClass, String sopUid, String seriesUid,
            int seriesNumber, String modality, String seriesDescription, Stamp now, Derivation d) {
        DicomDataset ds = new DicomDataset();
        for (DicomSource.DicomElement e : src.kept()) {
            if (!"SQ".equals(e.vr())) { // a kept sequence's items are not re-encoded here
                ds.put(e.tag(), e.vr(), e.value());
            }
        }
        if (!ds.has(0x0020000D)) {
            throw new IllegalArgumentException("the source has no Study Instance UID (0020,000D)");
        }
        typeTwo(ds, 0x00100010, "PN"); // Patient's Name
        typeTwo(ds, 0x00100020, "LO"); // Patient ID
        typeTwo(ds, 0x00100030, "DA"); // Patient's Birth Date
        typeTwo(ds, 0x00100040, "CS"); // Patient's Sex
        typeTwo(ds, 0x00080020, "DA"); // Study Date
        typeTwo(ds, 0x00080030, "TM"); // Study Time
        typeTwo(ds, 0x00080090, "PN"); // Referring Physician's Name
        typeTwo(ds, 0x00200010, "SH"); // Study ID
        typeTwo(ds, 0x00080050, "SH"); // Accession Number
        ds.str(0x00080012, "DA", now.date()); // Instance Creation Date
        ds.str(0x00080013, "TM", now.time());
        ds.str(0x00080016, "UI", sopClass);
        ds.str(0x00080018, "UI", sopUid);
        ds.str(0x00080021, "DA", now.date()); // Series Date
        ds.str(0x00080031, "TM", now.time());
        ds.str(0x00080023, "DA", now.date()); // Content Date
        ds.str(0x00080033, "TM", now.time());
        ds.str(0x00080060, "CS", modality);
        ds.str(0x00080070, "LO", "ctcf"); // Manufacturer: the equipment that made this series
        ds.str(0x0008103E, "LO", cut(seriesDescription, 64));
        ds.str(0x00181020, "LO", SOFTWARE_VERSION);
        ds.str(0x0020000E, "UI", seriesUid);
        ds.is(0x00200011, seriesNumber);
        return ds;
    }

    private static void typeTwo(DicomDataset ds, int tag, String vr) {
        if (!ds.has(tag)) {
            ds.empty(tag, vr);
        }
    }

    /** The source's Frame of Reference UID, or one made from its Study Instance UID (the same for every object). */
    private static String frameOfReference(DicomSource src) {
        for (DicomSource.DicomElement e : src.kept()) {
            if (e.tag() == 0x00200052) {
                String s = new String(e.value(), StandardCharsets.US_ASCII).replace("\0", "").trim();
                if (!s.isEmpty()) {
                    return s;
                }
            }
        }
        for (DicomSource.DicomElement e : src.kept()) {
            if (e.tag() == 0x0020000D) {
                return DicomUids.nameBased("ctcf frame of reference",
                        new String(e.value(), StandardCharsets.US_ASCII).replace("\0", "").trim());
            }
        }
        throw new IllegalArgumentException("the source has no Study Instance UID (0020,000D)");
    }

    private static void frameOfReferenceModule(DicomDataset ds, DicomSource src, String uid) {
        ds.str(0x00200052, "UI", uid);
        typeTwo(ds, 0x00201040, "LO"); // Position Reference Indicator
    }

    private static DicomDataset code(String value, String scheme, String meaning) {
        return new DicomDataset().str(0x00080100, "SH", value).str(0x00080102, "SH", scheme)
                .str(0x00080104, "LO", cut(meaning, 64));
    }

    private static String unitMeaning(String ucum) {
        return switch (ucum) {
            case "[hnsf'U]" -> "Hounsfield unit";
            case "1" -> "no units";
            case "%" -> "percent";
            case "mm" -> "millimeter";
            default -> ucum;
        };
    }

    /**
     * {@code s} as one value of a short text VR (LO, SH): no backslash (the value delimiter), no control
     * characters, at most {@code n} characters.
     */
    private static String cut(String s, int n) {
        String c = s.replace('\\', '/').replaceAll("\\p{Cntrl}", " ").strip();
        return c.length() <= n ? c : c.substring(0, n);
    }

    /** Slice k's source image: instance and (for a multi-frame source) frame number. */
    private record SourceRef(DicomSource.Instance instance, int frame) {
        DicomDataset item() {
            DicomDataset it = new DicomDataset().str(0x00081150, "UI", instance.sopClassUid())
                    .str(0x00081155, "UI", instance.sopInstanceUid());
            if (instance.frames() > 1) {
                it.is(0x00081160, frame);
            }
            return it.seq(0x0040A170, code("121322", "DCM", "Source image for image processing operation"));
        }
    }

    private static List<SourceRef> sourceRefs(DicomSource src, int nz) {
        List<SourceRef> refs = new ArrayList<>();
        for (DicomSource.Instance in : src.instances()) {
            for (int f = 1; f <= Math.max(1, in.frames()); f++) {
                refs.add(new SourceRef(in, f));
            }
        }
        if (refs.size() != nz) {
            throw new IllegalArgumentException("the source has " + refs.size() + " slices, the volume " + nz
                    + ": a derived object must be on the source's grid");
        }
        return refs;
    }

    /** Image Plane values in DICOM's LPS patient coordinates, from a RAS+ affine. */
    record Plane(double[] lps) {
        static Plane of(Geometry g) {
            double[] a = g.affine();
            double[] m = new double[12];
            for (int r = 0; r < 3; r++) {
                for (int c = 0; c < 4; c++) {
                    m[r * 4 + c] = (r < 2 ? -1 : 1) * a[r * 4 + c];
                }
            }
            Plane p = new Plane(m);
            double[] iop = p.iop();
            double dot = iop[0] * iop[3] + iop[1] * iop[4] + iop[2] * iop[5];
            if (Math.abs(dot) > 1e-6) {
                throw new IllegalArgumentException("the volume's i and j axes are not orthogonal (cosine " + dot
                        + "): DICOM images cannot be sheared in plane");
            }
            return p;
        }

        private double norm(int c) {
            return Math.sqrt(lps[c] * lps[c] + lps[4 + c] * lps[4 + c] + lps[8 + c] * lps[8 + c]);
        }

        double columnSpacing() { // between columns: along i
            return norm(0);
        }

        double rowSpacing() { // between rows: along j
            return norm(1);
        }

        double[] iop() {
            double ni = norm(0);
            double nj = norm(1);
            return new double[] {lps[0] / ni, lps[4] / ni, lps[8] / ni, lps[1] / nj, lps[5] / nj, lps[9] / nj};
        }

        double[] normal() {
            double[] o = iop();
            return new double[] {o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]};
        }

        double[] ipp(int k) {
            return new double[] {lps[2] * k + lps[3], lps[6] * k + lps[7], lps[10] * k + lps[11]};
        }

        double sliceLocation(int k) {
            double[] n = normal();
            double[] p = ipp(k);
            return n[0] * p[0] + n[1] * p[1] + n[2] * p[2];
        }

        double thickness() {
            double[] n = normal();
            return Math.abs(n[0] * lps[2] + n[1] * lps[6] + n[2] * lps[10]);
        }
    }

    private record Stamp(String date, String time) {
        static Stamp now() {
            LocalDateTime t = LocalDateTime.now();
            return new Stamp(t.format(DateTimeFormatter.BASIC_ISO_DATE), t.format(DateTimeFormatter.ofPattern(
                    "HHmmss")));
        }
    }

    @FunctionalInterface
    private interface Pixels {
        void writeTo(OutputStream out) throws IOException;
    }

    /**
     * Writes a PS3.10 file: 128-byte preamble, "DICM", File Meta Information (group 0002, Explicit VR Little
     * Endian), the data set, then the pixel data element of {@code pixelBytes} bytes from {@code pixels}.
     */
    private static void writeFile(Path file, String sopClass, String sopUid, DicomDataset ds, int pixelTag,
            String pixelVr, long pixelBytes, Pixels pixels) throws IOException {
        DicomDataset meta = new DicomDataset();
        meta.put(0x00020001, "OB", new byte[] {0, 1});
        meta.str(0x00020002, "UI", sopClass);
        meta.str(0x00020003, "UI", sopUid);
        meta.str(0x00020010, "UI", EXPLICIT_VR_LITTLE_ENDIAN);
        meta.str(0x00020012, "UI", DicomUids.IMPLEMENTATION_CLASS_UID);
        meta.str(0x00020013, "SH", DicomUids.IMPLEMENTATION_VERSION_NAME);
        byte[] metaBytes = meta.encode();
        byte[] body = ds.encode();
        long padded = pixelBytes + (pixelBytes & 1);
        AtomicFiles.write(file, out -> {
            out.write(new byte[128]);
            out.write("DICM".getBytes(StandardCharsets.US_ASCII));
            out.write(DicomDataset.header(0x00020000, "UL", 4));
            out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(metaBytes.length).array());
            out.write(metaBytes);
            out.write(body);
            out.write(DicomDataset.header(pixelTag, pixelVr, padded));
            pixels.writeTo(out);
            if (padded != pixelBytes) {
                out.write(0);
            }
        });
    }
}
