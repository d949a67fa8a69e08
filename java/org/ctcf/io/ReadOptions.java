package org.ctcf.io;

/**
 * Limits and policies for reading volumes.
 *
 * @param maxVoxels the largest voxel count accepted (protects against headers that lie about their size)
 * @param allowNonFinite accept NaN/Inf voxels instead of rejecting the file
 */
public record ReadOptions(long maxVoxels, boolean allowNonFinite) {
    /** 2^30 voxels (4 GiB as float32): four times a 512 × 512 × 1000 scan. */
    public static final long DEFAULT_MAX_VOXELS = 1L << 30;

    public ReadOptions {
        if (maxVoxels < 1) {
            throw new IllegalArgumentException("maxVoxels must be >= 1");
        }
    }

    public static ReadOptions defaults() {
        return new ReadOptions(DEFAULT_MAX_VOXELS, false);
    }

    public ReadOptions withMaxVoxels(long n) {
        return new ReadOptions(n, allowNonFinite);
    }

    public ReadOptions withAllowNonFinite(boolean allow) {
        return new ReadOptions(maxVoxels, allow);
    }
}
