package org.ctcf.io;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.zip.Inflater;
import java.util.zip.InflaterInputStream;
import java.util.zip.ZipException;

import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;

/**
 * Reads MetaImage volumes: {@code .mha} (header and data in one file) and {@code .mhd} with a separate raw file,
 * zlib-compressed or not. MetaImage world coordinates are LPS (ITK); the geometry is converted to the RAS+
 * affine NIfTI uses. {@code TransformMatrix} lists the direction of each voxel axis in turn (ITK's order).
 */
public final class MetaImageReader {
    private static final int MAX_HEADER_BYTES = 1 << 16;

    private MetaImageReader() {
    }

    /** The parsed header. {@code dataFile} is where voxels live; {@code dataOffset} the byte they start at. */
    public record Header(int nx, int ny, int nz, RawType type, ByteOrder order, boolean compressed,
            long compressedSize, Path dataFile, long dataOffset, Geometry geometry, String elementType) {
        public long voxelCount() {
            return (long) nx * ny * nz;
        }

        public long dataBytes() {
            return voxelCount() * type.bytes();
        }
    }

    public static Volume read(Path file, ReadOptions options) throws IOException {
        Header h = readHeader(file, options);
        Volume v = Volume.allocate(h.geometry());
        boolean ok = false;
        try {
            VoxelDecoder dec = new VoxelDecoder(file, h.type(), h.order(), 1.0, 0.0);
            if (h.compressed()) {
                try (InputStream raw = Files.newInputStream(h.dataFile())) {
                    raw.skipNBytes(h.dataOffset());
                    InputStream in = new InflaterInputStream(new BufferedInputStream(raw, 1 << 16), new Inflater(),
                            1 << 16);
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
                } catch (ZipException | EOFException e) {
                    throw new VolumeFormatException(file, "corrupt or truncated zlib data: " + e.getMessage(), e);
                }
            } else {
                try (FileChannel ch = FileChannel.open(h.dataFile(), StandardOpenOption.READ);
                        Arena arena = Arena.ofConfined()) {
                    MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, h.dataOffset(), h.dataBytes(), arena);
                    v.withSegment(seg -> {
                        dec.decode(mapped, h.voxelCount(), seg, 0);
                        return null;
                    });
                }
            }
            dec.checkFinite(v, options);
            ok = true;
            return v;
        } finally {
            if (!ok) {
                v.close();
            }
        }
    }

    /**
     * The data file of a MetaImage header {@code file} when it is a separate file (a {@code .mhd} and its raw
     * data), else null (a {@code .mha}, not a MetaImage header, or unreadable: the read reported that already).
     */
    public static Path separateDataFile(Path file) {
        String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (!name.endsWith(".mhd") && !name.endsWith(".mha")) {
            return null;
        }
        try {
            Header h = readHeader(file, ReadOptions.defaults());
            return h.dataFile().equals(file) ? null : h.dataFile();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    public static Header readHeader(Path file, ReadOptions options) throws IOException {
        Map<String, String> kv = new LinkedHashMap<>();
        long dataStart;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
            StringBuilder line = new StringBuilder();
            long pos = 0;
            boolean done = false;
            while (!done) {
                int c = in.read();
                if (c < 0) {
                    throw new VolumeFormatException(file, kv.isEmpty()
                            ? "not a MetaImage file: no 'Key = Value' header" : "truncated: the header has no ElementDataFile line");
                }
                pos++;
                if (pos > MAX_HEADER_BYTES) {
                    throw new VolumeFormatException(file, "not a MetaImage file: no header end within "
                            + MAX_HEADER_BYTES + " bytes");
                }
                if (c == '\n') {
                    String text = line.toString().strip();
                    line.setLength(0);
                    if (text.isEmpty()) {
                        continue;
                    }
                    int eq = text.indexOf('=');
                    if (eq <= 0) {
                        throw new VolumeFormatException(file, "not a MetaImage file: header line '"
                                + abbreviate(text) + "' is not 'Key = Value'");
                    }
                    String key = text.substring(0, eq).strip();
                    kv.put(key, text.substring(eq + 1).strip());
                    if (key.equals("ElementDataFile")) {
                        done = true;
                    }
                } else if (c != '\r') {
                    if (c < 9 || (c > 13 && c < 32)) {
                        throw new VolumeFormatException(file, "not a MetaImage file: binary data in the header");
                    }
                    line.append((char) c);
                }
            }
            dataStart = pos;
        }

        if (kv.containsKey("ObjectType") && !kv.get("ObjectType").equalsIgnoreCase("Image")) {
            throw new VolumeFormatException(file, "ObjectType " + kv.get("ObjectType") + " is not an Image");
        }
        int ndims = parseInt(file, kv, "NDims");
        if (ndims < 2 || ndims > 3) {
            throw new VolumeFormatException(file, "NDims = " + ndims + "; ctcf reads 2D and 3D images");
        }
        long[] size = parseLongs(file, kv, "DimSize", ndims);
        long[] n = {size[0], size[1], ndims == 3 ? size[2] : 1};
        for (int i = 0; i < 3; i++) {
            if (n[i] < 1) {
                throw new VolumeFormatException(file, "DimSize[" + i + "] = " + n[i] + " (must be >= 1)");
            }
        }
        long count;
        try {
            count = Math.multiplyExact(Math.multiplyExact(n[0], n[1]), n[2]);
        } catch (ArithmeticException e) {
            throw new VolumeFormatException(file, "DimSize overflows a voxel count");
        }
        if (count > options.maxVoxels() || n[0] > Integer.MAX_VALUE || n[1] > Integer.MAX_VALUE
                || n[2] > Integer.MAX_VALUE) {
            throw new VolumeFormatException(file, "DimSize gives " + count + " voxels, over the limit of "
                    + options.maxVoxels() + " (--max-voxels N raises it)");
        }
        String channels = kv.getOrDefault("ElementNumberOfChannels", "1");
        if (!channels.equals("1")) {
            throw new VolumeFormatException(file, "ElementNumberOfChannels = " + channels + "; ctcf reads scalar images");
        }
        if (kv.containsKey("BinaryData") && !isTrue(kv.get("BinaryData"))) {
            throw new VolumeFormatException(file, "ASCII MetaImage data (BinaryData = False) is not supported");
        }
        String et = kv.get("ElementType");
        if (et == null) {
            throw new VolumeFormatException(file, "missing ElementType");
        }
        RawType type = switch (et.toUpperCase(Locale.ROOT)) {
            case "MET_CHAR" -> RawType.INT8;
            case "MET_UCHAR" -> RawType.UINT8;
            case "MET_SHORT" -> RawType.INT16;
            case "MET_USHORT" -> RawType.UINT16;
            case "MET_INT", "MET_LONG" -> RawType.INT32;
            case "MET_UINT", "MET_ULONG" -> RawType.UINT32;
            case "MET_FLOAT" -> RawType.FLOAT32;
            case "MET_DOUBLE" -> RawType.FLOAT64;
            default -> throw new VolumeFormatException(file, "unsupported ElementType " + et);
        };
        String msb = kv.getOrDefault("BinaryDataByteOrderMSB", kv.getOrDefault("ElementByteOrderMSB", "False"));
        ByteOrder order = isTrue(msb) ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;

        double[] spacing = kv.containsKey("ElementSpacing") ? parseDoubles(file, kv, "ElementSpacing", ndims)
                : kv.containsKey("ElementSize") ? parseDoubles(file, kv, "ElementSize", ndims) : new double[] {1, 1, 1};
        double[] sp = {spacing[0], spacing[1], ndims == 3 ? spacing[2] : 1.0};
        for (int i = 0; i < 3; i++) {
            if (!Double.isFinite(sp[i]) || sp[i] <= 0) {
                throw new VolumeFormatException(file, "ElementSpacing[" + i + "] = " + sp[i] + " (must be > 0)");
            }
        }
        double[] origin = {0, 0, 0};
        for (String key : new String[] {"Offset", "Origin", "Position"}) {
            if (kv.containsKey(key)) {
                double[] o = parseDoubles(file, kv, key, ndims);
                System.arraycopy(o, 0, origin, 0, ndims);
                break;
            }
        }
        double[][] dir = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}; // dir[axis] = direction (LPS) of that voxel axis
        for (String key : new String[] {"TransformMatrix", "Rotation", "Orientation"}) {
            if (kv.containsKey(key)) {
                double[] m = parseDoubles(file, kv, key, ndims * ndims);
                for (int axis = 0; axis < ndims; axis++) {
                    for (int w = 0; w < ndims; w++) {
                        dir[axis][w] = m[axis * ndims + w];
                    }
                }
                break;
            }
        }
        // LPS -> RAS: negate world x and y.
        double[] flip = {-1, -1, 1};
        double[] affine = new double[16];
        for (int w = 0; w < 3; w++) {
            for (int axis = 0; axis < 3; axis++) {
                affine[w * 4 + axis] = flip[w] * dir[axis][w] * sp[axis] + 0.0; // + 0.0 turns -0 into 0
            }
            affine[w * 4 + 3] = flip[w] * origin[w] + 0.0;
        }
        affine[15] = 1;
        Geometry g;
        try {
            g = new Geometry((int) n[0], (int) n[1], (int) n[2], affine);
        } catch (IllegalArgumentException e) {
            throw new VolumeFormatException(file, "bad geometry: " + e.getMessage());
        }

        String dataName = kv.get("ElementDataFile");
        Path dataFile;
        long offset;
        if (dataName.equalsIgnoreCase("LOCAL")) {
            dataFile = file;
            offset = dataStart;
        } else if (dataName.equalsIgnoreCase("LIST") || dataName.contains("%")) {
            throw new VolumeFormatException(file, "ElementDataFile = " + dataName
                    + ": multi-file MetaImage data are not supported");
        } else {
            Path parent = file.toAbsolutePath().getParent();
            dataFile = parent.resolve(dataName).normalize();
            options.checkConfined(file, dataName, dataFile);
            if (!Files.isRegularFile(dataFile)) {
                throw new VolumeFormatException(file, "ElementDataFile " + dataName + " not found (looked for "
                        + dataFile + ")");
            }
            offset = 0;
        }
        boolean compressed = isTrue(kv.getOrDefault("CompressedData", "False"));
        long fileSize = Files.size(dataFile);
        long dataBytes = count * type.bytes();
        long headerSize = kv.containsKey("HeaderSize") ? parseLongs(file, kv, "HeaderSize", 1)[0] : 0;
        if (!compressed) {
            if (headerSize == -1) {
                offset = fileSize - dataBytes; // data at the end of the file
            } else if (headerSize > 0) {
                offset += headerSize;
            }
            if (offset < 0 || fileSize - offset < dataBytes) {
                throw new VolumeFormatException(file, "truncated: " + dataBytes + " bytes of voxel data expected"
                        + (dataFile.equals(file) ? "" : " in " + dataFile) + " but " + Math.max(0, fileSize - offset)
                        + " bytes are there");
            }
        } else {
            if (headerSize > 0) {
                offset += headerSize;
            }
            long available = fileSize - offset;
            long declared = kv.containsKey("CompressedDataSize")
                    ? parseLongs(file, kv, "CompressedDataSize", 1)[0] : available;
            if (declared > available) {
                throw new VolumeFormatException(file, "truncated: CompressedDataSize is " + declared
                        + " bytes but only " + available + " follow the header");
            }
            if (dataBytes / NiftiReader.MAX_DEFLATE_RATIO > available) {
                throw new VolumeFormatException(file, "DimSize/ElementType describe " + dataBytes
                        + " bytes but " + available + " compressed bytes cannot hold that many");
            }
        }
        return new Header((int) n[0], (int) n[1], (int) n[2], type, order, compressed,
                compressed ? fileSize - offset : dataBytes, dataFile, offset, g, et);
    }

    private static boolean isTrue(String s) {
        return s.equalsIgnoreCase("True") || s.equals("1");
    }

    private static int parseInt(Path file, Map<String, String> kv, String key) throws VolumeFormatException {
        return (int) parseLongs(file, kv, key, 1)[0];
    }

    private static long[] parseLongs(Path file, Map<String, String> kv, String key, int count)
            throws VolumeFormatException {
        String v = kv.get(key);
        if (v == null) {
            throw new VolumeFormatException(file, "missing " + key);
        }
        String[] parts = v.trim().split("\\s+");
        if (parts.length < count) {
            throw new VolumeFormatException(file, key + " = '" + abbreviate(v) + "' has " + parts.length
                    + " values, " + count + " expected");
        }
        long[] r = new long[count];
        for (int i = 0; i < count; i++) {
            try {
                r[i] = Long.parseLong(parts[i]);
            } catch (NumberFormatException e) {
                throw new VolumeFormatException(file, key + " value '" + abbreviate(parts[i]) + "' is not an integer");
            }
        }
        return r;
    }

    private static double[] parseDoubles(Path file, Map<String, String> kv, String key, int count)
            throws VolumeFormatException {
        String v = kv.get(key);
        String[] parts = v.trim().split("\\s+");
        if (parts.length < count) {
            throw new VolumeFormatException(file, key + " = '" + abbreviate(v) + "' has " + parts.length
                    + " values, " + count + " expected");
        }
        double[] r = new double[count];
        for (int i = 0; i < count; i++) {
            try {
                r[i] = Double.parseDouble(parts[i]);
            } catch (NumberFormatException e) {
                throw new VolumeFormatException(file, key + " value '" + abbreviate(parts[i]) + "' is not a number");
            }
            if (!Double.isFinite(r[i])) {
                throw new VolumeFormatException(file, key + " value " + parts[i] + " is not finite");
            }
        }
        return r;
    }

    private static String abbreviate(String s) {
        String t = new String(s.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8);
        return t.length() > 60 ? t.substring(0, 60) + "…" : t;
    }
}
