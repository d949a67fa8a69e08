package org.ctcf.io.dicom;

import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

import org.ctcf.io.VolumeFormatException;

/**
 * Decodes one frame of a DICOM file to its stored values (before masking to Bits Stored): native pixel data read
 * from the mapping, RLE Lossless by hand, JPEG (baseline, lossless process 14 and SV1) with TwelveMonkeys' ImageIO
 * reader, JPEG 2000 with jai-imageio's reader, JPEG-LS with {@link JpegLsDecoder}. Compressed streams are checked
 * against the image's Rows, Columns and samples before a decoder sees them, and any decoder failure becomes a
 * {@link VolumeFormatException} naming the file.
 */
final class PixelDecoder {
    private PixelDecoder() {
    }

    /** What a frame must be: the image pixel module's fields. */
    record Layout(int rows, int columns, int frames, int bitsAllocated, int samplesPerPixel) {
        long frameSamples() {
            return (long) rows * columns;
        }
    }

    static final String RLE = "1.2.840.10008.1.2.5";
    static final String JPEG_BASELINE = "1.2.840.10008.1.2.4.50";
    static final String JPEG_EXTENDED = "1.2.840.10008.1.2.4.51";
    static final String JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57";
    static final String JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70";
    static final String JPEG_LS = "1.2.840.10008.1.2.4.80";
    static final String JPEG_LS_NEAR = "1.2.840.10008.1.2.4.81";
    static final String J2K_LOSSLESS = "1.2.840.10008.1.2.4.90";
    static final String J2K = "1.2.840.10008.1.2.4.91";

    /** Whether ctcf can decode pixel data in {@code ts}. */
    static boolean supported(String ts) {
        return switch (ts) {
            case DicomFile.IMPLICIT_LE, DicomFile.EXPLICIT_LE, DicomFile.EXPLICIT_BE, DicomFile.DEFLATED_LE, RLE,
                    JPEG_BASELINE, JPEG_LOSSLESS, JPEG_LOSSLESS_SV1, JPEG_LS, JPEG_LS_NEAR, J2K_LOSSLESS, J2K -> true;
            default -> false;
        };
    }

    static String name(String ts) {
        return switch (ts) {
            case DicomFile.IMPLICIT_LE -> "Implicit VR Little Endian";
            case DicomFile.EXPLICIT_LE -> "Explicit VR Little Endian";
            case DicomFile.EXPLICIT_BE -> "Explicit VR Big Endian";
            case DicomFile.DEFLATED_LE -> "Deflated Explicit VR Little Endian";
            case RLE -> "RLE Lossless";
            case JPEG_BASELINE -> "JPEG Baseline";
            case JPEG_EXTENDED -> "JPEG Extended (12-bit)";
            case JPEG_LOSSLESS -> "JPEG Lossless";
            case JPEG_LOSSLESS_SV1 -> "JPEG Lossless SV1";
            case JPEG_LS -> "JPEG-LS Lossless";
            case JPEG_LS_NEAR -> "JPEG-LS Near-Lossless";
            case J2K_LOSSLESS -> "JPEG 2000 Lossless";
            case J2K -> "JPEG 2000";
            default -> "transfer syntax " + ts;
        };
    }

