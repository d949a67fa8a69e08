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
}
