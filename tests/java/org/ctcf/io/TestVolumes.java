package org.ctcf.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPOutputStream;

/**
 * Generators for small NIfTI-1/2 and MetaImage files with chosen datatype, byte order, scaling and transform,
 * written from the format specifications. Values are {@code value(i) = pattern(i)} for a simple, known pattern.
 */
public final class TestVolumes {
    private TestVolumes() {
    }

    /** The value generated at linear index i (fits every datatype after scaling is undone). */
    public static double pattern(long i) {
        return (i * 7) % 100;
    }

    /** Options for a generated NIfTI file. */
    public static final class Nifti {
        public int version = 1;
        public ByteOrder order = ByteOrder.LITTLE_ENDIAN;
        public int datatype = 4; // int16
        public int nx = 5;
        public int ny = 4;
        public int nz = 3;
        public float slope = 1;
        public float inter = 0;
        public int qformCode = 0;
        public int sformCode = 1;
        public double[] quatern = {0, 0, 0, 10, 20, 30};
        public double qfac = 1;
        public double[] pixdim = {1.5, 2.0, 2.5};
        public double[] srow = {-1.5, 0, 0, 10, 0, -2.0, 0, 20, 0, 0, 2.5, 30};
        public Double nanAt = null; // value to put at index 0 (e.g. NaN) for float types

        public int bytesPerVoxel() {
            return switch (datatype) {
                case 2, 256 -> 1;
                case 4, 512 -> 2;
                case 8, 16, 768 -> 4;
                case 64 -> 8;
                default -> 1;
            };
        }

        public byte[] bytes() {
            int hdr = version == 1 ? 348 : 540;
            int voxOffset = version == 1 ? 352 : 544;
            long n = (long) nx * ny * nz;
            ByteBuffer b = ByteBuffer.allocate((int) (voxOffset + n * bytesPerVoxel())).order(order);
            b.putInt(0, hdr);
            if (version == 1) {
                short[] dim = {3, (short) nx, (short) ny, (short) nz, 1, 1, 1, 1};
                for (int i = 0; i < 8; i++) {
                    b.putShort(40 + 2 * i, dim[i]);
                }
                b.putShort(70, (short) datatype);
                b.putShort(72, (short) (bytesPerVoxel() * 8));
                float[] pd = {(float) qfac, (float) pixdim[0], (float) pixdim[1], (float) pixdim[2], 1, 0, 0, 0};
                for (int i = 0; i < 8; i++) {
                    b.putFloat(76 + 4 * i, pd[i]);
                }
                b.putFloat(108, voxOffset);
                b.putFloat(112, slope);
                b.putFloat(116, inter);
                b.putShort(252, (short) qformCode);
                b.putShort(254, (short) sformCode);
                for (int i = 0; i < 6; i++) {
                    b.putFloat(256 + 4 * i, (float) quatern[i]);
                }
                for (int i = 0; i < 12; i++) {
                    b.putFloat(280 + 4 * i, (float) srow[i]);
                }
                b.put(344, "n+1\0".getBytes(StandardCharsets.US_ASCII));
            } else {
                b.put(4, "n+2\0\r\n\032\n".getBytes(StandardCharsets.ISO_8859_1));
                b.putShort(12, (short) datatype);
                b.putShort(14, (short) (bytesPerVoxel() * 8));
                long[] dim = {3, nx, ny, nz, 1, 1, 1, 1};
                for (int i = 0; i < 8; i++) {
                    b.putLong(16 + 8 * i, dim[i]);
                }
                double[] pd = {qfac, pixdim[0], pixdim[1], pixdim[2], 1, 0, 0, 0};
                for (int i = 0; i < 8; i++) {
                    b.putDouble(104 + 8 * i, pd[i]);
                }
                b.putLong(168, voxOffset);
                b.putDouble(176, slope);
                b.putDouble(184, inter);
                b.putInt(344, qformCode);
                b.putInt(348, sformCode);
                for (int i = 0; i < 6; i++) {
                    b.putDouble(352 + 8 * i, quatern[i]);
                }
                for (int i = 0; i < 12; i++) {
                    b.putDouble(400 + 8 * i, srow[i]);
                }
            }
            for (long i = 0; i < n; i++) {
                double v = pattern(i);
                int at = (int) (voxOffset + i * bytesPerVoxel());
                switch (datatype) {
                    case 2, 256 -> b.put(at, (byte) v);
                    case 4, 512 -> b.putShort(at, (short) v);
                    case 8, 768 -> b.putInt(at, (int) v);
                    case 16 -> b.putFloat(at, i == 0 && nanAt != null ? nanAt.floatValue() : (float) v);
                    case 64 -> b.putDouble(at, i == 0 && nanAt != null ? nanAt : v);
                    default -> throw new IllegalArgumentException("datatype " + datatype);
                }
            }
            return b.array();
        }
    }

    public static byte[] gzip(byte[] data) {
        try {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            try (GZIPOutputStream gz = new GZIPOutputStream(bos)) {
                gz.write(data);
            }
            return bos.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static byte[] zlib(byte[] data) {
        try {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            try (DeflaterOutputStream z = new DeflaterOutputStream(bos)) {
                z.write(data);
            }
            return bos.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A MetaImage header (ElementDataFile last) for a 3D short image of the pattern. */
    public static String mhaHeader(int nx, int ny, int nz, boolean compressed, boolean msb, String dataFile,
            long compressedSize) {
        return "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = " + (msb ? "True" : "False")
                + "\nCompressedData = " + (compressed ? "True" : "False") + "\n"
                + (compressed ? "CompressedDataSize = " + compressedSize + "\n" : "")
                + "TransformMatrix = 1 0 0 0 1 0 0 0 1\nOffset = -10 -20 30\nElementSpacing = 0.5 0.75 2\n"
                + "DimSize = " + nx + " " + ny + " " + nz + "\nElementType = MET_SHORT\nElementDataFile = " + dataFile
                + "\n";
    }

    /** Raw int16 pattern voxels. */
    public static byte[] shortData(int n, ByteOrder order) {
        ByteBuffer b = ByteBuffer.allocate(2 * n).order(order);
        for (int i = 0; i < n; i++) {
            b.putShort((short) pattern(i));
        }
        return b.array();
    }

    /** A complete .mha file (header + data). */
    public static byte[] mha(int nx, int ny, int nz, boolean compressed, boolean msb) {
        byte[] data = shortData(nx * ny * nz, msb ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        if (compressed) {
            data = zlib(data);
        }
        byte[] h = mhaHeader(nx, ny, nz, compressed, msb, "LOCAL", data.length).getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[h.length + data.length];
        System.arraycopy(h, 0, all, 0, h.length);
        System.arraycopy(data, 0, all, h.length, data.length);
        return all;
    }
}
