package org.ctcf.io;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

import org.ctcf.core.Affine;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;

/**
 * Reads NIfTI-1 and NIfTI-2 single-file volumes ({@code .nii}, {@code .nii.gz}; gzip is recognised by content,
 * not by name). Voxels are converted to float32 straight into off-heap memory: a plain file is memory-mapped, a
 * gzip file is streamed in small chunks. The affine is the sform when its code is set, else the qform, else the
 * pixdim diagonal (NIfTI's method 1), the rule nibabel and ITK follow.
 */
public final class NiftiReader {
    /** The largest expansion deflate can achieve (about 1032:1); a header claiming more is lying. */
    static final long MAX_DEFLATE_RATIO = 1032;

    private NiftiReader() {
    }

    /** A parsed header: what {@code ctcf info} shows and what the voxel reader needs. */
    public record Header(int version, ByteOrder order, int nx, int ny, int nz, int datatypeCode, RawType type,
            long voxOffset, double slope, double intercept, String transformSource, Geometry geometry,
            String description) {

        public long voxelCount() {
            return (long) nx * ny * nz;
        }

        public long dataBytes() {
            return voxelCount() * type.bytes();
        }
    }

    public static Volume read(Path file, ReadOptions options) throws IOException {
        if (isGzip(file)) {
            return readGzip(file, options);
        }
        return readPlain(file, options);
    }

    /** Parses only the header (for {@code ctcf info}); validates it like {@link #read}. */
    public static Header readHeader(Path file, ReadOptions options) throws IOException {
        long size = Files.size(file);
        if (isGzip(file)) {
            try (InputStream in = gzipStream(file)) {
                Header h = parse(file, readHeaderBytes(file, in), options);
                checkGzipBound(file, h, size);
                return h;
            } catch (ZipException | EOFException e) {
                throw new VolumeFormatException(file, "corrupt gzip data in the header: " + e.getMessage(), e);
            }
        }
        try (InputStream in = Files.newInputStream(file)) {
            Header h = parse(file, readHeaderBytes(file, in), options);
            checkPlainSize(file, h, size);
            return h;
        }
    }

