package org.ctcf.io.dicom;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;

import org.ctcf.io.VolumeFormatException;

/**
 * A JPEG-LS decoder (ITU-T T.87 | ISO/IEC 14495-1), written from the standard, for the DICOM transfer syntaxes
 * 1.2.840.10008.1.2.4.80 (lossless) and .81 (near-lossless, NEAR &gt; 0).
 *
 * <p>Supported: SOI, SOF55 with P = 2..16 bits, any number of components (of equal size) with ILV 0 (one scan
 * per component), ILV 1 (line interleaved) or ILV 2 (sample interleaved); LSE preset coding parameters (id 1: MAXVAL, T1, T2, T3,
 * RESET; default thresholds of C.2.4.1.1 otherwise); SOS with NEAR and ILV; regular mode (context modelling, median
 * edge detector, bias correction, limited-length Golomb codes, RESET), run mode (J table, run interruption samples);
 * bit stuffing after 0xFF; DRI with RSTm markers; EOI; APPn/COM segments are skipped. ILV 2 (sample interleaved)
 * codes runs of whole pixels; an interrupted pixel's components are coded as run interruption samples of RItype 0.
 * Not supported (a {@link VolumeFormatException} says so): mapping tables (palettes), point transform, sub-sampled
 * components, DNL (height 0).
 *
 * <p>The input is untrusted: every read is bounded by the buffer, the sample count is capped at {@value #MAX_SAMPLES}
 * before allocation (and the output grows with the lines actually decoded), every loop is bounded, and a corrupt or truncated stream ends in a {@link VolumeFormatException}.
 */
public final class JpegLsDecoder {
    /** Samples of one image: row-major, interleaved by component ({@code (y * width + x) * components + c}). */
    public record Decoded(int width, int height, int components, int precision, int[] samples) {
    }

    /** Most samples (width × height × components) a stream may declare. */
    public static final long MAX_SAMPLES = 1L << 28;

    private static final String DEFAULT_SOURCE = "JPEG-LS stream";

    private JpegLsDecoder() {
    }

    /** Decodes a full JPEG-LS codestream (SOI .. EOI). */
    public static Decoded decode(byte[] stream) throws VolumeFormatException {
        return decode(stream, DEFAULT_SOURCE);
    }

    /** Decodes a full JPEG-LS codestream (SOI .. EOI); {@code source} names it in error messages. */
    public static Decoded decode(byte[] stream, String source) throws VolumeFormatException {
        try {
            if (stream == null) {
                throw new Bad("no data");
            }
            return new Parser(stream).run();
        } catch (Bad e) {
            throw new VolumeFormatException(sourcePath(source), "JPEG-LS: " + e.getMessage());
        } catch (RuntimeException e) {
            // Safety net: never expected (the fuzz test checks that no cause of this kind occurs).
            throw new VolumeFormatException(sourcePath(source), "JPEG-LS: corrupt stream (" + e + ")", e);
        }
    }

    private static Path sourcePath(String source) {
        try {
            return Path.of(source == null || source.isEmpty() ? DEFAULT_SOURCE : source);
        } catch (InvalidPathException e) {
            return Path.of(DEFAULT_SOURCE);
        }
    }

    /** A problem with the stream; turned into a VolumeFormatException at the API boundary. */
    private static final class Bad extends Exception {
        private static final long serialVersionUID = 1L;

        Bad(String message) {
            super(message, null, false, false);
        }
    }

    // ---------------------------------------------------------------- marker segments

    private static final class Parser {
        private final byte[] d;
        private int pos;
        // frame (SOF55)
        private boolean haveFrame;
        private int precision, height, width, nComp;
        private int[] compId;
        private Output samples;
        private boolean[] decoded;
        // preset coding parameters (LSE id 1); 0 = default
        private int presetMaxval, presetT1, presetT2, presetT3, presetReset;
        private int restartInterval;

        Parser(byte[] d) {
            this.d = d;
        }

