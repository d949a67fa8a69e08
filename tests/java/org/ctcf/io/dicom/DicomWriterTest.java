package org.ctcf.io.dicom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.ctcf.core.Affine;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The DICOM writer against independent tools: dicom3tools' dciodvfy (IOD conformance), dcmtk's dcmdump (parsing),
 * pydicom (geometry, values, UIDs) and dcm2niix (the derived CT series back to NIfTI). The tool tests run when the
 * tools are on PATH and fail without them under CTCF_TEST_TOOLS=1 (.ci/env.sh installs them then).
 */
public class DicomWriterTest {
    private static final Derivation D = new Derivation("Latent Shift, lambda -30", "test-classifier", "malignant",
            0.91, 0.12);
    private static final String STUDY_UID = "2.25.1234567890123456789012345678901234567";
    private static final String FOR_UID = "2.25.2234567890123456789012345678901234567";

    @TempDir
    Path tmp;

    // ---- a hand-made source (no reader) -----------------------------------------------------------------

    static DicomSource.DicomElement text(int tag, String vr, String value) {
        return DicomSource.DicomElement.text(tag, vr, value);
    }

    static DicomSource source(int slices, int bitsStored, int pixelRepresentation, double slope, double intercept) {
        List<DicomSource.DicomElement> kept = List.of(
                text(0x00080020, "DA", "20240102"),
                text(0x00080030, "TM", "101500"),
                text(0x00080050, "SH", "ACC123"),
                text(0x00080090, "PN", "Doe^Referrer"),
                text(0x00100010, "PN", "Test^Patient"),
                text(0x00100020, "LO", "PID-0001"),
                text(0x00100030, "DA", "19600101"),
                text(0x00100040, "CS", "F"),
                text(0x0020000D, "UI", STUDY_UID),
                text(0x00200010, "SH", "S1"),
                text(0x00200052, "UI", FOR_UID));
        List<DicomSource.Instance> instances = new ArrayList<>();
        for (int k = 0; k < slices; k++) {
            instances.add(new DicomSource.Instance(DicomWriter.CT_IMAGE_STORAGE,
                    "2.25.99" + (1000 + k) + "12345678901234567890", 1));
        }
        return new DicomSource(kept, instances, "CT", "2.25.3234567890123456789012345678901234567", "source",
                DicomWriter.EXPLICIT_VR_LITTLE_ENDIAN, 16, bitsStored, pixelRepresentation, slope, intercept);
    }

