package org.ctcf.io.dicom;

import org.ctcf.io.VolumeFormatException;

/**
 * RLE Lossless (PS3.5 Annex G): a 64-byte header of segment offsets, then one PackBits-coded segment per byte plane
 * (most significant byte first). Written for ctcf; every run is checked against the segment and the plane.
 */
final class Rle {
    private Rle() {
    }

    static void decode(DicomFile f, byte[] s, PixelDecoder.Layout l, int[] out) throws VolumeFormatException {
        if (l.samplesPerPixel() != 1) {
            throw f.fail("RLE: only single-sample images are read, this one has " + l.samplesPerPixel());
        }
        int bytes = l.bitsAllocated() / 8;
        if (s.length < 64) {
            throw f.fail("RLE frame shorter than its 64-byte header");
        }
        int segments = le32(s, 0);
        if (segments != bytes) {
            throw f.fail("RLE frame has " + segments + " segments, " + bytes + " expected for " + l.bitsAllocated()
                    + "-bit samples");
        }
        int n = (int) l.frameSamples();
        java.util.Arrays.fill(out, 0, n, 0);
        byte[] plane = new byte[n];
        for (int seg = 0; seg < segments; seg++) {
            long start = Integer.toUnsignedLong(le32(s, 4 + 4 * seg));
            long end = seg + 1 < segments ? Integer.toUnsignedLong(le32(s, 8 + 4 * seg)) : s.length;
            if (start < 64 || start > end || end > s.length) {
                throw f.fail("RLE segment " + (seg + 1) + " has offsets " + start + ".." + end + " outside the "
                        + s.length + "-byte frame");
            }
            unpack(f, s, (int) start, (int) end, plane);
            int shift = 8 * (segments - 1 - seg);
            for (int i = 0; i < n; i++) {
                out[i] |= (plane[i] & 0xff) << shift;
            }
        }
    }

    private static void unpack(DicomFile f, byte[] s, int p, int end, byte[] plane) throws VolumeFormatException {
        int o = 0;
        while (o < plane.length && p < end) {
            int h = s[p++];
            if (h >= 0) {
                int count = h + 1;
                if (p + count > end || o + count > plane.length) {
                    throw f.fail("RLE literal run of " + count + " overruns its segment or the image");
                }
                System.arraycopy(s, p, plane, o, count);
                p += count;
                o += count;
            } else if (h != -128) {
                int count = 1 - h;
                if (p >= end || o + count > plane.length) {
                    throw f.fail("RLE replicate run of " + count + " overruns its segment or the image");
                }
                java.util.Arrays.fill(plane, o, o + count, s[p++]);
                o += count;
            }
        }
        if (o < plane.length) {
            throw f.fail("RLE segment decodes to " + o + " bytes, " + plane.length + " expected");
        }
    }

    private static int le32(byte[] s, int p) {
        return (s[p] & 0xff) | (s[p + 1] & 0xff) << 8 | (s[p + 2] & 0xff) << 16 | (s[p + 3] & 0xff) << 24;
    }
}