        private int u8() throws Bad {
            if (pos >= d.length) {
                throw new Bad("truncated at byte " + pos);
            }
            return d[pos++] & 0xFF;
        }

        private int u16() throws Bad {
            int hi = u8();
            return (hi << 8) | u8();
        }

        Decoded run() throws Bad {
            if (d.length < 4 || (d[0] & 0xFF) != 0xFF || (d[1] & 0xFF) != 0xD8) {
                throw new Bad("no SOI marker at the start");
            }
            pos = 2;
            for (int segments = 0;; segments++) {
                if (segments > d.length) {
                    throw new Bad("too many marker segments");
                }
                int m = nextMarker();
                switch (m) {
                    case 0xD9 -> {
                        return finish();
                    }
                    case 0xF7 -> readFrame();
                    case 0xF8 -> readPreset();
                    case 0xDA -> readScan();
                    case 0xDD -> readRestartInterval();
                    case 0xD8 -> throw new Bad("second SOI marker");
                    case 0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF ->
                        throw new Bad(String.format("SOF%d marker: not a JPEG-LS stream", m - 0xC0));
                    case 0xF9 -> throw new Bad("SOF57 (JPEG-LS part 2 extensions) not supported");
                    case 0xDC -> throw new Bad("DNL marker not supported");
                    case 0x01 -> {
                        // TEM: no length
                    }
                    default -> {
                        if (m >= 0xD0 && m <= 0xD7) {
                            throw new Bad(String.format("RST%d marker outside a scan", m - 0xD0));
                        }
                        skipSegment();
                    }
                }
            }
        }

        /** Reads FF xx at pos (skipping FF fill bytes) and returns xx. */
        private int nextMarker() throws Bad {
            if (pos >= d.length) {
                throw new Bad("truncated: no EOI marker");
            }
            if ((d[pos] & 0xFF) != 0xFF) {
                throw new Bad(String.format("expected a marker at byte %d, found 0x%02X", pos, d[pos] & 0xFF));
            }
            while (pos < d.length && (d[pos] & 0xFF) == 0xFF) {
                pos++;
            }
            if (pos >= d.length) {
                throw new Bad("truncated: no EOI marker");
            }
            int m = d[pos++] & 0xFF;
            if (m == 0) {
                throw new Bad("stuffed byte 0xFF00 where a marker was expected at byte " + (pos - 2));
            }
            return m;
        }

        /** Reads a segment length and checks it fits; returns the end of the segment. */
        private int segmentEnd(int min) throws Bad {
            int start = pos;
            int len = u16();
            if (len < Math.max(2, min) || start + len > d.length) {
                throw new Bad("bad segment length " + len + " at byte " + start);
            }
            return start + len;
        }

        private void skipSegment() throws Bad {
            pos = segmentEnd(2);
        }

        private void readFrame() throws Bad {
            if (haveFrame) {
                throw new Bad("second SOF55 frame header");
            }
            int end = segmentEnd(11);
            precision = u8();
            height = u16();
            width = u16();
            nComp = u8();
            if (precision < 2 || precision > 16) {
                throw new Bad("sample precision " + precision + " outside 2..16");
            }
            if (height == 0) {
                throw new Bad("height 0 (DNL) not supported");
            }
            if (width == 0) {
                throw new Bad("width 0");
            }
            if (nComp == 0) {
                throw new Bad("no components");
            }
            if (end - pos != 3 * nComp) {
                throw new Bad("frame header length does not match " + nComp + " components");
            }
            long count = (long) width * height * nComp;
            if (count > MAX_SAMPLES) {
                throw new Bad("image too large: " + width + "x" + height + "x" + nComp + " samples");
            }
            compId = new int[nComp];
            for (int i = 0; i < nComp; i++) {
                compId[i] = u8();
                int hv = u8();
                u8(); // Tq, 0 in JPEG-LS
                for (int j = 0; j < i; j++) {
                    if (compId[j] == compId[i]) {
                        throw new Bad("component id " + compId[i] + " repeated");
                    }
                }
                if (nComp > 1 && hv != 0x11 && hv != 0) {
                    throw new Bad("sub-sampled components not supported");
                }
            }
            samples = new Output((int) count);
            decoded = new boolean[nComp];
            haveFrame = true;
        }

