package org.ctcf.core;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

import org.ctcf.core.CtcfException.ResourceClosedException;

/**
 * A 3D float32 volume whose voxels live off the Java heap, with its {@link Geometry}.
 *
 * <p>Layout: x fastest, {@code index = x + nx * (y + ny * z)} (the NIfTI on-disk order), so each slice z is one
 * contiguous plane. The native kernel reads and writes the segment in place.
 *
 * <p>Ownership: a {@code Volume} owns its memory and must be closed (try-with-resources). {@link #close()} is
 * idempotent and safe while another thread uses the volume: memory is freed when the last in-flight native call
 * ends, and any later access throws {@link ResourceClosedException}.
 */
public final class Volume implements AutoCloseable {
    private final Geometry geometry;
    private final Arena arena;
    private final MemorySegment voxels;
    private final RefCounted life;

    private Volume(Geometry geometry) {
        this.geometry = Objects.requireNonNull(geometry, "geometry");
        this.arena = Arena.ofShared();
        try {
            this.voxels = arena.allocate(JAVA_FLOAT, geometry.voxelCount());
        } catch (OutOfMemoryError | IllegalArgumentException e) {
            arena.close();
            throw new CtcfException.KernelOutOfMemoryException("cannot allocate " + geometry.voxelCount()
                    + " float32 voxels (" + (geometry.voxelCount() * 4 / (1 << 20)) + " MiB) off-heap: "
                    + e.getMessage());
        }
        this.life = new RefCounted("volume " + geometry, arena::close);
    }

    /** A new zero-filled volume on {@code geometry}. */
    public static Volume allocate(Geometry geometry) {
        return new Volume(geometry);
    }

    /** A new volume on {@code geometry}, every voxel set to {@code value}. */
    /** A new volume holding a copy of {@code voxels} (x fastest; length = the geometry's voxel count). */
    public static Volume of(Geometry geometry, float[] voxels) {
        if (voxels.length != geometry.voxelCount()) {
            throw new IllegalArgumentException(voxels.length + " values for " + geometry);
        }
        Volume v = new Volume(geometry);
        MemorySegment.copy(voxels, 0, v.voxels, JAVA_FLOAT, 0, voxels.length);
        return v;
    }

    public static Volume filled(Geometry geometry, float value) {
        Volume v = new Volume(geometry);
        if (value != 0f) {
            for (long i = 0; i < geometry.voxelCount(); i++) {
                v.voxels.setAtIndex(JAVA_FLOAT, i, value);
            }
        }
        return v;
    }

    public Geometry geometry() {
        return geometry;
    }

    public int nx() {
        return geometry.nx();
    }

    public int ny() {
        return geometry.ny();
    }

    public int nz() {
        return geometry.nz();
    }

    public long voxelCount() {
        return geometry.voxelCount();
    }

    /** A copy with the same voxels on another geometry of the same dims (e.g. a corrected affine). */
    public Volume copyWithGeometry(Geometry g) {
        if (g.nx() != nx() || g.ny() != ny() || g.nz() != nz()) {
            throw new IllegalArgumentException("dims differ: " + g + " vs " + geometry);
        }
        Volume v = new Volume(g);
        try (var lease = life.acquire()) {
            v.voxels.copyFrom(voxels);
        }
        return v;
    }

    /** A copy of this volume with slices [a, a + part.nz()) replaced by {@code part}'s (same in-plane size). */
    public Volume withSlices(int a, Volume part) {
        if (part.nx() != nx() || part.ny() != ny() || a < 0 || a + part.nz() > nz()) {
            throw new IllegalArgumentException(part.geometry() + " does not fit slices from " + a + " of " + geometry);
        }
        Volume v = new Volume(geometry);
        long plane = (long) nx() * ny() * Float.BYTES;
        try (var lease = life.acquire(); var pl = part.life.acquire()) {
            v.voxels.copyFrom(voxels);
            v.voxels.asSlice(a * plane, part.nz() * plane).copyFrom(part.voxels);
        }
        return v;
    }

