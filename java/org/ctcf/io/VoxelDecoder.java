package org.ctcf.io;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.file.Path;

import org.ctcf.core.Volume;

/**
 * Converts raw voxels (any {@link RawType}, either byte order, optional linear scaling) into a volume's off-heap
 * float32 segment, from a mapped segment or a stream read in small chunks (never the whole file on the heap),
 * and counts non-finite results.
 */
final class VoxelDecoder {
    private static final int CHUNK = 1 << 16;

    private final Path file;
    private final RawType type;
    private final boolean big;
    private final double slope;
    private final double intercept;
    private final boolean scaled;
    private long nonFinite;
    private long firstNonFinite = -1;

    VoxelDecoder(Path file, RawType type, ByteOrder order, double slope, double intercept) {
        this.file = file;
        this.type = type;
        this.big = order == ByteOrder.BIG_ENDIAN;
        this.slope = slope;
        this.intercept = intercept;
        this.scaled = !(slope == 1.0 && intercept == 0.0);
    }

    /** Decodes {@code count} packed elements of {@code src} into {@code dst} starting at float index {@code at}. */
    void decode(MemorySegment src, long count, MemorySegment dst, long at) {
        for (long i = 0; i < count; i++) {
            double v = type.read(src, i, big);
            if (scaled) {
                v = v * slope + intercept;
            }
            float f = (float) v;
            if (!Float.isFinite(f)) {
                if (firstNonFinite < 0) {
                    firstNonFinite = at + i;
                }
                nonFinite++;
            }
            dst.setAtIndex(JAVA_FLOAT, at + i, f);
        }
    }

    /** Reads exactly {@code count} elements from {@code in} into {@code dst}; a short stream is a clear error. */
    void decode(InputStream in, long count, MemorySegment dst) throws IOException {
        int elem = type.bytes();
        byte[] buf = new byte[CHUNK - CHUNK % elem];
        MemorySegment bufSeg = MemorySegment.ofArray(buf);
        long done = 0;
        while (done < count) {
            int want = (int) Math.min(buf.length, (count - done) * elem);
            int got = 0;
            try {
                while (got < want) {
                    int r = in.read(buf, got, want - got);
                    if (r < 0) {
                        break;
                    }
                    got += r;
                }
            } catch (EOFException e) {
                // same as r < 0 below
            } catch (java.util.zip.ZipException e) {
                throw new VolumeFormatException(file, "compressed voxel data is corrupt after " + (done * elem)
                        + " bytes: " + e.getMessage(), e);
            }
            if (got < want) {
                long have = done * elem + got;
                throw new VolumeFormatException(file, "truncated: voxel data ends after " + have + " of "
                        + count * elem + " bytes");
            }
            decode(bufSeg, want / elem, dst, done);
            done += want / elem;
        }
    }

    /** Throws when non-finite voxels were seen and the options do not allow them. */
    void checkFinite(Volume v, ReadOptions options) throws VolumeFormatException {
        if (nonFinite > 0 && !options.allowNonFinite()) {
            long i = firstNonFinite;
            long x = i % v.nx();
            long y = (i / v.nx()) % v.ny();
            long z = i / ((long) v.nx() * v.ny());
            throw new VolumeFormatException(file, nonFinite + " voxel(s) are NaN or infinite (first at x=" + x
                    + ", y=" + y + ", z=" + z + ")");
        }
    }
}
