package org.ctcf.io.dicom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.zip.Deflater;

import org.ctcf.core.Volume;
import org.ctcf.io.ReadOptions;
import org.ctcf.io.VolumeFormatException;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 10,000+ mutated and truncated DICOM files from the fixtures (byte flips, truncation, absurd Rows/Columns/Number of
 * Frames, lengths beyond the file, undefined lengths that never end, deep nesting, a deflate bomb, corrupt
 * JPEG/J2K/RLE fragments): the reader either reads them or throws a VolumeFormatException naming the file; never
 * another exception, an OutOfMemoryError or a hang (each case has a 10 s limit). Fixed seed.
 */
class DicomFuzzTest {
    static final int CASES = 10_000;

    @Test
    void mutatedFilesOnlyFailWithVolumeFormatException(@TempDir Path tmp) throws Exception {
        Path fx = DicomReaderTest.fixtures();
        List<byte[]> bases = new ArrayList<>();
        for (String d : List.of("cip_ct64_explicit_le", "cip_ct64_implicit_le", "cip_ct64_deflated", "cip_ct64_rle",
                "cip_ct64_jpeg_ll_sv1", "cip_ct64_j2k_ll", "cip_ct64_jpegls_ll", "elastix_small_slope0.5")) {
            bases.add(Files.readAllBytes(fx.resolve("derived").resolve(d).resolve("IM0040.dcm")));
        }
        bases.add(Files.readAllBytes(fx.resolve("real/pydicom/dicomdirtests_98892001_CT5N/2062")));
        bases.add(Files.readAllBytes(fx.resolve("real/rt-utils/oriented_data/0.dcm")));
        bases.add(Files.readAllBytes(fx.resolve("real/cornerstone3D/CTImage.dcm_BigEndianExplicitTransferSyntax_1.2.840.10008.1.2.2.dcm")));
        byte[] enhanced = Files.readAllBytes(fx.resolve("real/pydicom-data/eCT_Supplemental.dcm"));
        Random rnd = new Random(20261201L);
        ReadOptions opts = ReadOptions.defaults().withMaxVoxels(1 << 22);
        Map<String, Integer> kinds = new TreeMap<>();
        long t0 = System.nanoTime();
        int read = 0;
        Path file = tmp.resolve("case.dcm");
        for (int i = 0; i < CASES; i++) {
            byte[] base = i % 500 == 499 ? enhanced : bases.get(rnd.nextInt(bases.size()));
            byte[] m = mutate(base, rnd, i);
            Files.write(file, m);
            Throwable thrown = null;
            try {
                thrown = Assertions.assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                    try (Volume v = DicomReader.read(file, opts)) {
                        return null;
                    } catch (Throwable t) {
                        return t;
                    }
                }, () -> "a case hangs");
            } catch (OutOfMemoryError e) {
                fail("case " + i + ": OutOfMemoryError");
            }
            if (thrown == null) {
                read++;
                continue;
            }
            if (!(thrown instanceof VolumeFormatException vfe)) {
                throw new AssertionError("case " + i + ": " + thrown, thrown);
            }
            assertThat(vfe.getMessage()).contains(file.toString());
            String k = vfe.problem().replaceAll("[0-9]+", "N");
            k = k.length() > 60 ? k.substring(0, 60) : k;
            kinds.merge(k, 1, Integer::sum);
        }
        // and a deflate bomb: 600 MiB of zeros behind a deflated file's meta group
        Files.write(file, deflateBomb(bases.get(2)));
        try {
            DicomReader.read(file, ReadOptions.defaults()).close();
            fail("deflate bomb read");
        } catch (VolumeFormatException e) {
            kinds.merge("bomb: " + e.problem().replaceAll("[0-9]+", "N"), 1, Integer::sum);
        }
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf("DICOM fuzz: %d cases (+1 deflate bomb) in %.1f s, %d read, %d refused%n", CASES, s, read,
                CASES - read);
        kinds.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue()).limit(40)
                .forEach(e -> System.out.printf("  %6d  %s%n", e.getValue(), e.getKey()));
    }

    static byte[] mutate(byte[] base, Random r, int i) {
        byte[] m = base.clone();
        switch (i % 8) {
            case 0 -> { // byte flips anywhere
                for (int n = 1 + r.nextInt(8); n > 0; n--) {
                    m[r.nextInt(m.length)] ^= (byte) (1 + r.nextInt(255));
                }
            }
            case 1 -> m = java.util.Arrays.copyOf(m, r.nextInt(m.length)); // truncation
            case 2 -> { // absurd Rows / Columns / Number of Frames
                int[][] tags = {{0x28, 0x00, 0x10, 0x00}, {0x28, 0x00, 0x11, 0x00}, {0x28, 0x00, 0x08, 0x00}};
                int[] t = tags[r.nextInt(3)];
                int at = find(m, t);
                if (at >= 0 && at + 12 < m.length) {
                    int v = at + 8;
                    byte[] big = t[2] == 0x08 ? "99999999".getBytes() : new byte[] {(byte) 0xff, (byte) 0xff};
                    for (int k = 0; k < big.length && v + k < m.length; k++) {
                        m[v + k] = big[k];
                    }
                    if (r.nextBoolean()) {
                        m[v] = (byte) r.nextInt(256);
                    }
                } else {
                    m[r.nextInt(m.length)] ^= 0x55;
                }
            }
            case 3 -> { // a length beyond the file, or undefined, at a random element header
                int at = 132 + r.nextInt(Math.max(1, m.length - 140));
                int len = r.nextBoolean() ? -1 : r.nextInt();
                for (int k = 0; k < 4 && at + k < m.length; k++) {
                    m[at + k] = (byte) (len >>> (8 * k));
                }
            }
            case 4 -> { // corrupt the last quarter (pixel data, JPEG/J2K/RLE fragments)
                int from = m.length * 3 / 4;
                for (int n = 1 + r.nextInt(32); n > 0; n--) {
                    m[from + r.nextInt(m.length - from)] = (byte) r.nextInt(256);
                }
            }
            case 5 -> { // append a sequence of undefined length that never ends, or deep nesting
                ByteArrayOutputStream o = new ByteArrayOutputStream();
                o.writeBytes(m);
                int depth = r.nextBoolean() ? 1 : 200;
                for (int d = 0; d < depth; d++) {
                    o.writeBytes(new byte[] {0x09, 0x00, 0x10, 0x10, 'S', 'Q', 0, 0, -1, -1, -1, -1});
                    o.writeBytes(new byte[] {(byte) 0xfe, (byte) 0xff, 0x00, (byte) 0xe0, -1, -1, -1, -1});
                }
                m = o.toByteArray();
            }
            case 6 -> { // shuffle a block
                int a = r.nextInt(m.length);
                int b = r.nextInt(m.length);
                int n = Math.min(r.nextInt(64), Math.min(m.length - a, m.length - b));
                System.arraycopy(base, a, m, b, n);
            }
            default -> { // flips in the header region
                int lim = Math.min(m.length, 1200);
                for (int n = 1 + r.nextInt(4); n > 0; n--) {
                    m[r.nextInt(lim)] = (byte) r.nextInt(256);
                }
            }
        }
        return m;
    }

    static int find(byte[] m, int[] pat) {
        outer:
        for (int i = 132; i + pat.length <= m.length; i++) {
            for (int k = 0; k < pat.length; k++) {
                if ((m[i + k] & 0xff) != pat[k]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /** The meta group of a deflated file, then a raw deflate stream of 600 MiB of zeros. */
    static byte[] deflateBomb(byte[] deflatedFile) {
        int end = 132;
        while (end + 8 < deflatedFile.length && deflatedFile[end] == 0x02 && deflatedFile[end + 1] == 0x00) {
            int vrLong = deflatedFile[end + 4] == 'O' && deflatedFile[end + 5] == 'B' ? 1 : 0;
            int len = vrLong == 1 ? (deflatedFile[end + 8] & 0xff) | (deflatedFile[end + 9] & 0xff) << 8
                    : (deflatedFile[end + 6] & 0xff) | (deflatedFile[end + 7] & 0xff) << 8;
            end += (vrLong == 1 ? 12 : 8) + len;
        }
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(deflatedFile, 0, end);
        Deflater d = new Deflater(9, true);
        byte[] zeros = new byte[1 << 20];
        byte[] buf = new byte[1 << 16];
        for (int i = 0; i < 600; i++) {
            d.setInput(zeros);
            while (!d.needsInput()) {
                o.write(buf, 0, d.deflate(buf));
            }
        }
        d.finish();
        while (!d.finished()) {
            o.write(buf, 0, d.deflate(buf));
        }
        d.end();
        return o.toByteArray();
    }
}