    /** Slices [a, b) as a new volume, its affine moved so that every voxel keeps its world position. */
    public Volume slices(int a, int b) {
        if (a < 0 || b > nz() || a >= b) {
            throw new IllegalArgumentException("slices [" + a + ", " + b + ") are not inside the volume's " + nz()
                    + " slices");
        }
        double[] m = geometry.affine();
        for (int r = 0; r < 3; r++) {
            m[r * 4 + 3] += a * m[r * 4 + 2];
        }
        Volume v = new Volume(new Geometry(nx(), ny(), b - a, m));
        long plane = (long) nx() * ny() * Float.BYTES;
        try (var lease = life.acquire()) {
            v.voxels.copyFrom(voxels.asSlice(a * plane, (b - a) * plane));
        }
        return v;
    }

    public float get(int x, int y, int z) {
        long i = index(x, y, z);
        try (var lease = life.acquire()) {
            return voxels.getAtIndex(JAVA_FLOAT, i);
        }
    }

    public void set(int x, int y, int z, float value) {
        long i = index(x, y, z);
        try (var lease = life.acquire()) {
            voxels.setAtIndex(JAVA_FLOAT, i, value);
        }
    }

    /** Linear voxel index of (x, y, z); throws for coordinates outside the grid. */
    public long index(int x, int y, int z) {
        if (x < 0 || y < 0 || z < 0 || x >= nx() || y >= ny() || z >= nz()) {
            throw new IndexOutOfBoundsException("voxel (" + x + ", " + y + ", " + z + ") outside " + geometry);
        }
        return x + (long) nx() * (y + (long) ny() * z);
    }

    /**
     * Runs {@code action} with the voxel segment, keeping the volume alive for its duration (a concurrent
     * {@link #close()} waits for it). The segment must not escape the action.
     */
    public <T> T withSegment(java.util.function.Function<MemorySegment, T> action) {
        try (var lease = life.acquire()) {
            return action.apply(voxels);
        }
    }

    /** Copies {@code dst.length} voxels starting at linear index {@code offset} (x fastest) into {@code dst}. */
    public void read(long offset, float[] dst) {
        if (offset < 0 || offset + dst.length > voxelCount()) {
            throw new IndexOutOfBoundsException("voxels [" + offset + ", " + (offset + dst.length) + ") of "
                    + voxelCount());
        }
        withSegment(seg -> {
            MemorySegment.copy(seg, JAVA_FLOAT, 4 * offset, dst, 0, dst.length);
            return null;
        });
    }

    /** A heap copy of axial slice {@code z}: {@code nx * ny} values, x fastest. */
    public float[] plane(int z) {
        java.util.Objects.checkIndex(z, nz());
        float[] out = new float[nx() * ny()];
        read((long) z * out.length, out);
        return out;
    }

    /** A heap copy of every voxel (x fastest); for volumes that fit a Java array. */
    public float[] toArray() {
        long n = voxelCount();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("volume " + geometry + " is too large for a Java array");
        }
        float[] out = new float[(int) n];
        read(0, out);
        return out;
    }

    /** Minimum, maximum, mean and count of non-finite voxels, in one pass over the off-heap data. */
    public VoxelStats stats() {
        return withSegment(seg -> {
            double min = Double.POSITIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            double sum = 0;
            long nonFinite = 0;
            long n = voxelCount();
            for (long i = 0; i < n; i++) {
                float v = seg.getAtIndex(JAVA_FLOAT, i);
                if (!Float.isFinite(v)) {
                    nonFinite++;
                    continue;
                }
                min = Math.min(min, v);
                max = Math.max(max, v);
                sum += v;
            }
            long finite = n - nonFinite;
            return new VoxelStats(min, max, finite == 0 ? Double.NaN : sum / finite, nonFinite);
        });
    }

    /** Summary statistics of a volume's voxels. */
    public record VoxelStats(double min, double max, double mean, long nonFinite) {
    }

    /** A lease for native calls: keeps memory alive while the kernel works on it. */
    public RefCounted.Lease lease() {
        return life.acquire();
    }

    /** The voxel segment; only valid while a {@link #lease()} is held. For the native bindings. */
    public MemorySegment segmentUnderLease() {
        if (life.isClosed()) {
            throw new ResourceClosedException("volume " + geometry + " is closed");
        }
        return voxels;
    }

    public boolean isClosed() {
        return life.isClosed();
    }

    @Override
    public void close() {
        life.close();
    }

    @Override
    public String toString() {
        return "Volume[" + geometry + (isClosed() ? ", closed" : "") + "]";
    }
}