    /** Oblique: rotated 20° about z and 10° about x, LPS-like (x and y flipped), anisotropic spacing. */
    static Geometry oblique(int nx, int ny, int nz) {
        double cz = Math.cos(Math.toRadians(20)), sz = Math.sin(Math.toRadians(20));
        double cx = Math.cos(Math.toRadians(10)), sx = Math.sin(Math.toRadians(10));
        double[][] rz = {{cz, -sz, 0}, {sz, cz, 0}, {0, 0, 1}};
        double[][] rx = {{1, 0, 0}, {0, cx, -sx}, {0, sx, cx}};
        double[] flip = {-1, -1, 1};
        double[] spacing = {0.75, 0.8, 2.5};
        double[] a = new double[16];
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) {
                double v = 0;
                for (int m = 0; m < 3; m++) {
                    v += rz[r][m] * rx[m][c];
                }
                a[r * 4 + c] = v * flip[c] * spacing[c];
            }
        }
        a[3] = 123.456789;
        a[7] = -87.654321;
        a[11] = -301.25;
        a[15] = 1;
        return new Geometry(nx, ny, nz, a);
    }

    static Volume huVolume(Geometry g) {
        float[] v = new float[(int) g.voxelCount()];
        for (int i = 0; i < v.length; i++) {
            v[i] = -1024.3f + (i * 37 % 2200) + 0.37f * (i % 3);
        }
        v[1] = -5000; // below what the source's rescale holds: the slice gets a rescale of its own
        return Volume.of(g, v);
    }

    // ---- no tools needed --------------------------------------------------------------------------------

    @Test
    void uidsAreValidAndUnique() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            String u = DicomUids.newUid();
            assertTrue(DicomUids.isValid(u), u);
            assertTrue(seen.add(u));
        }
        assertTrue(DicomUids.isValid(DicomUids.IMPLEMENTATION_CLASS_UID));
        assertTrue(DicomUids.isValid("1.2.0.3"));
        assertThat(DicomUids.isValid("1.02.3")).isFalse();
        assertThat(DicomUids.isValid("1..3")).isFalse();
        assertThat(DicomUids.isValid("1.2.a")).isFalse();
        assertThat(DicomUids.isValid("1." + "2".repeat(63))).isFalse();
        assertEquals(DicomUids.nameBased("a", "b"), DicomUids.nameBased("a", "b"));
        assertThat(DicomUids.fromUuid(new java.util.UUID(0, 0))).isEqualTo("2.25.0");
    }

    @Test
    void decimalStringsFitSixteenCharacters() {
        for (double v : new double[] {-0.70710678118654752, 123.45678901234567, -301.25, 1e-17, 1e20, -1e-7,
                0.1, 40, -600}) {
            String s = DicomDataset.ds(v);
            assertThat(s.length()).as(s).isLessThanOrEqualTo(16);
            assertThat(Double.parseDouble(s)).isCloseTo(Math.abs(v) < 1e-12 ? 0 : v,
                    org.assertj.core.data.Offset.offset(Math.abs(v) * 1e-9 + 1e-12));
        }
        assertEquals("40", DicomDataset.ds(40));
        assertEquals("-0.7071067811865", DicomDataset.ds(-0.70710678118654752));
    }

    @Test
    void refusesAVolumeOffTheSourceGrid() {
        Volume v = huVolume(Geometry.of(4, 3, 2, 1, 1, 1, 0, 0, 0));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> DicomWriter.writeDerivedCt(v, source(3, 12, 0, 1, -1024), tmp, D));
    }

    // ---- against dciodvfy, dcmdump, pydicom, dcm2niix -----------------------------------------------------

    static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return false;
    }

    public static void requireTools(String... tools) {
        List<String> missing = new ArrayList<>();
        for (String t : tools) {
            if (!onPath(t)) {
                missing.add(t);
            }
        }
        if (List.of(tools).contains("python3") && missing.isEmpty() && run(List.of(python(), "-c",
                "import pydicom"), null).rc() != 0) {
            missing.add("pydicom");
        }
        if ("1".equals(System.getenv("CTCF_TEST_TOOLS"))) {
            assertThat(missing).as("DICOM test tools (CTCF_TEST_TOOLS=1: .ci/env.sh installs dicom3tools, dcmtk,"
                    + " python3-pydicom, dcm2niix)").isEmpty();
        }
        assumeTrue(missing.isEmpty(), "missing " + missing);
    }

    static String python() {
        return Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
    }

    record Result(int rc, String out) {
    }

    static Result run(List<String> cmd, Path dir) {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            if (dir != null) {
                pb.directory(dir.toFile());
            }
            Process p = pb.start();
            byte[] out = p.getInputStream().readAllBytes();
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out: " + cmd);
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(cmd + ": " + e, e);
        }
    }

    /** dciodvfy's verdict: no line starting with "Error"; the warnings are printed. */
    public static void assertValid(Path file) {
        Result r = run(List.of("dciodvfy", file.toString()), null);
        List<String> errors = r.out().lines().filter(l -> l.startsWith("Error")).toList();
        r.out().lines().filter(l -> l.startsWith("Warning"))
                .forEach(l -> System.out.println("dciodvfy " + file.getFileName() + ": " + l));
        assertThat(errors).as("dciodvfy " + file + ":\n" + r.out()).isEmpty();
        Result dump = run(List.of("dcmdump", "-E", file.toString()), null);
        assertEquals(0, dump.rc(), "dcmdump " + file + ":\n" + dump.out());
    }

    /** Runs a pydicom script on the files; its stdout is whitespace-separated numbers and words. */
    static List<String> pydicom(String script, List<Path> files) {
        List<String> cmd = new ArrayList<>(List.of(python(), "-c", script));
        files.forEach(f -> cmd.add(f.toString()));
        Result r = run(cmd, null);
        assertEquals(0, r.rc(), r.out());
        return List.of(r.out().trim().split("\\s+"));
    }

    private static final String CT_SCRIPT = """
            import sys, pydicom
            for f in sys.argv[1:]:
                d = pydicom.dcmread(f)
                print(d.SOPClassUID, d.SOPInstanceUID, d.SeriesInstanceUID, d.StudyInstanceUID, d.PatientID,
                      d.FrameOfReferenceUID, d.file_meta.TransferSyntaxUID, d.Rows, d.Columns,
                      d.RescaleSlope, d.RescaleIntercept, len(d.SourceImageSequence),
                      d.SourceImageSequence[0].ReferencedSOPInstanceUID,
                      d.SourceImageSequence[0].PurposeOfReferenceCodeSequence[0].CodeValue)
                print(*[float(x) for x in d.ImagePositionPatient], *[float(x) for x in d.ImageOrientationPatient],
                      *[float(x) for x in d.PixelSpacing])
                a = d.pixel_array.astype(float) * float(d.RescaleSlope) + float(d.RescaleIntercept)
                print(*a.flatten().tolist())
            """;

    /** The RAS affine rebuilt from IPP/IOP/Pixel Spacing of the first two slices (as any DICOM reader does). */
    static double[] rasAffine(double[] ipp0, double[] ipp1, double[] iop, double[] ps) {
        double[] a = new double[16];
        for (int r = 0; r < 3; r++) {
            double s = r < 2 ? -1 : 1;
            a[r * 4] = s * iop[r] * ps[1];
            a[r * 4 + 1] = s * iop[3 + r] * ps[0];
            a[r * 4 + 2] = s * (ipp1[r] - ipp0[r]);
            a[r * 4 + 3] = s * ipp0[r];
        }
        a[15] = 1;
        return a;
    }

    void checkDerivedCt(Geometry g, int bitsStored, int pixelRepresentation, double slope, double intercept) {
        requireTools("dciodvfy", "dcmdump", "python3");
        DicomSource src = source(g.nz(), bitsStored, pixelRepresentation, slope, intercept);
        Volume hu = huVolume(g);
        List<Path> files;
        try {
            files = DicomWriter.writeDerivedCt(hu, src, tmp.resolve("ct"), D);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        assertEquals(g.nz(), files.size());
        files.forEach(DicomWriterTest::assertValid);
        List<String> out = pydicom(CT_SCRIPT, files);
        int perFile = 14 + 11 + g.nx() * g.ny();
        assertEquals(perFile * g.nz(), out.size());
        Set<String> uids = new HashSet<>();
        String series = null;
        double[][] ipp = new double[g.nz()][];
        double[] iop = null;
        double[] ps = null;
        for (int k = 0; k < g.nz(); k++) {
            List<String> f = out.subList(k * perFile, (k + 1) * perFile);
            assertEquals(DicomWriter.CT_IMAGE_STORAGE, f.get(0));
            for (String u : List.of(f.get(1), f.get(2))) {
                assertTrue(DicomUids.isValid(u) && u.startsWith("2.25."), u);
            }
            assertTrue(uids.add(f.get(1)), "SOP Instance UIDs unique");
            if (series == null) {
                series = f.get(2);
            }
            assertEquals(series, f.get(2));
            assertThat(series).isNotEqualTo(src.seriesInstanceUid());
            assertEquals(STUDY_UID, f.get(3));
            assertEquals("PID-0001", f.get(4));
            assertEquals(FOR_UID, f.get(5));
            assertEquals(DicomWriter.EXPLICIT_VR_LITTLE_ENDIAN, f.get(6));
            assertEquals(g.ny(), Integer.parseInt(f.get(7)));
            assertEquals(g.nx(), Integer.parseInt(f.get(8)));
            assertEquals(src.instances().get(k).sopInstanceUid(), f.get(12));
            assertEquals("121322", f.get(13));
            double[] geo = f.subList(14, 25).stream().mapToDouble(Double::parseDouble).toArray();
            ipp[k] = java.util.Arrays.copyOfRange(geo, 0, 3);
            iop = java.util.Arrays.copyOfRange(geo, 3, 9);
            ps = java.util.Arrays.copyOfRange(geo, 9, 11);
            float[] want = hu.plane(k);
            double fileSlope = Double.parseDouble(f.get(9));
            for (int i = 0; i < want.length; i++) {
                double got = Double.parseDouble(f.get(25 + i));
                double expect = want[i];  // nothing clamped: a slice the source's rescale cannot hold gets its own
                assertThat(Math.abs(got - expect)).as("slice %d voxel %d: %s vs %s", k, i, got, expect)
                        .isLessThanOrEqualTo(fileSlope / 2 + 1e-3);
            }
        }
        double[] rebuilt = rasAffine(ipp[0], ipp[1], iop, ps);
        double[] a = g.affine();
        for (int i = 0; i < 16; i++) {
            assertThat(Math.abs(rebuilt[i] - a[i])).as("affine[%d] %s vs %s", i, rebuilt[i], a[i])
                    .isLessThan(1e-4);
        }
        for (int k = 0; k < g.nz(); k++) { // every slice where the affine puts it
            double[] w = Affine.apply(a, 0, 0, k);
            assertThat(Math.abs(-ipp[k][0] - w[0]) + Math.abs(-ipp[k][1] - w[1]) + Math.abs(ipp[k][2] - w[2]))
                    .isLessThan(1e-4);
        }
    }

    /**
     * Issue 32's case: a source whose first slice's rescale holds only a narrow range (per-slice rescale, as ITK writes
     * float images) clamped 45 % of the counterfactual's voxels to −200 HU. For any source rescale and slices of
     * very different ranges, every slice read back (by ctcf's reader) equals the volume within half the rescale
     * slope written for it, and that slope is at most the source's where the source's holds the slice.
     */
    @Test
    void everySliceReadsBackWithinItsQuantisationWhateverTheSourceRescale() throws IOException {
        Geometry g = Geometry.of(9, 7, 5, 0.7, 0.7, 2.0, 0, 0, 0);
        float[] v = new float[(int) g.voxelCount()];
        int plane = g.nx() * g.ny();
        for (int k = 0; k < g.nz(); k++) {
            for (int i = 0; i < plane; i++) {  // slice k spans [-1024 - 300k, 1000 + 9000k] HU, float-valued
                double t = (i * 0.6180339887) % 1.0;
                v[k * plane + i] = (float) (-1024 - 300 * k + t * (2024 + 9300 * k) + 0.123);
            }
            v[k * plane] = -1024 - 300 * k;
            v[k * plane + 1] = 1000 + 9000 * k;
        }
        double[][] rescales = {{16, 0, 0.01, -1024}, {12, 0, 1, -1024}, {16, 1, 1, 0}, {16, 0, 2, -2048},
            {16, 1, 0.0001, 0}, {8, 0, 1, -200}, {16, 0, 1, -1024}};
        for (double[] r : rescales) {
            DicomSource src = source(g.nz(), (int) r[0], (int) r[1], r[2], r[3]);
            Path dir = tmp.resolve("rescale-" + java.util.Arrays.toString(r));
            try (Volume hu = Volume.of(g, v.clone())) {
                DicomWriter.writeDerivedCt(hu, src, dir, D);
            }
            DicomReader.Series series = DicomReader.series(dir, org.ctcf.io.ReadOptions.defaults());
            try (Volume back = DicomReader.read(dir, org.ctcf.io.ReadOptions.defaults())) {
                float[] b = back.toArray();
                for (int k = 0; k < g.nz(); k++) {
                    double slope = series.slices().get(k).slope();
                    double worst = 0;
                    for (int i = 0; i < plane; i++) {
                        worst = Math.max(worst, Math.abs(b[k * plane + i] - v[k * plane + i]));
                    }
                    assertThat(worst).as("source %s, slice %d (slope %s)", java.util.Arrays.toString(r), k, slope)
                            .isLessThanOrEqualTo(slope / 2 * (1 + 1e-6) + 1e-3);
                }
                if (r[2] <= 1) {  // slice 0 spans [-1024, 1000]: the source's rescale where it holds it
                    long lo = r[1] == 1 ? -(1L << ((int) r[0] - 1)) : 0;
                    long hi = r[1] == 1 ? (1L << ((int) r[0] - 1)) - 1 : (1L << (int) r[0]) - 1;
                    boolean holds = Math.round((-1024 - r[3]) / r[2]) >= lo && Math.round((1000 - r[3]) / r[2]) <= hi;
                    if (holds) {
                        assertThat(series.slices().get(0).slope()).isEqualTo(r[2]);
                    }
                }
            }
        }
    }

    @Test
    void derivedCtAxisAligned() {
        checkDerivedCt(Geometry.of(7, 5, 4, 0.7, 0.8, 2.5, -10.5, 20.25, 30), 12, 0, 1, -1024);
    }

    @Test
    void derivedCtObliqueSignedScaled() {
        checkDerivedCt(oblique(6, 5, 3), 16, 1, 0.5, -1000);
    }

    private static final String PM_SCRIPT = """
            import sys, pydicom
            d = pydicom.dcmread(sys.argv[1])
            fg = d.PerFrameFunctionalGroupsSequence
            sh = d.SharedFunctionalGroupsSequence[0]
            print(d.SOPClassUID, d.StudyInstanceUID, d.PatientID, d.SOPInstanceUID, d.SeriesInstanceUID,
                  int(d.NumberOfFrames), d.Rows, d.Columns,
                  sh.RealWorldValueMappingSequence[0].MeasurementUnitsCodeSequence[0].CodeValue,
                  fg[0].DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID)
            print(*[float(x) for x in sh.PlaneOrientationSequence[0].ImageOrientationPatient],
                  *[float(x) for x in sh.PixelMeasuresSequence[0].PixelSpacing])
            for f in fg:
                print(*[float(x) for x in f.PlanePositionSequence[0].ImagePositionPatient])
            import numpy as np
            a = np.frombuffer(d.FloatPixelData, dtype='<f4')
            print(*a.tolist())
            """;

    @Test
    void parametricMap() throws IOException {
        requireTools("dciodvfy", "dcmdump", "python3");
        Geometry g = oblique(6, 5, 3);
        DicomSource src = source(g.nz(), 12, 0, 1, -1024);
        float[] v = new float[(int) g.voxelCount()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.abs(Math.sin(i * 0.37) * 312.5);
        }
        Volume map = Volume.of(g, v);
        Path f = DicomWriter.writeParametricMap(map, "Absolute HU change", "[hnsf'U]", src, tmp.resolve("pm"), D);
        assertValid(f);
        List<String> out = pydicom(PM_SCRIPT, List.of(f));
        assertEquals(DicomWriter.PARAMETRIC_MAP_STORAGE, out.get(0));
        assertEquals(STUDY_UID, out.get(1));
        assertEquals("PID-0001", out.get(2));
        assertTrue(DicomUids.isValid(out.get(3)) && DicomUids.isValid(out.get(4)));
        assertEquals(g.nz(), Integer.parseInt(out.get(5)));
        assertEquals(g.ny(), Integer.parseInt(out.get(6)));
        assertEquals(g.nx(), Integer.parseInt(out.get(7)));
        assertEquals("[hnsf'U]", out.get(8));
        assertEquals(src.instances().get(0).sopInstanceUid(), out.get(9));
        double[] n = out.subList(10, out.size()).stream().mapToDouble(Double::parseDouble).toArray();
        double[] iop = java.util.Arrays.copyOfRange(n, 0, 6);
        double[] ps = java.util.Arrays.copyOfRange(n, 6, 8);
        double[] rebuilt = rasAffine(java.util.Arrays.copyOfRange(n, 8, 11), java.util.Arrays.copyOfRange(n, 11, 14),
                iop, ps);
        double[] a = g.affine();
        for (int i = 0; i < 16; i++) {
            assertThat(Math.abs(rebuilt[i] - a[i])).as("affine[%d]", i).isLessThan(1e-4);
        }
        int px = 8 + 3 * g.nz();
        assertEquals(px + v.length, n.length);
        for (int i = 0; i < v.length; i++) {
            assertEquals(v[i], (float) n[px + i], "voxel " + i);
        }
    }

    @Test
    void secondaryCapture() throws IOException {
        requireTools("dciodvfy", "dcmdump", "python3");
        BufferedImage img = new BufferedImage(9, 4, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 9; x++) {
                img.setRGB(x, y, (x * 28) << 16 | (y * 60) << 8 | (x + y) * 10);
            }
        }
        Path f = DicomWriter.writeSecondaryCapture(img, source(3, 12, 0, 1, -1024), tmp.resolve("sc"), D);
        assertValid(f);
        List<String> out = pydicom("""
                import sys, pydicom
                d = pydicom.dcmread(sys.argv[1])
                print(d.SOPClassUID, d.StudyInstanceUID, d.PatientID, d.SamplesPerPixel, d.PhotometricInterpretation,
                      d.ConversionType)
                print(*d.pixel_array.flatten().tolist())
                """, List.of(f));
        assertEquals(List.of(DicomWriter.SECONDARY_CAPTURE_STORAGE, STUDY_UID, "PID-0001", "3", "RGB", "WSD"),
                out.subList(0, 6));
        int i = 6;
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 9; x++) {
                int rgb = img.getRGB(x, y);
                assertEquals((rgb >> 16) & 255, Integer.parseInt(out.get(i++)));
                assertEquals((rgb >> 8) & 255, Integer.parseInt(out.get(i++)));
                assertEquals(rgb & 255, Integer.parseInt(out.get(i++)));
            }
        }
    }

    /** dcm2niix, a second independent reader, turns the derived series back into a NIfTI on the same grid. */
    @Test
    void dcm2niixReadsTheDerivedSeriesOnTheSameGrid() throws IOException {
        requireTools("dcm2niix");
        Geometry g = oblique(8, 6, 5);
        Volume hu = huVolume(g);
        Path ct = tmp.resolve("ct2");
        DicomWriter.writeDerivedCt(hu, source(g.nz(), 16, 1, 1, -1024), ct, D);
        Path nii = Files.createDirectories(tmp.resolve("nii"));
        Result r = run(List.of("dcm2niix", "-b", "n", "-z", "n", "-f", "ct", "-o", nii.toString(), ct.toString()),
                null);
        assertEquals(0, r.rc(), r.out());
        try (Volume back = VolumeIO.read(nii.resolve("ct.nii"))) {
            Geometry b = back.geometry();
            assertEquals(g.voxelCount(), b.voxelCount(), r.out());
            double[] inv = Affine.inverse(g.affine());
            double[] ba = b.affine();
            for (int k = 0; k < b.nz(); k++) {
                for (int j = 0; j < b.ny(); j++) {
                    for (int i = 0; i < b.nx(); i++) {
                        double[] w = Affine.apply(ba, i, j, k);
                        double[] src = Affine.apply(inv, w[0], w[1], w[2]);
                        int[] s = new int[3];
                        for (int c = 0; c < 3; c++) {
                            s[c] = (int) Math.round(src[c]);
                            assertThat(Math.abs(src[c] - s[c])).as("dcm2niix voxel (%d,%d,%d) axis %d", i, j, k, c)
                                    .isLessThan(1e-3);
                        }
                        float want = Math.round(hu.get(s[0], s[1], s[2]));
                        assertThat(Math.abs(back.get(i, j, k) - want)).isLessThanOrEqualTo(1.0f);
                    }
                }
            }
        }
    }

    /** A multi-frame source (one Enhanced CT file): each slice references its frame of the one instance. */
    @Test
    void multiFrameSourceIsReferencedByFrame() throws IOException {
        requireTools("dciodvfy", "dcmdump", "python3");
        Geometry g = Geometry.of(4, 3, 3, 1, 1, 2, 0, 0, 0);
        DicomSource one = source(1, 16, 1, 1, -1024);
        DicomSource.Instance enhanced = new DicomSource.Instance("1.2.840.10008.5.1.4.1.1.2.1",
                one.instances().get(0).sopInstanceUid(), 3);
        DicomSource src = new DicomSource(one.kept(), List.of(enhanced), "CT", one.seriesInstanceUid(), "",
                one.transferSyntaxUid(), 16, 16, 1, 1, -1024);
        Derivation odd = new Derivation("tab\there, back\\slash, é, " + "long ".repeat(300), "clf\\a", "t\u0001",
                0.5, 0.25); // free text with what DICOM's text VRs forbid or delimit
        List<Path> files = DicomWriter.writeDerivedCt(huVolume(g), src, tmp.resolve("mf"), odd);
        files.forEach(DicomWriterTest::assertValid);
        Path pm = DicomWriter.writeParametricMap(Volume.filled(g, 2.5f), "a\\quantity with a very long name, longer"
                + " than sixty-four characters", "[hnsf'U]", src, tmp.resolve("mf"), odd);
        assertValid(pm);
        List<String> out = pydicom("""
                import sys, pydicom
                for f in sys.argv[1:]:
                    d = pydicom.dcmread(f)
                    if 'PerFrameFunctionalGroupsSequence' in d:
                        for fg in d.PerFrameFunctionalGroupsSequence:
                            r = fg.DerivationImageSequence[0].SourceImageSequence[0]
                            print(r.ReferencedSOPClassUID, r.ReferencedFrameNumber)
                    else:
                        r = d.SourceImageSequence[0]
                        print(r.ReferencedSOPClassUID, r.ReferencedFrameNumber)
                """, new ArrayList<>(List.of(files.get(0), files.get(1), files.get(2), pm)));
        assertEquals(List.of(enhanced.sopClassUid(), "1", enhanced.sopClassUid(), "2", enhanced.sopClassUid(), "3",
                enhanced.sopClassUid(), "1", enhanced.sopClassUid(), "2", enhanced.sopClassUid(), "3"), out);
    }

    /**
     * A DICOM viewer: ImageJ (Debian's imagej, /usr/share/java/ij.jar) opens each object headless with its DICOM
     * reader; the CT's calibrated value is in HU, the map's frames are 32-bit, the panel is RGB. Runs when
     * ImageJ is installed (not one of the CTCF_TEST_TOOLS tools).
     */
    @Test
    void imageJOpensEveryObject() throws IOException {
        Path ij = Path.of("/usr/share/java/ij.jar");
        assumeTrue(Files.isReadable(ij), "ImageJ not installed");
        Geometry g = oblique(8, 6, 4);
        Volume hu = huVolume(g);
        DicomSource src = source(g.nz(), 12, 0, 1, -1024);
        List<Path> ct = DicomWriter.writeDerivedCt(hu, src, tmp.resolve("ij"), D);
        float[] m = new float[(int) g.voxelCount()];
        for (int i = 0; i < m.length; i++) {
            m[i] = i * 0.25f;
        }
        Path pm = DicomWriter.writeParametricMap(Volume.of(g, m), "x", "[hnsf'U]", src, tmp.resolve("ij"), D);
        BufferedImage img = new BufferedImage(5, 3, BufferedImage.TYPE_INT_RGB);
        img.setRGB(1, 2, 0x123456);
        Path sc = DicomWriter.writeSecondaryCapture(img, src, tmp.resolve("ij"), D);
        Path prog = tmp.resolve("IjOpen.java");
        Files.writeString(prog, """
                public class IjOpen {
                    public static void main(String[] a) {
                        for (String f : a) {
                            ij.plugin.DICOM d = new ij.plugin.DICOM();
                            d.open(f);
                            var c = d.getCalibration();
                            var p = d.getProcessor();
                            System.out.println(d.getWidth() + " " + d.getHeight() + " " + d.getStackSize() + " "
                                + d.getBitDepth() + " " + c.pixelWidth + " " + c.pixelHeight + " "
                                + (d.getBitDepth() == 32 ? p.getf(1, 2) : d.getBitDepth() == 24
                                    ? Integer.toHexString(p.getPixel(1, 2) & 0xFFFFFF) : c.getCValue(p.getPixel(1, 2))));
                        }
                    }
                }
                """);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Result r = run(List.of(java, "-Djava.awt.headless=true", "-cp", ij.toString(), prog.toString(),
                ct.get(1).toString(), pm.toString(), sc.toString()), null);
        assertEquals(0, r.rc(), r.out());
        List<String> lines = r.out().lines().filter(l -> !l.isBlank()).toList();
        assertThat(lines).as(r.out()).hasSize(3);
        String[] c = lines.get(0).split(" ");
        assertEquals(List.of("8", "6", "1", "16"), List.of(c).subList(0, 4));
        assertThat(Double.parseDouble(c[4])).isCloseTo(0.75, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(Double.parseDouble(c[5])).isCloseTo(0.8, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(Double.parseDouble(c[6])).isCloseTo(hu.get(1, 2, 1), org.assertj.core.data.Offset.offset(0.5));
        String[] p = lines.get(1).split(" ");
        assertEquals(List.of("8", "6", "4", "32"), List.of(p).subList(0, 4));
        assertEquals(m[1 + 8 * 2], Float.parseFloat(p[6]));
        String[] s = lines.get(2).split(" ");
        assertEquals(List.of("5", "3", "1", "24", "123456"), List.of(s[0], s[1], s[2], s[3], s[6]));
    }
}
