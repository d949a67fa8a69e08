package org.ctcf.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import org.ctcf.TestPaths;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class VolumeReadWriteTest {
    @TempDir
    Path tmp;

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private static void assertPattern(Volume v, double slope, double inter) {
        long i = 0;
        for (int z = 0; z < v.nz(); z++) {
            for (int y = 0; y < v.ny(); y++) {
                for (int x = 0; x < v.nx(); x++) {
                    assertThat((double) v.get(x, y, z)).as("voxel %d", i)
                            .isCloseTo(TestVolumes.pattern(i) * slope + inter, within(1e-4));
                    i++;
                }
            }
        }
    }

    @Test
    void sampleVolumeMatchesItsDocumentedHeader() throws IOException {
        try (Volume v = VolumeIO.read(TestPaths.sample())) {
            Geometry g = v.geometry();
            assertThat(g.dims()).containsExactly(64, 64, 79);
            assertThat(g.spacing()[0]).isCloseTo(4.17, within(0.01));
            assertThat(g.spacing()[2]).isCloseTo(3.99, within(0.01));
            assertThat(g.orientationCode()).isEqualTo("LPS");
            Volume.VoxelStats st = v.stats();
            assertThat(st.min()).isEqualTo(-1007.0);
            assertThat(st.max()).isEqualTo(1095.0);
            assertThat(st.nonFinite()).isZero();
        }
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource({"3DCT_lung_baseline_small.mha, elastix_lung_baseline_small.nii.gz",
        "3DCT_lung_baseline_mask.mha, elastix_lung_baseline_lungmask.nii.gz"})
    void metaImageOriginalsReadToTheSameVoxelsAndGeometryAsTheirNiftiTwins(String mha, String nii) throws IOException {
        try (Volume a = VolumeIO.read(TestPaths.fixture(mha)); Volume b = VolumeIO.read(TestPaths.fixture(nii))) {
            assertThat(a.geometry().dims()).containsExactly(b.geometry().dims());
            assertThat(a.geometry().sameGrid(b.geometry(), 1e-3)).as("%s vs %s", a.geometry(), b.geometry()).isTrue();
            long differing = a.withSegment(sa -> b.withSegment(sb -> {
                long d = 0;
                for (long i = 0; i < a.voxelCount(); i++) {
                    if (sa.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i)
                            != sb.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i)) {
                        d++;
                    }
                }
                return d;
            }));
            assertThat(differing).isZero();
        }
    }

    @ParameterizedTest(name = "NIfTI-{0} datatype {1} {2} gzip={3}")
    @CsvSource({"1, 2, LE, false", "1, 4, LE, true", "1, 8, BE, false", "1, 16, BE, true", "1, 64, LE, false",
        "1, 256, BE, false", "1, 512, LE, true", "1, 768, BE, true", "2, 4, LE, false", "2, 16, BE, true",
        "2, 64, BE, false", "2, 512, LE, true"})
    void readsEveryDatatypeByteOrderAndVersion(int version, int datatype, String order, boolean gzip)
            throws IOException {
        TestVolumes.Nifti n = new TestVolumes.Nifti();
        n.version = version;
        n.datatype = datatype;
        n.order = order.equals("BE") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        byte[] bytes = n.bytes();
        Path p = write("v" + version + "_" + datatype + (gzip ? ".nii.gz" : ".nii"), gzip ? TestVolumes.gzip(bytes) : bytes);
        try (Volume v = VolumeIO.read(p)) {
            assertThat(v.geometry().dims()).containsExactly(5, 4, 3);
            assertPattern(v, 1, 0);
            assertThat(v.geometry().affine()).containsExactly(-1.5, 0, 0, 10, 0, -2.0, 0, 20, 0, 0, 2.5, 30, 0, 0, 0, 1);
        }
    }

    @Test
    void aSliceRangeKeepsEveryVoxelsWorldPosition() throws IOException {
        try (Volume v = VolumeIO.read(TestPaths.sample()); Volume s = v.slices(10, 25)) {
            assertThat(s.nz()).isEqualTo(15);
            assertThat(s.nx()).isEqualTo(v.nx());
            double[] a = v.geometry().affine();
            double[] b = s.geometry().affine();
            for (int[] p : new int[][] {{0, 0, 0}, {5, 7, 3}, {v.nx() - 1, v.ny() - 1, 14}}) {
                assertThat(s.get(p[0], p[1], p[2])).isEqualTo(v.get(p[0], p[1], p[2] + 10));
                for (int r = 0; r < 3; r++) {
                    double wv = a[r * 4] * p[0] + a[r * 4 + 1] * p[1] + a[r * 4 + 2] * (p[2] + 10) + a[r * 4 + 3];
                    double ws = b[r * 4] * p[0] + b[r * 4 + 1] * p[1] + b[r * 4 + 2] * p[2] + b[r * 4 + 3];
                    assertThat(ws).isCloseTo(wv, within(1e-9));
                }
            }
            assertThatThrownBy(() -> v.slices(5, 5)).hasMessageContaining("[5, 5)");
            assertThatThrownBy(() -> v.slices(0, v.nz() + 1)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void appliesSlopeAndIntercept() throws IOException {
        TestVolumes.Nifti n = new TestVolumes.Nifti();
        n.slope = 2.5f;
        n.inter = -1024f;
        try (Volume v = VolumeIO.read(write("scaled.nii", n.bytes()))) {
            assertPattern(v, 2.5, -1024);
        }
    }

    @Test
    void qformIsUsedWhenThereIsNoSform() throws IOException {
        TestVolumes.Nifti n = new TestVolumes.Nifti();
        n.sformCode = 0;
        n.qformCode = 1;
        // 90 degrees about z: quaternion (a, b, c, d) = (cos 45, 0, 0, sin 45)
        n.quatern = new double[] {0, 0, Math.sqrt(0.5), 1, 2, 3};
        n.qfac = -1;
        try (Volume v = VolumeIO.read(write("q.nii", n.bytes()))) {
            double[] a = v.geometry().affine();
            // column x = (0, 1, 0) * 1.5, column y = (-1, 0, 0) * 2, column z = (0, 0, -1) * 2.5 (qfac = -1)
            double[] expected = {0, -2, 0, 1, 1.5, 0, 0, 2, 0, 0, -2.5, 3, 0, 0, 0, 1};
            for (int i = 0; i < 16; i++) {
                assertThat(a[i]).as("affine[%d]", i).isCloseTo(expected[i], within(1e-6));
            }
            assertThat(v.geometry().orientationCode()).isEqualTo("ALI");
        }
    }

    @Test
    void writtenNiftiKeepsTheInputAffineExactlyAndTheVoxels() throws IOException {
        Path out = tmp.resolve("copy.nii.gz");
        try (Volume v = VolumeIO.read(TestPaths.sample())) {
            VolumeIO.write(v, out);
            try (Volume w = VolumeIO.read(out)) {
                assertThat(w.geometry().affine()).containsExactly(v.geometry().affine());
                assertThat(w.geometry().dims()).containsExactly(v.geometry().dims());
                for (int[] c : new int[][] {{0, 0, 0}, {63, 63, 78}, {31, 17, 40}, {5, 60, 2}}) {
                    assertThat(w.get(c[0], c[1], c[2])).isEqualTo(v.get(c[0], c[1], c[2]));
                }
            }
        }
    }

    @Test
    void qformOnlyInputIsWrittenBackWithTheSameFields() throws IOException {
        TestVolumes.Nifti n = new TestVolumes.Nifti();
        n.sformCode = 0;
        n.qformCode = 2;
        n.quatern = new double[] {0.1, 0.2, 0.3, 1.25, -2.5, 3.75};
        Path out = tmp.resolve("q-copy.nii");
        try (Volume v = VolumeIO.read(write("q.nii", n.bytes()))) {
            VolumeIO.write(v, out);
            try (Volume w = VolumeIO.read(out)) {
                assertThat(w.geometry().affine()).containsExactly(v.geometry().affine());
            }
        }
    }

    @Test
    void affineWithoutSourceHintIsWrittenAsSformAndQform() throws IOException {
        double[] affine = {0, -2, 0, 1, 1.5, 0, 0, 2, 0, 0, -2.5, 3, 0, 0, 0, 1};
        Path out = tmp.resolve("fresh.nii.gz");
        try (Volume v = Volume.allocate(new Geometry(3, 4, 5, affine))) {
            v.set(2, 3, 4, 42f);
            VolumeIO.write(v, out);
        }
        try (Volume w = VolumeIO.read(out)) {
            assertThat(w.geometry().affine()).containsExactly(affine);
            assertThat(w.get(2, 3, 4)).isEqualTo(42f);
        }
        // The qform written alongside must describe the same grid.
        NiftiTransform t = NiftiWriter.fromAffine(affine);
        double[] q = NiftiReader.quaternToAffine(new double[] {t.quaternB(), t.quaternC(), t.quaternD(), t.qoffsetX(),
            t.qoffsetY(), t.qoffsetZ()}, t.qfac(), new double[] {0, t.pixdimX(), t.pixdimY(), t.pixdimZ()});
        for (int i = 0; i < 16; i++) {
            assertThat(q[i]).as("qform affine[%d]", i).isCloseTo(affine[i], within(1e-9));
        }
    }

    @Test
    void metaImageVariantsRead() throws IOException {
        for (boolean compressed : new boolean[] {false, true}) {
            for (boolean msb : new boolean[] {false, true}) {
                Path p = write("t" + compressed + msb + ".mha", TestVolumes.mha(6, 5, 4, compressed, msb));
                try (Volume v = VolumeIO.read(p)) {
                    assertThat(v.geometry().dims()).containsExactly(6, 5, 4);
                    assertPattern(v, 1, 0);
                    // LPS offset (-10, -20, 30) -> RAS (10, 20, 30); spacing 0.5 x 0.75 x 2 with x and y negated
                    assertThat(v.geometry().affine()).containsExactly(-0.5, 0, 0, 10, 0, -0.75, 0, 20, 0, 0, 2, 30,
                            0, 0, 0, 1);
                }
            }
        }
    }

    @Test
    void metaImageHeaderWithSeparateRawFile() throws IOException {
        write("vol.raw", TestVolumes.shortData(6 * 5 * 4, ByteOrder.LITTLE_ENDIAN));
        Path mhd = write("vol.mhd", TestVolumes.mhaHeader(6, 5, 4, false, false, "vol.raw", 0)
                .getBytes(StandardCharsets.US_ASCII));
        try (Volume v = VolumeIO.read(mhd)) {
            assertPattern(v, 1, 0);
        }
        Files.delete(tmp.resolve("vol.raw"));
        assertThatThrownBy(() -> VolumeIO.read(mhd)).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining("vol.mhd").hasMessageContaining("vol.raw").hasMessageContaining("not found");
    }

    @Test
    void clearErrorsNameTheFileAndTheProblem() throws IOException {
        TestVolumes.Nifti n = new TestVolumes.Nifti();
        byte[] good = n.bytes();

        byte[] truncated = java.util.Arrays.copyOf(good, good.length - 7);
        assertThatThrownBy(() -> VolumeIO.read(write("trunc.nii", truncated))).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining("trunc.nii").hasMessageContaining("truncated");
        assertThatThrownBy(() -> VolumeIO.read(write("trunc.nii.gz", TestVolumes.gzip(truncated))))
                .isInstanceOf(VolumeFormatException.class).hasMessageContaining("truncated");

        byte[] badMagic = good.clone();
        badMagic[344] = 'x';
        assertThatThrownBy(() -> VolumeIO.read(write("magic.nii", badMagic))).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining("magic.nii").hasMessageContaining("magic");

        TestVolumes.Nifti zero = new TestVolumes.Nifti();
        byte[] zeroDim = zero.bytes();
        java.nio.ByteBuffer.wrap(zeroDim).order(ByteOrder.LITTLE_ENDIAN).putShort(42, (short) 0);
        assertThatThrownBy(() -> VolumeIO.read(write("zero.nii", zeroDim))).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining("dim[1] = 0");

        byte[] huge = good.clone();
        java.nio.ByteBuffer hb = java.nio.ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN);
        hb.putShort(42, (short) 32000);
        hb.putShort(44, (short) 32000);
        hb.putShort(46, (short) 32000);
        assertThatThrownBy(() -> VolumeIO.read(write("huge.nii.gz", TestVolumes.gzip(huge))))
                .isInstanceOf(VolumeFormatException.class).hasMessageContaining("limit");

        byte[] complex = good.clone();
        java.nio.ByteBuffer.wrap(complex).order(ByteOrder.LITTLE_ENDIAN).putShort(70, (short) 32);
        assertThatThrownBy(() -> VolumeIO.read(write("complex.nii", complex))).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining("unsupported datatype 32").hasMessageContaining("complex64");

        TestVolumes.Nifti nan = new TestVolumes.Nifti();
        nan.datatype = 16;
        nan.nanAt = Double.NaN;
        Path nanFile = write("nan.nii", nan.bytes());
        assertThatThrownBy(() -> VolumeIO.read(nanFile)).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining("nan.nii").hasMessageContaining("NaN or infinite").hasMessageContaining("x=0, y=0, z=0");
        try (Volume v = VolumeIO.read(nanFile, ReadOptions.defaults().withAllowNonFinite(true))) {
            assertThat(v.stats().nonFinite()).isEqualTo(1);
        }

        byte[] garbage = TestVolumes.gzip(good);
        for (int i = 20; i < garbage.length - 10; i += 3) {
            garbage[i] ^= 0x5a;
        }
        assertThatThrownBy(() -> VolumeIO.read(write("garbage.nii.gz", garbage))).isInstanceOf(IOException.class)
                .hasMessageContaining("garbage.nii.gz");

        assertThatThrownBy(() -> VolumeIO.read(tmp.resolve("missing.nii.gz"))).isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("missing.nii.gz");
        assertThatThrownBy(() -> VolumeIO.read(write("x.png", good))).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining("unknown volume format");
    }
}
