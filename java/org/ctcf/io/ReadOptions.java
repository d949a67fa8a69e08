package org.ctcf.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Limits and policies for reading volumes.
 *
 * @param maxVoxels the largest voxel count accepted (protects against headers that lie about their size, and
 *     against inputs that inflate far beyond their file's size)
 * @param allowNonFinite accept NaN/Inf voxels instead of rejecting the file
 * @param series for a DICOM folder or DICOMDIR holding several series, the one to read: its Series Instance UID or
 *     its Series Number; null when none was named (then a folder with several series is an error listing them)
 * @param confine refuse files that a header references outside its own folder (a MetaImage {@code ElementDataFile}
 *     such as {@code /etc/passwd} or {@code ../../x}, a DICOMDIR's referenced file), after resolving symbolic links:
 *     for inputs from untrusted hands ({@code --confine-inputs}). Off by default, unless {@link
 *     #confineByDefault(boolean)} turned it on for this process.
 */
public record ReadOptions(long maxVoxels, boolean allowNonFinite, String series, boolean confine) {
    /**
     * 2^28 voxels (1 GiB as float32): a 512 × 512 × 1024 scan. Bounds what one input may make ctcf allocate, and
     * what preprocessing may make of it; {@code --max-voxels} raises it for the process.
     */
    public static final long DEFAULT_MAX_VOXELS = 1L << 28;

    public ReadOptions {
        if (maxVoxels < 1) {
            throw new IllegalArgumentException("maxVoxels must be >= 1");
        }
        if (series != null && series.isBlank()) {
            series = null;
        }
    }

    private static volatile boolean confineByDefault;
    private static volatile long maxVoxelsByDefault = DEFAULT_MAX_VOXELS;

    /** The voxel limit of {@link #defaults()} for this process (the CLI's {@code --max-voxels}). */
    public static void maxVoxelsByDefault(long n) {
        if (n < 1) {
            throw new IllegalArgumentException("--max-voxels must be >= 1, not " + n);
        }
        maxVoxelsByDefault = n;
    }

    /** The process's voxel limit: {@link #DEFAULT_MAX_VOXELS} unless {@link #maxVoxelsByDefault} changed it. */
    public static long maxVoxelsByDefault() {
        return maxVoxelsByDefault;
    }

    /**
     * Whether {@link #defaults()} (and so every read without explicit options) confines header references: the CLI's
     * {@code --confine-inputs} sets it for the process.
     */
    public static void confineByDefault(boolean on) {
        confineByDefault = on;
    }

    public static ReadOptions defaults() {
        return new ReadOptions(maxVoxelsByDefault, false, null, confineByDefault);
    }

    public ReadOptions withMaxVoxels(long n) {
        return new ReadOptions(n, allowNonFinite, series, confine);
    }

    public ReadOptions withAllowNonFinite(boolean allow) {
        return new ReadOptions(maxVoxels, allow, series, confine);
    }

    /** Picks one series of a DICOM folder by Series Instance UID or Series Number (null: none). */
    public ReadOptions withSeries(String uidOrNumber) {
        return new ReadOptions(maxVoxels, allowNonFinite, uidOrNumber, confine);
    }

    /** Refuses (or allows) files referenced from outside a header's own folder. */
    public ReadOptions withConfine(boolean on) {
        return new ReadOptions(maxVoxels, allowNonFinite, series, on);
    }

    /**
     * The check of {@link #confine}: {@code target}, referenced as {@code reference} by {@code header}, must lie in
     * the header's folder or below once symbolic links are resolved; otherwise a {@link VolumeFormatException}
     * naming the header, the reference and why. Does nothing when not confined or when the target does not exist
     * (the caller reports a missing file).
     */
    public void checkConfined(Path header, String reference, Path target) throws VolumeFormatException {
        checkConfined(header, header.toAbsolutePath().getParent(), reference, target);
    }

    /**
     * The check of {@link #confine} for a file found in folder input {@code root} (a DICOM series' folder): after
     * resolving symbolic links it must lie in {@code root} or below; a link to a file elsewhere is refused as a
     * DICOMDIR's reference to it is.
     */
    public void checkConfinedIn(Path root, Path target) throws VolumeFormatException {
        checkConfined(root, root, root.toAbsolutePath().relativize(target.toAbsolutePath()).toString(), target);
    }

    private void checkConfined(Path header, Path folder, String reference, Path target) throws VolumeFormatException {
        if (!confine || !Files.exists(target)) {
            return;
        }
        try {
            Path root = folder.toAbsolutePath().toRealPath();
            Path real = target.toRealPath();
            if (!real.startsWith(root)) {
                String why = Path.of(reference).isAbsolute() ? "an absolute path" : reference.contains("..")
                        ? "a path through '..'" : "a symbolic link";
                throw new VolumeFormatException(header, "the referenced file '" + reference + "' resolves to " + real
                        + ", outside " + (folder.equals(header) ? "the input folder " : "the header's folder ")
                        + root + " (" + why + "); refused because inputs are confined (--confine-inputs)");
            }
        } catch (VolumeFormatException e) {
            throw e;
        } catch (IOException e) {
            throw new VolumeFormatException(header, "cannot resolve the reference '" + reference + "': "
                    + e.getMessage());
        }
    }
}
