package org.ctcf.io.dicom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.ctcf.TestPaths;
import org.ctcf.io.VolumeFormatException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * JpegLsDecoder against real DICOM JPEG-LS frames (DCMTK-encoded CT slices, cornerstone3D's GDCM/DCMTK CT slice)
 * and DCMTK-encoded synthetic streams (near-lossless, LSE presets, RGB in the three interleave modes), plus a fuzz
 * loop over mutated and truncated streams. Fixtures: tests/fixtures/dicom/jpegls/ (see its SOURCES.md).
 */
class JpegLsDecoderTest {
    private static Path dir() {
        return TestPaths.root().resolve("tests/fixtures/dicom/jpegls");
    }

    private static byte[] read(String name) throws IOException {
        return Files.readAllBytes(dir().resolve(name));
    }

    /** The first JPEG-LS frame of a DICOM file: the fragment that starts with SOI + SOF55, up to its EOI. */
    static byte[] jpegLsFragment(byte[] file) {
        for (int i = 8; i + 3 < file.length; i++) {
            if ((file[i] & 0xFF) == 0xFF && (file[i + 1] & 0xFF) == 0xD8 && (file[i + 2] & 0xFF) == 0xFF
                    && (file[i + 3] & 0xFF) == 0xF7) {
                // the fragment item (FFFE,E000) header before it gives its length
                int len = (file[i - 4] & 0xFF) | (file[i - 3] & 0xFF) << 8 | (file[i - 2] & 0xFF) << 16
                    | (file[i - 1] & 0xFF) << 24;
                assertThat(file[i - 8] & 0xFF).isEqualTo(0xFE);
                assertThat(len).isPositive().isLessThanOrEqualTo(file.length - i);
                int end = i + len;
                while (end - 2 > i && !((file[end - 2] & 0xFF) == 0xFF && (file[end - 1] & 0xFF) == 0xD9)) {
                    end--; // drop the even-length padding after EOI
                }
                return Arrays.copyOfRange(file, i, end);
            }
        }
        throw new AssertionError("no JPEG-LS SOI + SOF55 in the file");
    }

    /** The last n 16-bit little-endian samples of an uncompressed explicit-LE file (its Pixel Data, stored last). */
    private static int[] lastSamples16(byte[] file, int n) {
        int off = file.length - 2 * n;
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
            v[i] = (file[off + 2 * i] & 0xFF) | (file[off + 2 * i + 1] & 0xFF) << 8;
        }
        return v;
    }

    private static int[] samples8(byte[] raw) {
        int[] v = new int[raw.length];
        for (int i = 0; i < raw.length; i++) {
            v[i] = raw[i] & 0xFF;
        }
        return v;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "cip_ct64_jpegls_ll_IM0001.dcm, cip_ct64_explicit_le_IM0001.dcm, 64, 64",
        "cip_ct64_jpegls_ll_IM0040.dcm, cip_ct64_explicit_le_IM0040.dcm, 64, 64",
        "cip_ct64_jpegls_ll_IM0079.dcm, cip_ct64_explicit_le_IM0079.dcm, 64, 64",
        "elastix_small_jpegls_ll_IM0032.dcm, elastix_small_explicit_le_IM0032.dcm, 57, 78"})
    void losslessCtSlicesMatchTheirUncompressedTwins(String jls, String le, int columns, int rows) throws IOException {
        JpegLsDecoder.Decoded d = JpegLsDecoder.decode(jpegLsFragment(read(jls)), jls);
        assertThat(d.width()).isEqualTo(columns);
        assertThat(d.height()).isEqualTo(rows);
        assertThat(d.components()).isEqualTo(1);
        assertThat(d.precision()).isEqualTo(16);
        assertThat(d.samples()).containsExactly(lastSamples16(read(le), columns * rows));
    }

    @Test
    void cornerstoneSliceMatchesTheManifestHash() throws Exception {
        byte[] stream = jpegLsFragment(read("CTImage.dcm_JPEGLSLosslessTransferSyntax_1.2.840.10008.1.2.4.80.dcm"));
        JpegLsDecoder.decode(stream); // warm up
        long t0 = System.nanoTime();
        JpegLsDecoder.Decoded d = JpegLsDecoder.decode(stream);
        long t1 = System.nanoTime();
        System.out.printf("JPEG-LS decode of the 512x512 cornerstone3D CT slice (%d bytes): %.1f ms%n", stream.length,
            (t1 - t0) / 1e6);
        assertThat(d.width()).isEqualTo(512);
        assertThat(d.height()).isEqualTo(512);
        assertThat(d.components()).isEqualTo(1);
        byte[] le = new byte[d.samples().length * 2];
        for (int i = 0; i < d.samples().length; i++) {
            le[2 * i] = (byte) d.samples()[i];
            le[2 * i + 1] = (byte) (d.samples()[i] >> 8);
        }
        // real/MANIFEST.json decoded_pixel_sha256_gdcm (the same for every lossless copy of CTImage.dcm)
        assertThat(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(le)))
            .isEqualTo("1bee432808f49770bbc30d904e3e744082b0ba41704d4943e7de5bcb3e3d72f9");
        Path twin = TestPaths.root().resolveSibling("shared")
            .resolve("data/dicom/real/cornerstone3D/CTImage.dcm_LittleEndianExplicitTransferSyntax_1.2.840.10008.1.2.1.dcm");
        if (Files.isRegularFile(twin)) {
            assertThat(d.samples()).containsExactly(lastSamples16(Files.readAllBytes(twin), 512 * 512));
        }
    }

    @Test
    void wholeSharedSeriesDecodeWhereTheSharedDataIsPresent() throws IOException {
        Path derived = TestPaths.root().resolveSibling("shared").resolve("data/dicom/derived");
        Assumptions.assumeTrue(Files.isDirectory(derived.resolve("cip_ct64_jpegls_ll")), "shared data not present");
        int files = 0;
        for (String series : List.of("cip_ct64", "elastix_small")) {
            try (var list = Files.list(derived.resolve(series + "_jpegls_ll"))) {
                for (Path f : list.sorted().toList()) {
                    JpegLsDecoder.Decoded d = JpegLsDecoder.decode(jpegLsFragment(Files.readAllBytes(f)), f.toString());
                    byte[] le = Files.readAllBytes(derived.resolve(series + "_explicit_le").resolve(f.getFileName()));
                    assertThat(d.samples()).as(f.toString())
                        .containsExactly(lastSamples16(le, d.width() * d.height()));
                    files++;
                }
            }
        }
        assertThat(files).isEqualTo(79 + 64);
    }

    @Test
    void losslessWithPresetThresholds() throws IOException {
        JpegLsDecoder.Decoded d = JpegLsDecoder.decode(read("cip40_lse.jls"));
        assertThat(d.samples()).containsExactly(lastSamples16(read("cip_ct64_explicit_le_IM0040.dcm"), 64 * 64));
    }

    @ParameterizedTest
    @ValueSource(strings = {"cip40_near2", "cip40_near7_lse"})
    void nearLosslessMatchesDcmtk(String name) throws IOException {
        JpegLsDecoder.Decoded d = JpegLsDecoder.decode(read(name + ".jls"));
        assertThat(d.precision()).isEqualTo(12);
        byte[] raw = read(name + ".raw");
        assertThat(d.samples()).containsExactly(lastSamples16(raw, raw.length / 2));
        int near = name.contains("near2") ? 2 : 7;
        int[] original = lastSamples16(read("cip_ct64_explicit_le_IM0040.dcm"), 64 * 64);
        for (int i = 0; i < original.length; i++) {
            assertThat(Math.abs(d.samples()[i] - (original[i] & 0xFFF))).isLessThanOrEqualTo(near);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"in", "il", "is"})
    void rgbInEveryInterleaveMode(String ilv) throws IOException {
        JpegLsDecoder.Decoded d = JpegLsDecoder.decode(read("rgb_" + ilv + ".jls"));
        assertThat(d.width()).isEqualTo(53);
        assertThat(d.height()).isEqualTo(40);
        assertThat(d.components()).isEqualTo(3);
        assertThat(d.precision()).isEqualTo(8);
        assertThat(d.samples()).containsExactly(samples8(read("rgb.raw")));
        JpegLsDecoder.Decoded n = JpegLsDecoder.decode(read("rgb_near3_" + ilv + ".jls"));
        assertThat(n.samples()).containsExactly(samples8(read("rgb_near3_" + ilv + ".raw")));
    }

    @Test
    void corruptStreamsSayWhy() throws IOException {
        byte[] ok = read("cip40_near2.jls");
        assertThatThrownBy(() -> JpegLsDecoder.decode(new byte[0])).isInstanceOf(VolumeFormatException.class)
            .hasMessageContaining("JPEG-LS stream").hasMessageContaining("SOI");
        assertThatThrownBy(() -> JpegLsDecoder.decode(null)).isInstanceOf(VolumeFormatException.class);
        assertThatThrownBy(() -> JpegLsDecoder.decode(Arrays.copyOf(ok, ok.length / 2), "frame 3"))
            .isInstanceOf(VolumeFormatException.class).hasMessageContaining("frame 3")
            .hasMessageContaining("truncated");
        // a huge declared size is refused before any allocation
        byte[] huge = ok.clone();
        huge[7] = huge[8] = huge[9] = huge[10] = (byte) 0xFF; // Y = X = 65535
        assertThatThrownBy(() -> JpegLsDecoder.decode(huge)).isInstanceOf(VolumeFormatException.class)
            .hasMessageContaining("too large");
        // a large but allowed declared size over a short stream fails without allocating the whole image
        byte[] large = ok.clone();
        large[7] = large[9] = (byte) 0x3E;
        large[8] = large[10] = (byte) 0x80; // Y = X = 16000: 256 M samples
        assertThatThrownBy(() -> JpegLsDecoder.decode(large)).isInstanceOf(VolumeFormatException.class);
        byte[] baseline = ok.clone();
        baseline[3] = (byte) 0xC0; // SOF0
        assertThatThrownBy(() -> JpegLsDecoder.decode(baseline)).hasMessageContaining("not a JPEG-LS stream");
    }

    /** Restart intervals: 8-line strips coded separately by DCMTK, joined by RST0..RST4, with a DRI segment. */
    @Test
    void restartMarkers() throws IOException {
        byte[] spliced = read("rgb_il_restart8.jls");
        assertThat(JpegLsDecoder.decode(spliced).samples()).containsExactly(samples8(read("rgb.raw")));
        // RSTm out of order
        byte[] swapped = spliced.clone();
        for (int i = 0; i + 1 < swapped.length; i++) {
            if ((swapped[i] & 0xFF) == 0xFF && (swapped[i + 1] & 0xFF) == 0xD1) {
                swapped[i + 1] = (byte) 0xD3;
            }
        }
        assertThatThrownBy(() -> JpegLsDecoder.decode(swapped)).isInstanceOf(VolumeFormatException.class)
            .hasMessageContaining("expected RST1");
        // an interval that covers the whole image needs no RSTm; a shorter one without RSTm is reported
        byte[] ok = read("cip40_near2.jls");
        byte[] withDri = insertAfterSof(ok, new byte[] {(byte) 0xFF, (byte) 0xDD, 0, 4, 0, 64});
        assertThat(JpegLsDecoder.decode(withDri).samples()).containsExactly(JpegLsDecoder.decode(ok).samples());
        byte[] shortDri = insertAfterSof(ok, new byte[] {(byte) 0xFF, (byte) 0xDD, 0, 4, 0, 8});
        assertThatThrownBy(() -> JpegLsDecoder.decode(shortDri)).isInstanceOf(VolumeFormatException.class)
            .hasMessageContaining("RST");
    }

    private static byte[] insertAfterSof(byte[] s, byte[] segment) {
        int sofLen = (s[4] & 0xFF) << 8 | (s[5] & 0xFF);
        int at = 4 + sofLen;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(s, 0, at);
        o.writeBytes(segment);
        o.write(s, at, s.length - at);
        return o.toByteArray();
    }

    /** Mutated and truncated streams end in a decode or a VolumeFormatException, never anything else or a hang. */
    @Test
    void fuzzedStreamsFailCleanly() throws Exception {
        List<byte[]> seeds = new ArrayList<>();
        for (String f : List.of("cip40_near2.jls", "cip40_near7_lse.jls", "cip40_lse.jls", "rgb_in.jls", "rgb_il.jls",
                "rgb_is.jls", "rgb_near3_is.jls", "rgb_il_restart8.jls")) {
            seeds.add(read(f));
        }
        seeds.add(jpegLsFragment(read("cip_ct64_jpegls_ll_IM0040.dcm")));
        seeds.add(jpegLsFragment(read("elastix_small_jpegls_ll_IM0032.dcm")));
        Random rnd = new Random(20261201L);
        int iterations = 20_000;
        int decodedOk = 0;
        int rejected = 0;
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "jpegls-fuzz");
            t.setDaemon(true);
            return t;
        });
        try {
            for (int it = 0; it < iterations; it++) {
                byte[] s = mutate(seeds.get(rnd.nextInt(seeds.size())), rnd);
                Future<JpegLsDecoder.Decoded> f = pool.submit(() -> JpegLsDecoder.decode(s));
                try {
                    JpegLsDecoder.Decoded d = f.get(5, TimeUnit.SECONDS);
                    assertThat((long) d.width() * d.height() * d.components()).isEqualTo(d.samples().length);
                    decodedOk++;
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    if (!(c instanceof VolumeFormatException) || c.getCause() != null) {
                        fail("iteration " + it + ": unexpected " + c + " (cause " + c.getCause() + ") for stream "
                            + HexFormat.of().formatHex(s, 0, Math.min(s.length, 64)), c);
                    }
                    rejected++;
                } catch (TimeoutException e) {
                    fail("iteration " + it + ": decode did not finish in 5 s");
                }
            }
        } finally {
            pool.shutdownNow();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("JPEG-LS fuzz: %d streams in %.1f s, %d decoded, %d rejected%n", iterations, secs, decodedOk,
            rejected);
        assertThat(rejected).isPositive();
    }

    private static byte[] mutate(byte[] seed, Random rnd) {
        byte[] s = seed.clone();
        switch (rnd.nextInt(6)) {
            case 0 -> { // flip a few random bits
                int n = 1 + rnd.nextInt(4);
                for (int i = 0; i < n; i++) {
                    s[rnd.nextInt(s.length)] ^= (byte) (1 << rnd.nextInt(8));
                }
            }
            case 1 -> s = Arrays.copyOf(s, rnd.nextInt(s.length)); // truncate
            case 2 -> { // random bytes in the headers (first 40 bytes)
                int n = 1 + rnd.nextInt(3);
                for (int i = 0; i < n; i++) {
                    s[rnd.nextInt(Math.min(40, s.length))] = (byte) rnd.nextInt(256);
                }
            }
            case 3 -> { // 0xFF bytes (fake markers, stuffing) in the data
                int n = 1 + rnd.nextInt(3);
                for (int i = 0; i < n; i++) {
                    int at = rnd.nextInt(s.length);
                    s[at] = (byte) 0xFF;
                    if (at + 1 < s.length && rnd.nextBoolean()) {
                        s[at + 1] = (byte) (0x80 | rnd.nextInt(128));
                    }
                }
            }
            case 4 -> { // overwrite a run of bytes
                int at = rnd.nextInt(s.length);
                int len = Math.min(s.length - at, 1 + rnd.nextInt(32));
                for (int i = 0; i < len; i++) {
                    s[at + i] = (byte) rnd.nextInt(256);
                }
            }
            default -> { // cut a slice out of the middle
                int a = rnd.nextInt(s.length);
                int b = Math.min(s.length, a + 1 + rnd.nextInt(64));
                byte[] t = new byte[s.length - (b - a)];
                System.arraycopy(s, 0, t, 0, a);
                System.arraycopy(s, b, t, a, s.length - b);
                s = t;
            }
        }
        return s;
    }
}
