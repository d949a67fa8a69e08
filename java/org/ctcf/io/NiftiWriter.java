package org.ctcf.io;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;

import org.ctcf.core.Affine;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;

/**
 * Writes a volume as NIfTI-1 float32 ({@code .nii.gz} compressed, {@code .nii} plain), little-endian.
 *
 * <p>Geometry: when the volume's geometry carries the {@link NiftiTransform} it was read with and the affine is
 * unchanged, the stored qform/sform fields are written back verbatim, so the file's affine equals the input's bit
 * for bit. Otherwise sform (code 1, scanner) = the affine, and the qform is its closest rotation.
 *
 * <p>The file appears atomically: data go to a temporary file in the same directory which is renamed at the end,
 * so an interrupted write never leaves a file that looks complete.
 */
public final class NiftiWriter {
    private static final int HEADER = 348;
    private static final int VOX_OFFSET = 352;

    private NiftiWriter() {
    }

    public static void write(Volume volume, Path file) throws IOException {
        boolean gzip = file.getFileName().toString().endsWith(".gz");
        AtomicFiles.write(file, out -> writeTo(volume, gzip, out));
    }

    /**
     * The bytes {@link #write} puts in a file ({@code .nii.gz} with {@code gzip}), for a caller that both writes
     * and embeds them (the report) without reading the file back.
     */
    public static byte[] encode(Volume volume, boolean gzip) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        writeTo(volume, gzip, bytes);
        return bytes.toByteArray();
    }

    /**
     * A 4-D NIfTI of {@code frames} on {@code grid} (each frame {@code grid.voxelCount()} values in [0, 1], voxel
     * order), stored as unsigned bytes with {@code scl_slope} 1/255 so that readers see the [0, 1] values: a
     * display-resolution copy (the report's sweep frames), not a file for analysis.
     */
    public static byte[] encodeFrames(Geometry grid, java.util.List<float[]> frames, boolean gzip) throws IOException {
        long n = grid.voxelCount();
        if (frames.isEmpty() || frames.size() > Short.MAX_VALUE) {
            throw new IllegalArgumentException("a 4-D volume needs 1.." + Short.MAX_VALUE + " frames, got "
                    + frames.size());
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream out = gzip ? fastGzip(bytes) : bytes) {
            ByteBuffer h = ByteBuffer.wrap(header(grid)).order(ByteOrder.LITTLE_ENDIAN);
            h.putShort(40, (short) 4);
            h.putShort(48, (short) frames.size());
            h.putShort(70, (short) 2); // uint8
            h.putShort(72, (short) 8);
            h.putFloat(112, 1f / 255f); // scl_slope
            out.write(h.array());
            byte[] buf = new byte[(int) n];
            for (float[] f : frames) {
                if (f.length != n) {
                    throw new IllegalArgumentException("a frame of " + f.length + " values on a grid of " + n);
                }
                for (int i = 0; i < n; i++) {
                    buf[i] = (byte) Math.round(255 * Math.max(0f, Math.min(1f, f[i])));
                }
                out.write(buf);
            }
        }
        return bytes.toByteArray();
    }

    /**
     * {@code volume} rounded to whole numbers and stored as signed 16-bit integers (values outside ±32767 clamped):
     * a display copy of a volume in HU at a quarter of the float size before compression (the report's viewer).
     */
    public static byte[] encodeInt16(Volume volume, boolean gzip) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream out = gzip ? fastGzip(bytes) : bytes) {
            ByteBuffer h = ByteBuffer.wrap(header(volume.geometry())).order(ByteOrder.LITTLE_ENDIAN);
            h.putShort(70, (short) 4); // int16
            h.putShort(72, (short) 16);
            out.write(h.array());
            int plane = volume.nx() * volume.ny();
            ByteBuffer buf = ByteBuffer.allocate(2 * plane).order(ByteOrder.LITTLE_ENDIAN);
            for (int z = 0; z < volume.nz(); z++) {
                float[] p = volume.plane(z);
                buf.clear();
                for (float v : p) {
                    buf.putShort((short) Math.max(-32768, Math.min(32767, Math.round(v))));
                }
                out.write(buf.array(), 0, 2 * plane);
            }
        }
        return bytes.toByteArray();
    }

    private static void writeTo(Volume volume, boolean gzip, OutputStream raw) throws IOException {
        try (OutputStream out = gzip ? fastGzip(raw) : raw) {
            out.write(header(volume.geometry()));
            writeVoxels(volume, out);
        }
    }

    /** gzip at level 1, as nibabel writes: float volumes compress little better at higher levels, much slower. */
    private static OutputStream fastGzip(OutputStream raw) throws IOException {
        return new GZIPOutputStream(raw, 1 << 16) {
            {
                def.setLevel(java.util.zip.Deflater.BEST_SPEED);
            }
        };
    }

    private static void writeVoxels(Volume volume, OutputStream out) throws IOException {
        IOException[] failure = new IOException[1];
        volume.withSegment(seg -> {
            byte[] buf = new byte[1 << 16];
            MemorySegment bufSeg = MemorySegment.ofArray(buf);
            ValueLayout.OfFloat le = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            long n = volume.voxelCount();
            long i = 0;
            try {
                while (i < n) {
                    int count = (int) Math.min(buf.length / 4, n - i);
                    for (int k = 0; k < count; k++) {
                        bufSeg.set(le, 4L * k, seg.getAtIndex(JAVA_FLOAT, i + k));
                    }
                    out.write(buf, 0, count * 4);
                    i += count;
                }
            } catch (IOException e) {
                failure[0] = e;
            }
            return null;
        });
        if (failure[0] != null) {
            throw failure[0];
        }
    }

    static byte[] header(Geometry g) {
        ByteBuffer b = ByteBuffer.allocate(VOX_OFFSET).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, HEADER);
        b.put(39, (byte) 0); // dim_info
        short[] dim = {3, (short) 0, (short) 0, (short) 0, 1, 1, 1, 1};
        int[] d = g.dims();
        for (int i = 0; i < 3; i++) {
            if (d[i] > Short.MAX_VALUE) {
                throw new IllegalArgumentException("NIfTI-1 dims are limited to 32767 per axis, got " + d[i]);
            }
            dim[i + 1] = (short) d[i];
        }
        for (int i = 0; i < 8; i++) {
            b.putShort(40 + 2 * i, dim[i]);
        }
        b.putShort(70, (short) 16); // float32
        b.putShort(72, (short) 32);
        b.putFloat(108, VOX_OFFSET);
        b.putFloat(112, 1f); // scl_slope
        b.putFloat(116, 0f);
        b.put(123, (byte) (2 | 8)); // mm, seconds

        NiftiTransform t = g.sourceHint() instanceof NiftiTransform nt && Arrays.equals(nt.affine(), g.affine())
                ? nt : fromAffine(g.affine());
        float[] pixdim = {(float) t.qfac(), (float) t.pixdimX(), (float) t.pixdimY(), (float) t.pixdimZ(), 1, 1, 1, 1};
        for (int i = 0; i < 8; i++) {
            b.putFloat(76 + 4 * i, pixdim[i]);
        }
        b.putShort(252, (short) t.qformCode());
        b.putShort(254, (short) t.sformCode());
        double[] q = {t.quaternB(), t.quaternC(), t.quaternD(), t.qoffsetX(), t.qoffsetY(), t.qoffsetZ()};
        for (int i = 0; i < 6; i++) {
            b.putFloat(256 + 4 * i, (float) q[i]);
        }
        for (int i = 0; i < 12; i++) {
            b.putFloat(280 + 4 * i, (float) t.srow()[i]);
        }
        byte[] descrip = "ctcf".getBytes(StandardCharsets.US_ASCII);
        b.put(148, descrip);
        b.put(344, "n+1\0".getBytes(StandardCharsets.US_ASCII));
        return b.array(); // bytes 348..351: extension flag 0 (no extensions)
    }

    /** sform = the affine (code 1); qform = its rotation as a quaternion (code 1), qfac for left-handed grids. */
    static NiftiTransform fromAffine(double[] m) {
        double[] s = {Affine.columnNorm(m, 0), Affine.columnNorm(m, 1), Affine.columnNorm(m, 2)};
        double[][] r = new double[3][3];
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                r[i][j] = m[i * 4 + j] / s[j];
            }
        }
        double qfac = 1.0;
        if (Affine.det3(m) < 0) {
            qfac = -1.0;
            for (int i = 0; i < 3; i++) {
                r[i][2] = -r[i][2];
            }
        }
        double a;
        double b;
        double c;
        double d;
        double trace = r[0][0] + r[1][1] + r[2][2] + 1.0;
        if (trace > 0.5) {
            a = 0.5 * Math.sqrt(trace);
            b = 0.25 * (r[2][1] - r[1][2]) / a;
            c = 0.25 * (r[0][2] - r[2][0]) / a;
            d = 0.25 * (r[1][0] - r[0][1]) / a;
        } else {
            double xd = 1.0 + r[0][0] - (r[1][1] + r[2][2]);
            double yd = 1.0 + r[1][1] - (r[0][0] + r[2][2]);
            double zd = 1.0 + r[2][2] - (r[0][0] + r[1][1]);
            if (xd > 1.0) {
                b = 0.5 * Math.sqrt(xd);
                c = 0.25 * (r[0][1] + r[1][0]) / b;
                d = 0.25 * (r[0][2] + r[2][0]) / b;
                a = 0.25 * (r[2][1] - r[1][2]) / b;
            } else if (yd > 1.0) {
                c = 0.5 * Math.sqrt(yd);
                b = 0.25 * (r[0][1] + r[1][0]) / c;
                d = 0.25 * (r[1][2] + r[2][1]) / c;
                a = 0.25 * (r[0][2] - r[2][0]) / c;
            } else {
                d = 0.5 * Math.sqrt(zd);
                b = 0.25 * (r[0][2] + r[2][0]) / d;
                c = 0.25 * (r[1][2] + r[2][1]) / d;
                a = 0.25 * (r[1][0] - r[0][1]) / d;
            }
            if (a < 0) {
                b = -b;
                c = -c;
                d = -d;
            }
        }
        double[] srow = new double[12];
        System.arraycopy(m, 0, srow, 0, 12);
        return new NiftiTransform(1, 1, b, c, d, m[3], m[7], m[11], qfac, s[0], s[1], s[2], srow, m.clone());
    }
}