    /** The stored values of frame {@code frame} (rows × columns, row-major: column index fastest) into {@code out}. */
    static void decode(DicomFile f, Layout l, int frame, int[] out) throws VolumeFormatException {
        DicomFile.PixelData px = f.pixels();
        if (px == null) {
            throw f.fail("no pixel data (7FE0,0010)");
        }
        String ts = f.transferSyntax();
        if (!px.encapsulated()) {
            decodeNative(f, l, frame, out);
            return;
        }
        if (!supported(ts) || ts.equals(DicomFile.EXPLICIT_LE) || ts.equals(DicomFile.IMPLICIT_LE)
                || ts.equals(DicomFile.EXPLICIT_BE) || ts.equals(DicomFile.DEFLATED_LE)) {
            if (ts.equals(JPEG_EXTENDED)) {
                throw f.fail("cannot decode " + name(ts) + " (transfer syntax " + ts + "): no maintained Java decoder"
                        + " for 12-bit JPEG is available (TwelveMonkeys refuses precision 12); convert the series, e.g."
                        + " with dcmtk's 'dcmdjpeg' or gdcmconv --raw");
            }
            throw f.fail("cannot decode pixel data in transfer syntax " + ts + " (" + name(ts) + ")");
        }
        byte[] stream = frameBytes(f, l, frame);
        try {
            switch (ts) {
                case RLE -> Rle.decode(f, stream, l, out);
                case JPEG_BASELINE, JPEG_LOSSLESS, JPEG_LOSSLESS_SV1 -> decodeImageIo(f, ts, stream, l, out, false);
                case J2K_LOSSLESS, J2K -> decodeImageIo(f, ts, stream, l, out, true);
                case JPEG_LS, JPEG_LS_NEAR -> decodeJpegLs(f, ts, stream, l, out);
                default -> throw f.fail("cannot decode pixel data in transfer syntax " + ts);
            }
        } catch (VolumeFormatException e) {
            throw e;
        } catch (IOException | RuntimeException | StackOverflowError e) {
            throw new VolumeFormatException(f.path(), "corrupt " + name(ts) + " pixel data in frame " + (frame + 1)
                    + " (transfer syntax " + ts + "): " + e, e);
        }
    }

    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED
            .withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT_BE = ValueLayout.JAVA_SHORT_UNALIGNED
            .withOrder(java.nio.ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED
            .withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT_BE = ValueLayout.JAVA_INT_UNALIGNED
            .withOrder(java.nio.ByteOrder.BIG_ENDIAN);

    private static void decodeNative(DicomFile f, Layout l, int frame, int[] out) throws VolumeFormatException {
        DicomFile.PixelData px = f.pixels();
        int bytes = l.bitsAllocated() / 8;
        long frameBytes = l.frameSamples() * bytes;
        long need = frameBytes * l.frames();
        if (px.length() < need) {
            throw f.fail("pixel data holds " + px.length() + " bytes, but " + l.rows() + " x " + l.columns() + " x "
                    + l.frames() + " frames of " + l.bitsAllocated() + " bits need " + need);
        }
        MemorySegment s = f.data();
        long at = px.offset() + frame * frameBytes;
        int n = (int) l.frameSamples();
        // bulk copies with constant layouts (the JIT turns them into memcpy / byte swaps); per-element gets through
        // a layout made at run time were 10x slower
        boolean le = f.order() == java.nio.ByteOrder.LITTLE_ENDIAN;
        switch (bytes) {
            case 1 -> {
                byte[] b = new byte[n];
                MemorySegment.copy(s, ValueLayout.JAVA_BYTE, at, b, 0, n);
                for (int i = 0; i < n; i++) {
                    out[i] = b[i] & 0xff;
                }
            }
            case 2 -> {
                short[] b = new short[n];
                MemorySegment.copy(s, le ? SHORT_LE : SHORT_BE, at, b, 0, n);
                for (int i = 0; i < n; i++) {
                    out[i] = Short.toUnsignedInt(b[i]);
                }
            }
            case 4 -> MemorySegment.copy(s, le ? INT_LE : INT_BE, at, out, 0, n);
            default -> throw f.fail("unsupported Bits Allocated " + l.bitsAllocated());
        }
    }

    /** The bytes of one frame: its fragments, found by count, the basic offset table or the streams' start markers. */
    static byte[] frameBytes(DicomFile f, Layout l, int frame) throws VolumeFormatException {
        DicomFile.PixelData px = f.pixels();
        List<long[]> frags = px.fragments();
        if (frags.isEmpty()) {
            throw f.fail("encapsulated pixel data has no fragments");
        }
        List<long[]> mine = new ArrayList<>();
        int frames = l.frames();
        if (frames == 1) {
            mine.addAll(frags);
        } else if (frags.size() == frames) {
            mine.add(frags.get(frame));
        } else if (px.basicOffsets() != null && px.basicOffsets().length == frames) {
            long base = frags.get(0)[0];
            long from = base + px.basicOffsets()[frame];
            long to = frame + 1 < frames ? base + px.basicOffsets()[frame + 1] : Long.MAX_VALUE;
            for (long[] fr : frags) {
                if (fr[0] >= from && fr[0] < to) {
                    mine.add(fr);
                }
            }
        } else {
            int k = -1;
            for (long[] fr : frags) {
                if (startsStream(f.data(), fr)) {
                    k++;
                }
                if (k == frame) {
                    mine.add(fr);
                } else if (k > frame) {
                    break;
                }
            }
        }
        if (mine.isEmpty()) {
            throw f.fail("cannot find the fragments of frame " + (frame + 1) + " of " + frames + " ("
                    + frags.size() + " fragments)");
        }
        long total = 0;
        for (long[] fr : mine) {
            total += fr[2];
        }
        long cap = Math.max(1L << 20, l.frameSamples() * Math.max(1, l.bitsAllocated() / 8) * 4 + (1L << 20));
        if (total > cap || total > Integer.MAX_VALUE - 16) {
            throw f.fail("frame " + (frame + 1) + " has " + total + " compressed bytes, more than " + cap
                    + " for its " + l.rows() + " x " + l.columns() + " pixels");
        }
        byte[] out = new byte[(int) total];
        int at = 0;
        for (long[] fr : mine) {
            MemorySegment.copy(f.data(), ValueLayout.JAVA_BYTE, fr[1], out, at, (int) fr[2]);
            at += (int) fr[2];
        }
        return out;
    }

    private static boolean startsStream(MemorySegment s, long[] fr) {
        if (fr[2] < 2) {
            return false;
        }
        int a = s.get(ValueLayout.JAVA_BYTE, fr[1]) & 0xff;
        int b = s.get(ValueLayout.JAVA_BYTE, fr[1] + 1) & 0xff;
        return a == 0xFF && (b == 0xD8 || b == 0x4F);
    }

    /** Checks a JPEG's frame header (SOFn or SOF55 for JPEG-LS) against the image's size before decoding. */
    static void checkJpegHeader(DicomFile f, String ts, byte[] s, Layout l) throws VolumeFormatException {
        if (s.length < 4 || (s[0] & 0xff) != 0xFF || (s[1] & 0xff) != 0xD8) {
            throw f.fail("corrupt " + name(ts) + " stream: no SOI marker");
        }
        int p = 2;
        for (int guard = 0; guard < 10_000 && p + 4 <= s.length; guard++) {
            if ((s[p] & 0xff) != 0xFF) {
                throw f.fail("corrupt " + name(ts) + " stream: expected a marker at byte " + p);
            }
            int m = s[p + 1] & 0xff;
            if (m == 0xFF) {
                p++;
                continue;
            }
            int len = (s[p + 2] & 0xff) << 8 | (s[p + 3] & 0xff);
            boolean sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC || m == 0xF7;
            if (sof) {
                if (p + 10 > s.length) {
                    break;
                }
                int precision = s[p + 4] & 0xff;
                int height = (s[p + 5] & 0xff) << 8 | (s[p + 6] & 0xff);
                int width = (s[p + 7] & 0xff) << 8 | (s[p + 8] & 0xff);
                int comps = s[p + 9] & 0xff;
                if (width != l.columns() || height != l.rows() || comps != l.samplesPerPixel()) {
                    throw f.fail(name(ts) + " stream is " + width + " x " + height + " x " + comps
                            + " components, but the image is " + l.columns() + " x " + l.rows() + " x "
                            + l.samplesPerPixel());
                }
                if (precision < 2 || precision > 16) {
                    throw f.fail(name(ts) + " stream has precision " + precision);
                }
                return;
            }
            if (len < 2) {
                throw f.fail("corrupt " + name(ts) + " stream: marker segment length " + len);
            }
            p += 2 + len;
        }
        throw f.fail("corrupt " + name(ts) + " stream: no frame header");
    }

    private static void checkJ2kHeader(DicomFile f, String ts, byte[] s, Layout l) throws VolumeFormatException {
        int p = 0;
        if (s.length >= 12 && s[4] == 'j' && s[5] == 'P') {
            // a JP2 file instead of a raw codestream: find the codestream box's start
            p = -1;
            for (int i = 0; i + 4 < s.length && i < 4096; i++) {
                if ((s[i] & 0xff) == 0xFF && (s[i + 1] & 0xff) == 0x4F && (s[i + 2] & 0xff) == 0xFF
                        && (s[i + 3] & 0xff) == 0x51) {
                    p = i;
                    break;
                }
            }
        }
        if (p < 0 || p + 42 > s.length || (s[p] & 0xff) != 0xFF || (s[p + 1] & 0xff) != 0x4F
                || (s[p + 2] & 0xff) != 0xFF || (s[p + 3] & 0xff) != 0x51) {
            throw f.fail("corrupt " + name(ts) + " stream: no SOC/SIZ marker");
        }
        long xsiz = be32(s, p + 8);
        long ysiz = be32(s, p + 12);
        long xo = be32(s, p + 16);
        long yo = be32(s, p + 20);
        long xt = be32(s, p + 24);
        long yt = be32(s, p + 28);
        int comps = (s[p + 40] & 0xff) << 8 | (s[p + 41] & 0xff);
        if (xsiz - xo != l.columns() || ysiz - yo != l.rows() || comps != l.samplesPerPixel()) {
            throw f.fail(name(ts) + " stream is " + (xsiz - xo) + " x " + (ysiz - yo) + " x " + comps
                    + " components, but the image is " + l.columns() + " x " + l.rows() + " x " + l.samplesPerPixel());
        }
        if (xt < 1 || yt < 1 || ((xsiz + xt - 1) / xt) * ((ysiz + yt - 1) / yt) > 65536) {
            throw f.fail(name(ts) + " stream has an implausible tiling (" + xt + " x " + yt + " tiles)");
        }
    }

    private static long be32(byte[] s, int p) {
        return (long) (s[p] & 0xff) << 24 | (s[p + 1] & 0xff) << 16 | (s[p + 2] & 0xff) << 8 | (s[p + 3] & 0xff);
    }

    private static void decodeImageIo(DicomFile f, String ts, byte[] stream, Layout l, int[] out, boolean j2k)
            throws IOException {
        if (l.samplesPerPixel() != 1) {
            throw f.fail("only single-sample (MONOCHROME) images are read, this one has " + l.samplesPerPixel());
        }
        if (j2k) {
            checkJ2kHeader(f, ts, stream, l);
        } else {
            checkJpegHeader(f, ts, stream, l);
        }
        ImageReader reader = reader(j2k);
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(stream))) {
            reader.setInput(in);
            Raster r = reader.readRaster(0, null);
            if (r.getWidth() != l.columns() || r.getHeight() != l.rows()) {
                throw f.fail(name(ts) + " decoded to " + r.getWidth() + " x " + r.getHeight() + ", expected "
                        + l.columns() + " x " + l.rows());
            }
            r.getSamples(r.getMinX(), r.getMinY(), l.columns(), l.rows(), 0, out);
        } finally {
            reader.dispose();
        }
    }

    /** TwelveMonkeys' JPEG reader (it handles lossless; the JDK's does not) or jai-imageio's JPEG 2000 reader. */
    private static ImageReader reader(boolean j2k) throws IOException {
        String prefix = j2k ? "com.github.jaiimageio.jpeg2000" : "com.twelvemonkeys.imageio.plugins.jpeg";
        var it = javax.imageio.ImageIO.getImageReadersByFormatName(j2k ? "jpeg2000" : "jpeg");
        while (it.hasNext()) {
            ImageReader r = it.next();
            if (r.getClass().getName().startsWith(prefix)) {
                return r;
            }
            r.dispose();
        }
        if (j2k) {
            return new com.github.jaiimageio.jpeg2000.impl.J2KImageReaderSpi().createReaderInstance();
        }
        throw new IOException("TwelveMonkeys' JPEG reader is not registered with ImageIO (is imageio-jpeg on the"
                + " class path, with its META-INF/services?)");
    }

    private static void decodeJpegLs(DicomFile f, String ts, byte[] stream, Layout l, int[] out)
            throws VolumeFormatException {
        checkJpegHeader(f, ts, stream, l);
        JpegLsDecoder.Decoded d;
        try {
            d = JpegLsDecoder.decode(stream);
        } catch (Exception e) {
            throw new VolumeFormatException(f.path(), "corrupt " + name(ts) + " pixel data (transfer syntax " + ts
                    + "): " + e.getMessage(), e);
        }
        if (d.width() != l.columns() || d.height() != l.rows() || d.components() != 1) {
            throw f.fail(String.format(Locale.ROOT, "%s decoded to %d x %d x %d, expected %d x %d x 1", name(ts),
                    d.width(), d.height(), d.components(), l.columns(), l.rows()));
        }
        int n = (int) l.frameSamples();
        if (d.samples().length < n) {
            throw f.fail(name(ts) + " decoded " + d.samples().length + " samples, expected " + n);
        }
        System.arraycopy(d.samples(), 0, out, 0, n);
    }

}
