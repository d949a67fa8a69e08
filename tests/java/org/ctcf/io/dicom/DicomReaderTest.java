package org.ctcf.io.dicom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.ctcf.TestPaths;
import org.ctcf.core.Affine;
import org.ctcf.core.Volume;
import org.ctcf.io.NiftiReader;
import org.ctcf.io.ReadOptions;
import org.ctcf.io.VolumeFormatException;
import org.ctcf.io.VolumeIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The DICOM reader against the corpus' ground truth (tests/fixtures/dicom, see its SOURCES.md). */
class DicomReaderTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static Path fixtures() {
        return TestPaths.root().resolve("tests/fixtures/dicom");
    }

    static JsonNode truth(String folder) throws IOException {
        return JSON.readTree(fixtures().resolve("derived").resolve(folder + ".json").toFile());
    }

    static String huSha(Volume v) throws Exception {
        float[] a = v.toArray();
        ByteBuffer b = ByteBuffer.allocate(a.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : a) {
            assertThat(x).isEqualTo((float) Math.rint(x));
            b.putShort((short) Math.rint(x));
        }
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array()));
    }

    static void assertAffine(double[] affine, JsonNode rows) {
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 4; c++) {
                assertThat(affine[r * 4 + c]).as("affine[%d][%d]", r, c)
                        .isCloseTo(rows.get(r).get(c).asDouble(), org.assertj.core.api.Assertions.within(1e-4));
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cip_ct64_explicit_le", "cip_ct64_implicit_le", "cip_ct64_deflated", "cip_ct64_rle",
        "cip_ct64_jpeg_ll_sv1", "cip_ct64_j2k_ll", "cip_ct64_jpegls_ll", "cip_ct64_shuffled", "elastix_small_slope0.5"})
    void derivedSeriesReadWithTheirGeometryAndVoxels(String folder) throws Exception {
        JsonNode t = truth(folder);
        Path dir = fixtures().resolve("derived").resolve(folder);
        try (Volume v = VolumeIO.read(dir, ReadOptions.defaults())) {
            assertThat(v.geometry().dims()).containsExactly(t.get("dims").get(0).asInt(), t.get("dims").get(1).asInt(),
                    t.get("dims").get(2).asInt());
            assertAffine(v.geometry().affine(), t.get("affine_ras"));
            assertThat(huSha(v)).isEqualTo(t.get("hu_sha256").asText());
            for (JsonNode s : t.get("samples")) {
                JsonNode ijk = s.get("ijk");
                assertThat(v.get(ijk.get(0).asInt(), ijk.get(1).asInt(), ijk.get(2).asInt()))
                        .isEqualTo((float) s.get("hu").asDouble());
            }
            DicomSource src = (DicomSource) v.geometry().sourceHint();
            assertThat(src.seriesInstanceUid()).isEqualTo(t.get("series_instance_uid").asText());
            assertThat(src.transferSyntaxUid()).isEqualTo(t.get("transfer_syntax_uid").asText());
            assertThat(src.instances()).hasSize(t.get("n_files").asInt());
            assertThat(src.kept()).anyMatch(e -> e.tag() == 0x0020000D);
        }
    }

    @Test
    void missingSliceIsRefused() {
        assertThatThrownBy(() -> VolumeIO.read(fixtures().resolve("derived/cip_ct64_missing_slice")))
                .isInstanceOf(VolumeFormatException.class).hasMessageContaining("irregular slice spacing")
                .hasMessageContaining("1 missing slice");
    }

    @Test
    void twoSeriesAreListedAndPickedByUidOrNumber(@TempDir Path tmp) throws Exception {
        JsonNode a = truth("cip_ct64_explicit_le");
        JsonNode b = truth("elastix_small_slope0.5");
        for (String folder : List.of("cip_ct64_explicit_le", "elastix_small_slope0.5")) {
            try (Stream<Path> s = Files.list(fixtures().resolve("derived").resolve(folder))) {
                for (Path p : s.toList()) {
                    Files.copy(p, tmp.resolve(folder.substring(0, 3) + "_" + p.getFileName()));
                }
            }
        }
        assertThatThrownBy(() -> VolumeIO.read(tmp)).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining("2 series found").hasMessageContaining("--series")
                .hasMessageContaining(a.get("series_instance_uid").asText())
                .hasMessageContaining(b.get("series_instance_uid").asText());
        List<DicomReader.SeriesSummary> list = DicomReader.list(tmp, ReadOptions.defaults());
        assertThat(list).hasSize(2);
        for (JsonNode t : List.of(a, b)) {
            String uid = t.get("series_instance_uid").asText();
            try (Volume v = VolumeIO.read(tmp, ReadOptions.defaults().withSeries(uid))) {
                assertThat(huSha(v)).isEqualTo(t.get("hu_sha256").asText());
            }
            String number = list.stream().filter(s -> s.uid().equals(uid)).findFirst().orElseThrow().number();
            if (list.stream().filter(s -> s.number().equals(number)).count() == 1) {
                try (Volume v = VolumeIO.read(tmp, ReadOptions.defaults().withSeries(number))) {
                    assertThat(((DicomSource) v.geometry().sourceHint()).seriesInstanceUid()).isEqualTo(uid);
                }
            }
        }
        assertThat(VolumeIO.info(tmp, ReadOptions.defaults().withSeries(a.get("series_instance_uid").asText()))
                .detail()).contains("series found (2)");
        assertThatThrownBy(() -> VolumeIO.read(tmp, ReadOptions.defaults().withSeries("nope")))
                .hasMessageContaining("no series with UID or number 'nope'");
    }

    @Test
    void cornerstoneSliceDecodesInEverySyntaxOrNamesIt() throws Exception {
        JsonNode manifest = JSON.readTree(fixtures().resolve("real/MANIFEST.json").toFile());
        int decoded = 0;
        for (JsonNode m : manifest) {
            String file = m.get("file").asText();
            if (!file.startsWith("cornerstone3D/")) {
                continue;
            }
            String ts = m.get("transfer_syntax").asText();
            Path p = fixtures().resolve("real").resolve(file);
            if (ts.equals("1.2.840.10008.1.2.4.51")) {
                assertThatThrownBy(() -> VolumeIO.read(p)).isInstanceOf(VolumeFormatException.class)
                        .hasMessageContaining(ts);
                continue;
            }
            try (Volume v = VolumeIO.read(p)) {
                assertThat(v.geometry().dims()).containsExactly(512, 512, 1);
                double slope = m.get("rescale").get(0).asDouble();
                double icpt = m.get("rescale").get(1).asDouble();
                float[] a = v.toArray();
                ByteBuffer b = ByteBuffer.allocate(a.length * 2).order(ByteOrder.LITTLE_ENDIAN);
                for (float x : a) {
                    b.putShort((short) Math.rint((x - icpt) / slope));
                }
                assertThat(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array())))
                        .as(file).isEqualTo(m.get("decoded_pixel_sha256_gdcm").asText());
                double[] ipp = {m.get("image_position_patient").get(0).asDouble(),
                    m.get("image_position_patient").get(1).asDouble(), m.get("image_position_patient").get(2).asDouble()};
                double[] o = v.geometry().origin();
                assertThat(o[0]).isCloseTo(-ipp[0], org.assertj.core.api.Assertions.within(1e-4));
                assertThat(o[1]).isCloseTo(-ipp[1], org.assertj.core.api.Assertions.within(1e-4));
                assertThat(o[2]).isCloseTo(ipp[2], org.assertj.core.api.Assertions.within(1e-4));
                decoded++;
            }
        }
        assertThat(decoded).isGreaterThanOrEqualTo(8);
    }

    @Test
    void enhancedMultiFrameCtReads() throws Exception {
        Path p = fixtures().resolve("real/pydicom-data/eCT_Supplemental.dcm");
        try (Volume v = VolumeIO.read(p)) {
            assertThat(v.geometry().dims()).containsExactly(512, 512, 2);
            DicomSource src = (DicomSource) v.geometry().sourceHint();
            assertThat(src.instances()).hasSize(1);
            assertThat(src.instances().get(0).frames()).isEqualTo(2);
            assertThat(v.stats().nonFinite()).isZero();
            assertThat(v.geometry().spacing()[2]).isPositive();
        }
    }

    @Test
    void irregularSpacingIsRefusedNamingTheGaps() {
        assertThatThrownBy(() -> VolumeIO.read(fixtures().resolve("real/pydicom/dicomdirtests_77654033_CT2")))
                .isInstanceOf(VolumeFormatException.class).hasMessageContaining("irregular slice spacing")
                .hasMessageContaining("202.5").hasMessageContaining("-99.48");
    }

    @Test
    void descendingSeriesSortsByPosition() throws Exception {
        try (Volume v = VolumeIO.read(fixtures().resolve("real/pydicom/dicomdirtests_98892001_CT5N"))) {
            assertThat(v.nz()).isEqualTo(5);
            assertThat(v.geometry().spacing()[2]).isCloseTo(2.5, org.assertj.core.api.Assertions.within(1e-3));
            assertThat(v.geometry().affine()[10]).isPositive();
        }
    }

    @Test
    void obliqueSeriesWithNonSquarePixels(@TempDir Path tmp) throws Exception {
        Path dir = fixtures().resolve("real/rt-utils/oriented_data");
        try (Volume v = VolumeIO.read(dir)) {
            assertThat(v.geometry().dims()).containsExactly(100, 50, 3); // Columns 100 (i), Rows 50 (j)
            assertThat(v.geometry().spacing()[0]).isCloseTo(2.5, org.assertj.core.api.Assertions.within(1e-6));
            assertThat(v.geometry().spacing()[1]).isCloseTo(3.5, org.assertj.core.api.Assertions.within(1e-6));
            compareWithDcm2niix(dir, v, tmp);
        }
    }

    @Test
    void matchesDcm2niix(@TempDir Path tmp) throws Exception {
        Path dir = fixtures().resolve("derived/cip_ct64_shuffled");
        try (Volume v = VolumeIO.read(dir)) {
            compareWithDcm2niix(dir, v, tmp);
        }
    }

    /** Every voxel of ours, found by world position in dcm2niix's NIfTI, holds the same value. */
    static void compareWithDcm2niix(Path dir, Volume ours, Path tmp) throws Exception {
        Assumptions.assumeTrue(onPath("dcm2niix"), "dcm2niix not on PATH");
        Process pr = new ProcessBuilder("dcm2niix", "-z", "n", "-b", "n", "-f", "x", "-o", tmp.toString(),
                dir.toString()).redirectErrorStream(true).redirectOutput(tmp.resolve("log.txt").toFile()).start();
        assertThat(pr.waitFor(60, TimeUnit.SECONDS)).isTrue();
        Path nii = tmp.resolve("x.nii");
        assertThat(nii).as(Files.readString(tmp.resolve("log.txt"))).exists();
        try (Volume theirs = NiftiReader.read(nii, ReadOptions.defaults())) {
            assertThat(theirs.voxelCount()).isEqualTo(ours.voxelCount());
            double[] toTheirs = Affine.multiply(Affine.inverse(theirs.geometry().affine()), ours.geometry().affine());
            for (int z = 0; z < ours.nz(); z++) {
                for (int y = 0; y < ours.ny(); y++) {
                    for (int x = 0; x < ours.nx(); x++) {
                        double[] q = Affine.apply(toTheirs, x, y, z);
                        int[] t = new int[3];
                        for (int a = 0; a < 3; a++) {
                            t[a] = (int) Math.rint(q[a]);
                            assertThat(Math.abs(q[a] - t[a])).as("voxel grids agree").isLessThan(1e-3);
                        }
                        float o = ours.get(x, y, z);
                        // dcm2niix keeps the stored integers with scl_slope; float rounding may differ in the last bit
                        assertThat(theirs.get(t[0], t[1], t[2])).isCloseTo(o,
                                org.assertj.core.api.Assertions.within(1e-5f * Math.max(1f, Math.abs(o))));
                    }
                }
            }
        }
    }

    static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return false;
    }

    /** A PS3.10 file of {@code ds} (Explicit VR LE) with {@code pixels} as (7FE0,0010) OB, or none. */
    static void writeObject(Path file, String sopClass, DicomDataset ds, byte[] pixels) throws IOException {
        String uid = DicomUids.newUid();
        ds.str(0x00080016, "UI", sopClass).str(0x00080018, "UI", uid);
        DicomDataset meta = new DicomDataset().put(0x00020001, "OB", new byte[] {0, 1})
                .str(0x00020002, "UI", sopClass).str(0x00020003, "UI", uid)
                .str(0x00020010, "UI", DicomWriter.EXPLICIT_VR_LITTLE_ENDIAN).str(0x00020012, "UI", "2.25.1");
        byte[] m = meta.encode();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.write(new byte[128]);
        out.write("DICM".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        out.write(DicomDataset.header(0x00020000, "UL", 4));
        out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(m.length).array());
        out.write(m);
        out.write(ds.encode());
        if (pixels != null) {
            out.write(DicomDataset.header(0x7FE00010, "OB", pixels.length + (pixels.length & 1)));
            out.write(pixels);
            if ((pixels.length & 1) == 1) {
                out.write(0);
            }
        }
        Files.write(file, out.toByteArray());
    }

    /**
     * Issue 32: one RGB Secondary Capture, SEG, SR or dose report in a study folder (ctcf's own after --dicom-out into
     * the study, or a study fetched back from a PACS) made the whole folder unreadable, even with --series. Objects
     * that are not images of a volume are skipped and named; by default the study's original CT is read, never
     * ctcf's own derived series; --series reads any image series.
     */
    @Test
    void aStudyWithCtcfsOwnSeriesASegAnSrAndADoseReportReadsItsOriginalCt(@TempDir Path tmp) throws Exception {
        Path sample = TestPaths.sampleDicom();
        Path study = tmp.resolve("study");
        Path series = TestPaths.copySampleDicom(study.resolve("ct"), -1);
        String original;
        String studyUid;
        try (Volume v = VolumeIO.read(sample)) {
            DicomSource src = (DicomSource) v.geometry().sourceHint();
            original = src.seriesInstanceUid();
            studyUid = src.kept().stream().filter(e -> e.tag() == 0x0020000D).map(e -> new String(e.value(),
                    java.nio.charset.StandardCharsets.US_ASCII).replace("\0", "").trim()).findFirst().orElseThrow();
            Derivation d = new Derivation("test", "clf", "target", 0.9, 0.1);
            // what --dicom-out writes into the study: a derived CT series, a Parametric Map, an RGB Secondary Capture
            DicomWriter.writeDerivedCt(v, src, study.resolve("ctcf/counterfactual"), d);
            DicomWriter.writeParametricMap(v, "change", "[hnsf'U]", src, study.resolve("ctcf"), d);
            java.awt.image.BufferedImage rgb = new java.awt.image.BufferedImage(8, 6,
                    java.awt.image.BufferedImage.TYPE_INT_RGB);
            DicomWriter.writeSecondaryCapture(rgb, src, study.resolve("ctcf"), d);
        }
        Path other = Files.createDirectories(study.resolve("other"));
        // a SEG (1-bit frames), an RT Dose (32-bit grey frames), an SR (no pixel data), all of the same study
        writeObject(other.resolve("seg.dcm"), "1.2.840.10008.5.1.4.1.1.66.4", new DicomDataset()
                .str(0x00080060, "CS", "SEG").str(0x0020000D, "UI", studyUid).str(0x0020000E, "UI", DicomUids.newUid())
                .us(0x00280002, 1).str(0x00280004, "CS", "MONOCHROME2").str(0x00280008, "IS", "2")
                .us(0x00280010, 4).us(0x00280011, 4).us(0x00280100, 1).us(0x00280101, 1).us(0x00280102, 0)
                .us(0x00280103, 0), new byte[4]);
        writeObject(other.resolve("dose.dcm"), "1.2.840.10008.5.1.4.1.1.481.2", new DicomDataset()
                .str(0x00080060, "CS", "RTDOSE").str(0x0020000D, "UI", studyUid)
                .str(0x0020000E, "UI", DicomUids.newUid()).us(0x00280002, 1).str(0x00280004, "CS", "MONOCHROME2")
                .us(0x00280010, 2).us(0x00280011, 2).us(0x00280100, 32).us(0x00280101, 32).us(0x00280102, 31)
                .us(0x00280103, 0), new byte[16]);
        writeObject(other.resolve("sr.dcm"), "1.2.840.10008.5.1.4.1.1.88.33", new DicomDataset()
                .str(0x00080060, "CS", "SR").str(0x0020000D, "UI", studyUid).str(0x0020000E, "UI",
                        DicomUids.newUid()), null);

        String want;
        try (Volume v = VolumeIO.read(sample)) {
            want = huSha(v);
        }
        try (Volume v = VolumeIO.read(study)) {
            assertThat(((DicomSource) v.geometry().sourceHint()).seriesInstanceUid()).isEqualTo(original);
            assertThat(huSha(v)).isEqualTo(want);
        }
        DicomReader.Series s = DicomReader.series(study, ReadOptions.defaults());
        assertThat(s.detail()).contains("skipped").contains("1 Secondary Capture").contains("1 Segmentation")
                .contains("1 RT Dose").contains("1 Comprehensive SR").contains("1 Parametric Map");
        List<DicomReader.SeriesSummary> all = DicomReader.list(study, ReadOptions.defaults());
        assertThat(all).hasSize(2);
        DicomReader.SeriesSummary derived = all.stream().filter(DicomReader.SeriesSummary::ctcf).findFirst()
                .orElseThrow();
        assertThat(derived.toString()).contains("(written by ctcf)");
        // --series always works: ctcf's own derived series by its UID or number
        try (Volume v = VolumeIO.read(study, ReadOptions.defaults().withSeries(derived.uid()))) {
            assertThat(((DicomSource) v.geometry().sourceHint()).seriesInstanceUid()).isEqualTo(derived.uid());
        }
        try (Volume v = VolumeIO.read(study, ReadOptions.defaults().withSeries(original))) {
            assertThat(huSha(v)).isEqualTo(want);
        }
        // without the original, of two series of ctcf's neither is taken by default
        try (Stream<Path> w = Files.walk(series)) {
            for (Path p : w.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
        try (Volume v = VolumeIO.read(study.resolve("ctcf/counterfactual"))) {
            DicomWriter.writeDerivedCt(v, (DicomSource) v.geometry().sourceHint(), study.resolve("ctcf/again"),
                    new Derivation("test", "clf", "target", 0.9, 0.1));
        }
        assertThatThrownBy(() -> VolumeIO.read(study)).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining("none an original CT series not written by ctcf").hasMessageContaining("--series");
        // a lone Secondary Capture is refused naming what it is
        assertThatThrownBy(() -> VolumeIO.read(study.resolve("ctcf/ctcf-secondary-capture.dcm")))
                .hasMessageContaining("Secondary Capture");
    }
}