        private void readPreset() throws Bad {
            int end = segmentEnd(3);
            int id = u8();
            if (id == 1) {
                if (end - pos != 10) {
                    throw new Bad("LSE preset parameters: bad length");
                }
                presetMaxval = u16();
                presetT1 = u16();
                presetT2 = u16();
                presetT3 = u16();
                presetReset = u16();
            } else if (id < 1 || id > 4) {
                throw new Bad("LSE segment with unknown id " + id);
            }
            // id 2, 3: mapping tables (used only if a scan names one, which is rejected); id 4: oversize
            // dimensions (only meaningful with a 0 dimension in SOF55, which is rejected).
            pos = end;
        }

        private void readRestartInterval() throws Bad {
            int end = segmentEnd(3);
            int n = end - pos;
            if (n < 1 || n > 4) {
                throw new Bad("DRI: bad length");
            }
            long ri = 0;
            for (int i = 0; i < n; i++) {
                ri = (ri << 8) | u8();
            }
            restartInterval = (int) Math.min(ri, Integer.MAX_VALUE);
        }

        private void readScan() throws Bad {
            if (!haveFrame) {
                throw new Bad("SOS before SOF55");
            }
            int end = segmentEnd(6);
            int ns = u8();
            if (ns < 1 || ns > nComp || end - pos != 2 * ns + 3) {
                throw new Bad("scan header: bad component count " + ns);
            }
            int[] comps = new int[ns];
            for (int i = 0; i < ns; i++) {
                int id = u8();
                int tm = u8();
                int idx = -1;
                for (int j = 0; j < nComp; j++) {
                    if (compId[j] == id) {
                        idx = j;
                    }
                }
                if (idx < 0) {
                    throw new Bad("scan names unknown component " + id);
                }
                if (decoded[idx]) {
                    throw new Bad("component " + id + " coded twice");
                }
                for (int j = 0; j < i; j++) {
                    if (comps[j] == idx) {
                        throw new Bad("component " + id + " repeated in a scan");
                    }
                }
                if (tm != 0) {
                    throw new Bad("mapping tables (palettes) not supported");
                }
                comps[i] = idx;
            }
            int near = u8();
            int ilv = u8();
            int pt = u8();
            if ((pt & 0x0F) != 0) {
                throw new Bad("point transform not supported");
            }
            if (ilv > 2) {
                throw new Bad("interleave mode " + ilv + " invalid");
            }
            if (ns == 1) {
                ilv = 0;
            } else if (ilv == 0) {
                throw new Bad("ILV 0 with several components in one scan");
            }
            Params p = params(near);
            pos = end;
            Scan scan = new Scan(d, pos, p, width, height, nComp, samples, restartInterval);
            pos = ilv == 2 ? scan.decodeSampleInterleaved(comps) : scan.decode(comps);
            for (int c : comps) {
                decoded[c] = true;
            }
        }