    static boolean isGzip(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] magic = in.readNBytes(2);
            return magic.length == 2 && (magic[0] & 0xff) == 0x1f && (magic[1] & 0xff) == 0x8b;
        }
    }

    private static InputStream gzipStream(Path file) throws IOException {
        return new GZIPInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16), 1 << 16);
    }

    private static Volume readPlain(Path file, ReadOptions options) throws IOException {
        long size = Files.size(file);
        Header h;
        try (InputStream in = Files.newInputStream(file)) {
            h = parse(file, readHeaderBytes(file, in), options);
        }
        checkPlainSize(file, h, size);
        Volume v = Volume.allocate(h.geometry());
        boolean ok = false;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, h.voxOffset(), h.dataBytes(), arena);
            VoxelDecoder dec = decoder(file, h);
            v.withSegment(seg -> {
                dec.decode(mapped, h.voxelCount(), seg, 0);
                return null;
            });
            dec.checkFinite(v, options);
            ok = true;
            return v;
        } finally {
            if (!ok) {
                v.close();
            }
        }
    }

    private static Volume readGzip(Path file, ReadOptions options) throws IOException {
        long size = Files.size(file);
        try (InputStream in = gzipStream(file)) {
            byte[] hb = readHeaderBytes(file, in);
            Header h = parse(file, hb, options);
            checkGzipBound(file, h, size);
            long skip = h.voxOffset() - hb.length;
            try {
                in.skipNBytes(skip);
            } catch (EOFException e) {
                throw new VolumeFormatException(file, "truncated: the file ends before vox_offset " + h.voxOffset());
            }
            Volume v = Volume.allocate(h.geometry());
            boolean ok = false;
            try {
                VoxelDecoder dec = decoder(file, h);
                IOException[] failure = new IOException[1];
                v.withSegment(seg -> {
                    try {
                        dec.decode(in, h.voxelCount(), seg);
                    } catch (IOException e) {
                        failure[0] = e;
                    }
                    return null;
                });
                if (failure[0] != null) {
                    throw failure[0];
                }
                dec.checkFinite(v, options);
                ok = true;
                return v;
            } finally {
                if (!ok) {
                    v.close();
                }
            }
        } catch (ZipException | EOFException e) {
            throw new VolumeFormatException(file, "corrupt or truncated gzip data: " + e.getMessage(), e);
        }
    }

    private static VoxelDecoder decoder(Path file, Header h) {
        return new VoxelDecoder(file, h.type(), h.order(), h.slope(), h.intercept());
    }

    private static void checkPlainSize(Path file, Header h, long size) throws VolumeFormatException {
        long need = h.voxOffset() + h.dataBytes();
        if (size < need) {
            throw new VolumeFormatException(file, "truncated: the header describes " + h.dataBytes()
                    + " bytes of voxel data at offset " + h.voxOffset() + " (" + need + " bytes in all) but the file has "
                    + size + " bytes");
        }
    }

    private static void checkGzipBound(Path file, Header h, long size) throws VolumeFormatException {
        long need = h.voxOffset() + h.dataBytes();
        if (need / MAX_DEFLATE_RATIO > size) {
            throw new VolumeFormatException(file, "the header describes " + need + " bytes but a " + size
                    + "-byte gzip file cannot hold more than about " + size * MAX_DEFLATE_RATIO
                    + " (dims or datatype are wrong, or the file is truncated)");
        }
    }

    /** Reads sizeof_hdr, decides version and byte order, and returns the whole fixed header. */
    private static byte[] readHeaderBytes(Path file, InputStream in) throws IOException {
        byte[] first = in.readNBytes(4);
        if (first.length < 4) {
            throw new VolumeFormatException(file, "truncated: " + first.length + " bytes, too short for a NIfTI header");
        }
        int le = ByteBuffer.wrap(first).order(ByteOrder.LITTLE_ENDIAN).getInt();
        int be = ByteBuffer.wrap(first).order(ByteOrder.BIG_ENDIAN).getInt();
        int total;
        if (le == 348 || be == 348) {
            total = 348;
        } else if (le == 540 || be == 540) {
            total = 540;
        } else {
            throw new VolumeFormatException(file, "not a NIfTI file: sizeof_hdr is " + le
                    + " (expected 348 for NIfTI-1 or 540 for NIfTI-2)");
        }
        byte[] rest = in.readNBytes(total - 4);
        if (rest.length < total - 4) {
            throw new VolumeFormatException(file, "truncated: the file ends inside the " + total + "-byte header");
        }
        byte[] all = new byte[total];
        System.arraycopy(first, 0, all, 0, 4);
        System.arraycopy(rest, 0, all, 4, rest.length);
        return all;
    }

    static Header parse(Path file, byte[] hb, ReadOptions options) throws VolumeFormatException {
        ByteBuffer b = ByteBuffer.wrap(hb);
        b.order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt(0) != hb.length) {
            b.order(ByteOrder.BIG_ENDIAN);
        }
        boolean v2 = hb.length == 540;
        String magic = new String(hb, v2 ? 4 : 344, 4, StandardCharsets.ISO_8859_1);
        if (v2) {
            if (!magic.equals("n+2\0")) {
                throw new VolumeFormatException(file, magic.equals("ni2\0")
                        ? "a NIfTI-2 .hdr/.img pair is not supported; convert it to a single .nii file"
                        : "bad NIfTI-2 magic '" + printable(magic) + "'");
            }
        } else if (!magic.equals("n+1\0")) {
            throw new VolumeFormatException(file, magic.equals("ni1\0")
                    ? "a NIfTI-1 .hdr/.img pair is not supported; convert it to a single .nii file"
                    : "bad NIfTI-1 magic '" + printable(magic) + "' (ANALYZE 7.5 files are not supported)");
        }

        long[] dim = new long[8];
        double[] pixdim = new double[8];
        for (int i = 0; i < 8; i++) {
            dim[i] = v2 ? b.getLong(16 + 8 * i) : b.getShort(40 + 2 * i);
            pixdim[i] = v2 ? b.getDouble(104 + 8 * i) : b.getFloat(76 + 4 * i);
        }
        int datatype = v2 ? b.getShort(12) : b.getShort(70);
        int bitpix = v2 ? b.getShort(14) : b.getShort(72);
        double voxOffsetRaw = v2 ? b.getLong(168) : b.getFloat(108);
        double slope = v2 ? b.getDouble(176) : b.getFloat(112);
        double inter = v2 ? b.getDouble(184) : b.getFloat(116);
        int qformCode = v2 ? b.getInt(344) : b.getShort(252);
        int sformCode = v2 ? b.getInt(348) : b.getShort(254);
        double[] quat = new double[6];
        double[] srow = new double[12];
        for (int i = 0; i < 6; i++) {
            quat[i] = v2 ? b.getDouble(352 + 8 * i) : b.getFloat(256 + 4 * i);
        }
        for (int i = 0; i < 12; i++) {
            srow[i] = v2 ? b.getDouble(400 + 8 * i) : b.getFloat(280 + 4 * i);
        }
        String descrip = cString(hb, v2 ? 240 : 148, 80);

        if (dim[0] < 1 || dim[0] > 7) {
            throw new VolumeFormatException(file, "dim[0] = " + dim[0] + " is outside 1..7");
        }
        long[] n = {1, 1, 1};
        for (int i = 1; i <= dim[0]; i++) {
            if (dim[i] < 1) {
                throw new VolumeFormatException(file, "dim[" + i + "] = " + dim[i] + " (every used dim must be >= 1)");
            }
            if (i <= 3) {
                n[i - 1] = dim[i];
            } else if (dim[i] != 1) {
                throw new VolumeFormatException(file, "dim[" + i + "] = " + dim[i]
                        + ": the file holds more than one 3D volume; ctcf reads single 3D volumes");
            }
        }
        long count;
        try {
            count = Math.multiplyExact(Math.multiplyExact(n[0], n[1]), n[2]);
        } catch (ArithmeticException e) {
            throw new VolumeFormatException(file, "dims " + n[0] + "x" + n[1] + "x" + n[2] + " overflow a voxel count");
        }
        if (count > options.maxVoxels() || n[0] > Integer.MAX_VALUE || n[1] > Integer.MAX_VALUE
                || n[2] > Integer.MAX_VALUE) {
            throw new VolumeFormatException(file, "dims " + n[0] + "x" + n[1] + "x" + n[2] + " = " + count
                    + " voxels exceed the limit of " + options.maxVoxels() + " (--max-voxels N raises it)");
        }

        RawType type = switch (datatype) {
            case 2 -> RawType.UINT8;
            case 4 -> RawType.INT16;
            case 8 -> RawType.INT32;
            case 16 -> RawType.FLOAT32;
            case 64 -> RawType.FLOAT64;
            case 256 -> RawType.INT8;
            case 512 -> RawType.UINT16;
            case 768 -> RawType.UINT32;
            default -> throw new VolumeFormatException(file, "unsupported datatype " + datatype + " ("
                    + datatypeName(datatype) + "); ctcf reads int8/uint8/int16/uint16/int32/uint32/float32/float64");
        };
        if (bitpix != type.bytes() * 8) {
            throw new VolumeFormatException(file, "bitpix " + bitpix + " does not match datatype " + datatype
                    + " (" + type + " has " + type.bytes() * 8 + " bits)");
        }
        if (!Double.isFinite(voxOffsetRaw) || voxOffsetRaw < hb.length || voxOffsetRaw != Math.floor(voxOffsetRaw)
                || voxOffsetRaw > (1L << 40)) {
            throw new VolumeFormatException(file, "vox_offset " + voxOffsetRaw + " is not a whole byte offset >= "
                    + hb.length);
        }
        long voxOffset = (long) voxOffsetRaw;

        // Scaling: a slope of 0 or NaN means "no scaling" (NIfTI-1 spec).
        if (slope == 0.0 || Double.isNaN(slope)) {
            slope = 1.0;
            inter = 0.0;
        } else if (Double.isInfinite(slope) || !Double.isFinite(inter)) {
            throw new VolumeFormatException(file, "scl_slope " + slope + " / scl_inter " + inter + " are not finite");
        }

        double qfac = pixdim[0] < 0 ? -1.0 : 1.0;
        double[] affine;
        String source;
        if (sformCode > 0) {
            affine = new double[16];
            System.arraycopy(srow, 0, affine, 0, 12);
            affine[15] = 1;
            source = "sform (code " + sformCode + ")";
        } else if (qformCode > 0) {
            checkPixdim(file, pixdim, n);
            affine = quaternToAffine(quat, qfac, pixdim);
            source = "qform (code " + qformCode + ")";
        } else {
            checkPixdim(file, pixdim, n);
            affine = new double[] {Math.abs(pixdim[1]), 0, 0, 0, 0, Math.abs(pixdim[2]), 0, 0, 0, 0,
                Math.abs(pixdim[3]), 0, 0, 0, 0, 1};
            source = "pixdim (no qform/sform)";
        }
        if (!Affine.isFinite(affine)) {
            throw new VolumeFormatException(file, "the " + source + " affine has non-finite entries");
        }
        if (Affine.det3(affine) == 0.0) {
            throw new VolumeFormatException(file, "the " + source + " affine is singular:\n" + Affine.format(affine));
        }
        NiftiTransform hint = new NiftiTransform(qformCode, sformCode, quat[0], quat[1], quat[2], quat[3], quat[4],
                quat[5], qfac, pixdim[1], pixdim[2], pixdim[3], srow, affine.clone());
        Geometry g = new Geometry((int) n[0], (int) n[1], (int) n[2], affine, hint);
        return new Header(v2 ? 2 : 1, b.order(), (int) n[0], (int) n[1], (int) n[2], datatype, type, voxOffset, slope,
                inter, source, g, descrip);
    }

    private static void checkPixdim(Path file, double[] pixdim, long[] n) throws VolumeFormatException {
        for (int i = 1; i <= 3; i++) {
            if (!Double.isFinite(pixdim[i]) || pixdim[i] == 0.0) {
                throw new VolumeFormatException(file, "pixdim[" + i + "] = " + pixdim[i]
                        + " is not a usable voxel size (and no sform is set)");
            }
        }
    }

    /** The qform affine (NIfTI-1 method 2): rotation from the quaternion, scaled by pixdim, qfac on z. */
    static double[] quaternToAffine(double[] q, double qfac, double[] pixdim) {
        double b = q[0];
        double c = q[1];
        double d = q[2];
        double a2 = 1.0 - (b * b + c * c + d * d);
        double a;
        if (a2 < 1e-7) { // a rotation of 180 degrees: renormalise (b, c, d), a = 0
            double s = Math.sqrt(b * b + c * c + d * d);
            b /= s;
            c /= s;
            d /= s;
            a = 0;
        } else {
            a = Math.sqrt(a2);
        }
        double[][] r = {
            {a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)},
            {2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)},
            {2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b}};
        double[] s = {Math.abs(pixdim[1]), Math.abs(pixdim[2]), Math.abs(pixdim[3]) * qfac};
        double[] m = new double[16];
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                m[i * 4 + j] = r[i][j] * s[j];
            }
            m[i * 4 + 3] = q[3 + i];
        }
        m[15] = 1;
        return m;
    }

    static String datatypeName(int code) {
        return switch (code) {
            case 0 -> "unknown";
            case 1 -> "binary";
            case 32 -> "complex64";
            case 128 -> "rgb24";
            case 1024 -> "int64";
            case 1280 -> "uint64";
            case 1536 -> "float128";
            case 1792 -> "complex128";
            case 2048 -> "complex256";
            case 2304 -> "rgba32";
            default -> "not a NIfTI datatype";
        };
    }

    private static String cString(byte[] b, int off, int len) {
        int end = off;
        while (end < off + len && b[end] != 0) {
            end++;
        }
        return new String(b, off, end - off, StandardCharsets.ISO_8859_1).trim();
    }

    private static String printable(String s) {
        StringBuilder sb = new StringBuilder();
        for (char ch : s.toCharArray()) {
            sb.append(ch >= 32 && ch < 127 ? String.valueOf(ch) : String.format("\\x%02x", (int) ch));
        }
        return sb.toString();
    }
}
