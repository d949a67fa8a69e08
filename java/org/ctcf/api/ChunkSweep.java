package org.ctcf.api;

/**
 * Which chunks a sweep explains: {@code [i, i + chunk)} for {@code i = first + offset, first + offset + stride, …}
 * below {@code last} (exclusive; 0 = the last slice), the last chunk clipped to the range.
 */
public record ChunkSweep(int chunk, int stride, int offset, int first, int last) {
    public ChunkSweep {
        if (chunk < 1 || stride < 1 || offset < 0 || first < 0 || last < 0) {
            throw new IllegalArgumentException("chunk and stride must be >= 1; offset, first, last >= 0");
        }
    }

    /** Adjacent chunks of {@code chunk} slices over the whole volume (the reference's sweep). */
    public static ChunkSweep of(int chunk) {
        return new ChunkSweep(chunk, chunk, 0, 0, 0);
    }
}