        private Params params(int near) throws Bad {
            int maxPossible = (1 << precision) - 1;
            int maxval = presetMaxval == 0 ? maxPossible : presetMaxval;
            if (maxval > maxPossible) {
                throw new Bad("MAXVAL " + maxval + " exceeds " + precision + "-bit precision");
            }
            if (near > Math.min(255, maxval / 2)) {
                throw new Bad("NEAR " + near + " invalid for MAXVAL " + maxval);
            }
            // C.2.4.1.1 default thresholds
            int dT1, dT2, dT3;
            if (maxval >= 128) {
                int factor = (Math.min(maxval, 4095) + 128) / 256;
                dT1 = clampT(factor * (3 - 2) + 2 + 3 * near, near + 1, maxval);
                dT2 = clampT(factor * (7 - 3) + 3 + 5 * near, dT1, maxval);
                dT3 = clampT(factor * (21 - 4) + 4 + 7 * near, dT2, maxval);
            } else {
                int factor = 256 / (maxval + 1);
                dT1 = clampT(Math.max(2, 3 / factor + 3 * near), near + 1, maxval);
                dT2 = clampT(Math.max(3, 7 / factor + 5 * near), dT1, maxval);
                dT3 = clampT(Math.max(4, 21 / factor + 7 * near), dT2, maxval);
            }
            int t1 = presetT1 == 0 ? dT1 : presetT1;
            int t2 = presetT2 == 0 ? dT2 : presetT2;
            int t3 = presetT3 == 0 ? dT3 : presetT3;
            int reset = presetReset == 0 ? 64 : presetReset;
            if (t1 < near + 1 || t1 > maxval || t2 < t1 || t2 > maxval || t3 < t2 || t3 > maxval) {
                throw new Bad("invalid thresholds T1=" + t1 + " T2=" + t2 + " T3=" + t3);
            }
            if (reset < 3 || reset > Math.max(255, maxval)) {
                throw new Bad("invalid RESET " + reset);
            }
            return new Params(maxval, near, t1, t2, t3, reset);
        }

        private static int clampT(int i, int j, int maxval) {
            return (i > maxval || i < j) ? j : i;
        }

        private Decoded finish() throws Bad {
            if (!haveFrame) {
                throw new Bad("EOI before a frame header");
            }
            for (int i = 0; i < nComp; i++) {
                if (!decoded[i]) {
                    throw new Bad("component " + compId[i] + " has no scan");
                }
            }
            return new Decoded(width, height, nComp, precision, samples.finish());
        }
    }

    private record Params(int maxval, int near, int t1, int t2, int t3, int reset) {
    }

    /**
     * The output samples, grown as lines are decoded, so that a corrupt header that declares a large image over a
     * short stream allocates in proportion to what the data actually decode to.
     */
    private static final class Output {
        private final int size;
        int[] a;

        Output(int size) {
            this.size = size;
            this.a = new int[Math.min(size, 1 << 20)];
        }

        /** Makes room for the first n samples. */
        void ensure(int n) {
            if (n > a.length) {
                a = java.util.Arrays.copyOf(a, (int) Math.min(size, Math.max(n, 2L * a.length)));
            }
        }

        int[] finish() {
            ensure(size);
            return a;
        }
    }

    // ---------------------------------------------------------------- scan decoding (Annex A)

