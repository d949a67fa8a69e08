package org.ctcf.io;

/**
 * Limits and policies for reading volumes.
 *
 * @param maxVoxels the largest voxel count accepted (protects against headers that lie about their size)
 * @param allowNonFinite accept NaN/Inf voxels instead of rejecting the file
 * @param series for a DICOM folder or DICOMDIR holding several series, the one to read: its Series Instance UID or
 *     its Series Number; null when none was named (then a folder with several series is an error listing them)
 */
public record ReadOptions(long maxVoxels, boolean allowNonFinite, String series) {
    /** 2^30 voxels (4 GiB as float32): four times a 512 × 512 × 1000 scan. */
    public static final long DEFAULT_MAX_VOXELS = 1L << 30;

    public ReadOptions {
        if (maxVoxels < 1) {
            throw new IllegalArgumentException("maxVoxels must be >= 1");
        }
        if (series != null && series.isBlank()) {
            series = null;
        }
    }

    public ReadOptions(long maxVoxels, boolean allowNonFinite) {
        this(maxVoxels, allowNonFinite, null);
    }

    public static ReadOptions defaults() {
        return new ReadOptions(DEFAULT_MAX_VOXELS, false, null);
    }

    public ReadOptions withMaxVoxels(long n) {
        return new ReadOptions(n, allowNonFinite, series);
    }

    public ReadOptions withAllowNonFinite(boolean allow) {
        return new ReadOptions(maxVoxels, allow, series);
    }

    /** Picks one series of a DICOM folder by Series Instance UID or Series Number (null: none). */
    public ReadOptions withSeries(String uidOrNumber) {
        return new ReadOptions(maxVoxels, allowNonFinite, uidOrNumber);
    }
}