    private static final int[] J = {
        0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    private static final int MIN_C = -128;
    private static final int MAX_C = 127;
    private static final int CONTEXTS = 365;
    /** RItype of every component of an interrupted pixel run (ILV 2): predicted from the sample above. */
    private static final int PIXEL_RI_TYPE = 0;

    private static final class Scan {
        private final BitReader in;
        private final int maxval, near, t1, t2, t3, reset;
        private final int range, qbpp, limit, step;
        private final int width, height, nComp;
        private final Output output;
        private final int restartInterval;
        private final long[] a = new long[CONTEXTS + 2];
        private final int[] b = new int[CONTEXTS + 2];
        private final int[] c = new int[CONTEXTS + 2];
        private final int[] n = new int[CONTEXTS + 2];
        private final int[] nn = new int[CONTEXTS + 2];
        private int runIndex;

        Scan(byte[] d, int start, Params p, int width, int height, int nComp, Output output, int restartInterval) {
            this.in = new BitReader(d, start);
            this.maxval = p.maxval();
            this.near = p.near();
            this.t1 = p.t1();
            this.t2 = p.t2();
            this.t3 = p.t3();
            this.reset = p.reset();
            this.step = 2 * near + 1;
            this.range = (maxval + 2 * near) / step + 1;
            this.qbpp = ceilLog2(range);
            int bpp = Math.max(2, ceilLog2(maxval + 1));
            this.limit = 2 * (bpp + Math.max(8, bpp));
            this.width = width;
            this.height = height;
            this.nComp = nComp;
            this.output = output;
            this.restartInterval = restartInterval;
        }

        private static int ceilLog2(int v) {
            int k = 0;
            while ((1L << k) < v) {
                k++;
            }
            return k;
        }

        private void resetContexts() {
            long a0 = Math.max(2, (range + 32) / 64);
            for (int q = 0; q < CONTEXTS + 2; q++) {
                a[q] = a0;
                b[q] = 0;
                c[q] = 0;
                n[q] = 1;
                nn[q] = 0;
            }
        }

        /** Decodes the scan's components (ILV 0: one; ILV 1: line interleaved); returns the next marker's offset. */
        int decode(int[] comps) throws Bad {
            int ns = comps.length;
            int[][] prev = new int[ns][width + 2];
            int[][] cur = new int[ns][width + 2];
            int[] runIdx = new int[ns];
            resetContexts();
            int rst = 0;
            for (int y = 0; y < height; y++) {
                if (restartInterval > 0 && y > 0 && y % restartInterval == 0) {
                    in.restart(0xD0 + (rst & 7));
                    rst++;
                    resetContexts();
                    for (int i = 0; i < ns; i++) {
                        java.util.Arrays.fill(prev[i], 0);
                        runIdx[i] = 0;
                    }
                }
                for (int i = 0; i < ns; i++) {
                    int[] pl = prev[i];
                    int[] cl = cur[i];
                    pl[width + 1] = pl[width];
                    cl[0] = pl[1];
                    runIndex = runIdx[i];
                    decodeLine(pl, cl);
                    runIdx[i] = runIndex;
                    int comp = comps[i];
                    output.ensure((y + 1) * width * nComp);
                    int[] out = output.a;
                    int o = y * width * nComp + comp;
                    for (int x = 1; x <= width; x++, o += nComp) {
                        out[o] = cl[x];
                    }
                    prev[i] = cl;
                    cur[i] = pl;
                }
            }
            return in.findMarker();
        }

        /** Decodes a sample-interleaved scan (ILV 2); returns the next marker's offset. */
        int decodeSampleInterleaved(int[] comps) throws Bad {
            int ns = comps.length;
            int[][] prev = new int[ns][width + 2];
            int[][] cur = new int[ns][width + 2];
            resetContexts();
            runIndex = 0;
            int rst = 0;
            for (int y = 0; y < height; y++) {
                if (restartInterval > 0 && y > 0 && y % restartInterval == 0) {
                    in.restart(0xD0 + (rst & 7));
                    rst++;
                    resetContexts();
                    runIndex = 0;
                    for (int i = 0; i < ns; i++) {
                        java.util.Arrays.fill(prev[i], 0);
                    }
                }
                for (int i = 0; i < ns; i++) {
                    prev[i][width + 1] = prev[i][width];
                    cur[i][0] = prev[i][1];
                }
                int x = 1;
                while (x <= width) {
                    boolean run = true;
                    for (int i = 0; i < ns && run; i++) {
                        int[] p = prev[i];
                        int ra = cur[i][x - 1];
                        run = Math.abs(p[x + 1] - p[x]) <= near && Math.abs(p[x] - p[x - 1]) <= near
                            && Math.abs(p[x - 1] - ra) <= near;
                    }
                    if (run) {
                        x = runModePixels(x, prev, cur);
                    } else {
                        for (int i = 0; i < ns; i++) {
                            int[] p = prev[i];
                            int ra = cur[i][x - 1];
                            int rb = p[x];
                            int rc = p[x - 1];
                            cur[i][x] = regular(ra, rb, rc, p[x + 1] - rb, rb - rc, rc - ra);
                        }
                        x++;
                    }
                }
                output.ensure((y + 1) * width * nComp);
                int[] out = output.a;
                for (int i = 0; i < ns; i++) {
                    int[] cl = cur[i];
                    int o = y * width * nComp + comps[i];
                    for (int xx = 1; xx <= width; xx++, o += nComp) {
                        out[o] = cl[xx];
                    }
                    cur[i] = prev[i];
                    prev[i] = cl;
                }
            }
            return in.findMarker();
        }

        /** Run mode over whole pixels (ILV 2) starting at x; returns the next x to decode. */
        private int runModePixels(int x, int[][] prev, int[][] cur) throws Bad {
            int ns = cur.length;
            while (true) {
                int remaining = width - x + 1;
                if (in.bit() == 1) {
                    int len = 1 << J[runIndex];
                    int cnt = Math.min(len, remaining);
                    for (int i = 0; i < ns; i++) {
                        int[] cl = cur[i];
                        int v = cl[x - 1];
                        for (int j = 0; j < cnt; j++) {
                            cl[x + j] = v;
                        }
                    }
                    x += cnt;
                    if (cnt == len && runIndex < 31) {
                        runIndex++;
                    }
                    if (x > width) {
                        return x;
                    }
                } else {
                    int r = in.bits(J[runIndex]);
                    if (r >= remaining) {
                        throw new Bad("corrupt data (run past the end of a line)");
                    }
                    for (int i = 0; i < ns; i++) {
                        int[] cl = cur[i];
                        int v = cl[x - 1];
                        for (int j = 0; j < r; j++) {
                            cl[x + j] = v;
                        }
                    }
                    x += r;
                    for (int i = 0; i < ns; i++) {
                        cur[i][x] = interruption(cur[i][x - 1], prev[i][x], PIXEL_RI_TYPE);
                    }
                    if (runIndex > 0) {
                        runIndex--;
                    }
                    return x + 1;
                }
            }
        }

        private void decodeLine(int[] prev, int[] cur) throws Bad {
            int x = 1;
            while (x <= width) {
                int ra = cur[x - 1];
                int rb = prev[x];
                int rc = prev[x - 1];
                int rd = prev[x + 1];
                int d1 = rd - rb;
                int d2 = rb - rc;
                int d3 = rc - ra;
                if (Math.abs(d1) <= near && Math.abs(d2) <= near && Math.abs(d3) <= near) {
                    x = runMode(x, prev, cur);
                } else {
                    cur[x] = regular(ra, rb, rc, d1, d2, d3);
                    x++;
                }
            }
        }

        private int quantize(int di) {
            if (di <= -t3) {
                return -4;
            } else if (di <= -t2) {
                return -3;
            } else if (di <= -t1) {
                return -2;
            } else if (di < -near) {
                return -1;
            } else if (di <= near) {
                return 0;
            } else if (di < t1) {
                return 1;
            } else if (di < t2) {
                return 2;
            } else if (di < t3) {
                return 3;
            }
            return 4;
        }

        private int regular(int ra, int rb, int rc, int d1, int d2, int d3) throws Bad {
            int q1 = quantize(d1);
            int q2 = quantize(d2);
            int q3 = quantize(d3);
            int sign = 1;
            if (q1 < 0 || (q1 == 0 && (q2 < 0 || (q2 == 0 && q3 < 0)))) {
                sign = -1;
                q1 = -q1;
                q2 = -q2;
                q3 = -q3;
            }
            int q = 81 * q1 + 9 * q2 + q3;
            int px;
            if (rc >= Math.max(ra, rb)) {
                px = Math.min(ra, rb);
            } else if (rc <= Math.min(ra, rb)) {
                px = Math.max(ra, rb);
            } else {
                px = ra + rb - rc;
            }
            px += sign * c[q];
            if (px > maxval) {
                px = maxval;
            } else if (px < 0) {
                px = 0;
            }
            int k = golombK(n[q], a[q]);
            int merr = golomb(k, limit);
            int err;
            if (near == 0 && k == 0 && 2 * b[q] <= -n[q]) {
                err = (merr & 1) != 0 ? (merr - 1) >> 1 : -(merr >> 1) - 1;
            } else {
                err = (merr & 1) != 0 ? -((merr + 1) >> 1) : merr >> 1;
            }
            // A.6 context update
            b[q] += err * step;
            a[q] += Math.abs(err);
            if (n[q] == reset) {
                a[q] >>= 1;
                b[q] >>= 1;
                n[q] >>= 1;
            }
            n[q]++;
            // A.6.2 bias correction
            if (b[q] <= -n[q]) {
                b[q] += n[q];
                if (c[q] > MIN_C) {
                    c[q]--;
                }
                if (b[q] <= -n[q]) {
                    b[q] = -n[q] + 1;
                }
            } else if (b[q] > 0) {
                b[q] -= n[q];
                if (c[q] < MAX_C) {
                    c[q]++;
                }
                if (b[q] > 0) {
                    b[q] = 0;
                }
            }
            return reconstruct(px + sign * err * step);
        }

        private int reconstruct(int rx) {
            if (rx < -near) {
                rx += range * step;
            } else if (rx > maxval + near) {
                rx -= range * step;
            }
            return rx < 0 ? 0 : (rx > maxval ? maxval : rx);
        }

        private static int golombK(int nq, long aq) throws Bad {
            int k = 0;
            while (((long) nq << k) < aq) {
                k++;
                if (k > 24) {
                    throw new Bad("corrupt data (Golomb parameter out of range)");
                }
            }
            return k;
        }

        /** A.5.3 limited-length Golomb code. */
        private int golomb(int k, int lim) throws Bad {
            int escape = lim - qbpp - 1;
            if (escape < 0) {
                throw new Bad("corrupt data (code length limit)");
            }
            int z = in.unary(escape);
            long v;
            if (z < escape) {
                v = ((long) z << k) | in.bits(k);
            } else {
                v = in.bits(qbpp) + 1L;
            }
            if (v > 2L * range + 4) {
                throw new Bad("corrupt data (error value out of range)");
            }
            return (int) v;
        }

        /** A.7 run mode starting at x; returns the next x to decode. */
        private int runMode(int x, int[] prev, int[] cur) throws Bad {
            int runVal = cur[x - 1];
            while (true) {
                int remaining = width - x + 1;
                if (in.bit() == 1) {
                    int len = 1 << J[runIndex];
                    int cnt = Math.min(len, remaining);
                    for (int i = 0; i < cnt; i++) {
                        cur[x++] = runVal;
                    }
                    if (cnt == len && runIndex < 31) {
                        runIndex++;
                    }
                    if (x > width) {
                        return x;
                    }
                } else {
                    int r = in.bits(J[runIndex]);
                    if (r >= remaining) {
                        throw new Bad("corrupt data (run past the end of a line)");
                    }
                    for (int i = 0; i < r; i++) {
                        cur[x++] = runVal;
                    }
                    cur[x] = interruption(cur[x - 1], prev[x], -1);
                    if (runIndex > 0) {
                        runIndex--;
                    }
                    return x + 1;
                }
            }
        }

        /** A.7.2 run interruption sample. */
        private int interruption(int ra, int rb, int forcedType) throws Bad {
            int riType = forcedType >= 0 ? forcedType : (Math.abs(ra - rb) <= near ? 1 : 0);
            int q = CONTEXTS + riType;
            int px = riType == 1 ? ra : rb;
            int sign = (riType == 0 && ra > rb) ? -1 : 1;
            long temp = riType == 0 ? a[q] : a[q] + (n[q] >> 1);
            int k = golombK(n[q], temp);
            int em = golomb(k, limit - J[runIndex] - 1);
            int t = em + riType;
            int map = t & 1;
            int absErr = (t + map) >> 1;
            boolean cond = k != 0 || 2 * nn[q] >= n[q];
            int err = (map == 1) == cond ? -absErr : absErr;
            if (err < 0) {
                nn[q]++;
            }
            a[q] += (em + 1 - riType) >> 1;
            if (n[q] == reset) {
                a[q] >>= 1;
                n[q] >>= 1;
                nn[q] >>= 1;
            }
            n[q]++;
            return reconstruct(px + sign * err * step);
        }
    }

    // ---------------------------------------------------------------- entropy-coded data

    /** Reads the bits of a scan: MSB first, a 0 bit stuffed after every 0xFF, stops before any marker. */
    private static final class BitReader {
        private final byte[] d;
        private int pos;
        private long cache; // valid bits MSB-aligned, the rest zero
        private int nbits;
        private boolean stuffed; // the next byte carries 7 bits (it follows a 0xFF)

        BitReader(byte[] d, int pos) {
            this.d = d;
            this.pos = pos;
        }

        private void fill() {
            while (nbits <= 56 && pos < d.length) {
                int v = d[pos] & 0xFF;
                if (stuffed) {
                    // guaranteed < 0x80 by the check below
                    cache |= (long) v << (57 - nbits);
                    nbits += 7;
                    stuffed = false;
                    pos++;
                } else if (v == 0xFF) {
                    if (pos + 1 >= d.length || (d[pos + 1] & 0x80) != 0) {
                        return; // a marker (or the end): the data stop here
                    }
                    cache |= 0xFFL << (56 - nbits);
                    nbits += 8;
                    stuffed = true;
                    pos++;
                } else {
                    cache |= (long) v << (56 - nbits);
                    nbits += 8;
                    pos++;
                }
            }
        }

        private Bad truncated() {
            return new Bad("truncated or corrupt entropy-coded data near byte " + pos);
        }

        int bit() throws Bad {
            if (nbits == 0) {
                fill();
                if (nbits == 0) {
                    throw truncated();
                }
            }
            int v = (int) (cache >>> 63);
            cache <<= 1;
            nbits--;
            return v;
        }

        int bits(int count) throws Bad {
            if (count == 0) {
                return 0;
            }
            if (nbits < count) {
                fill();
                if (nbits < count) {
                    throw truncated();
                }
            }
            int v = (int) (cache >>> (64 - count));
            cache <<= count;
            nbits -= count;
            return v;
        }

        /** Counts 0 bits up to the next 1 bit (consumed); more than {@code max} zeros is an error. */
        int unary(int max) throws Bad {
            int z = 0;
            while (true) {
                if (nbits == 0) {
                    fill();
                    if (nbits == 0) {
                        throw truncated();
                    }
                }
                if (cache == 0) {
                    z += nbits;
                    nbits = 0;
                } else {
                    int lz = Long.numberOfLeadingZeros(cache);
                    z += lz;
                    cache <<= lz;
                    cache <<= 1;
                    nbits -= lz + 1;
                    if (z > max) {
                        throw new Bad("corrupt data (Golomb code too long)");
                    }
                    return z;
                }
                if (z > max) {
                    throw new Bad("corrupt data (Golomb code too long)");
                }
            }
        }

        /** The offset of the next marker at or after the data read so far. */
        int findMarker() throws Bad {
            for (int i = pos; i + 1 < d.length; i++) {
                if ((d[i] & 0xFF) == 0xFF) {
                    int m = d[i + 1] & 0xFF;
                    if (m >= 0x80 && m != 0xFF) {
                        return i;
                    }
                }
            }
            throw new Bad("truncated: no marker after the scan data");
        }

        /** Skips the padding and the expected RSTm marker, and restarts bit reading after it. */
        void restart(int marker) throws Bad {
            int at = findMarker();
            int m = d[at + 1] & 0xFF;
            if (m != marker) {
                throw new Bad(String.format("expected RST%d, found marker 0x%02X at byte %d", marker - 0xD0, m, at));
            }
            pos = at + 2;
            cache = 0;
            nbits = 0;
            stuffed = false;
        }
    }
}
