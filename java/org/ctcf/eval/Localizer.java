package org.ctcf.eval;

import org.ctcf.api.Metrics;
import org.ctcf.core.Affine;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;

/**
 * Localization scores of an evaluation: which chunk a map ranks first, whether it holds the finding, and how far
 * the map's peak lies from the finding (mm, through the grid's affine).
 */
final class Localizer {
    private Localizer() {
    }

    /** The chunk [i·n, min((i+1)·n, nz)) with the largest Σ|map| (the sweep's chunks, stride = size). */
    static int[] topChunk(Volume map, int n) {
        float[] v = Metrics.toArray(map);
        int plane = map.nx() * map.ny();
        int[] best = {0, Math.min(n, map.nz())};
        double bestSum = -1;
        for (int s = 0; s < map.nz(); s += n) {
            int e = Math.min(s + n, map.nz());
            double sum = 0;
            for (int i = s * plane; i < e * plane; i++) {
                sum += Math.abs(v[i]);
            }
            if (sum > bestSum) {
                bestSum = sum;
                best = new int[] {s, e};
            }
        }
        return best;
    }

    /** Hit = the finding's slice lies in [start, end); distance from the voxel of the largest |map| (mm). */
    static Evaluation.Localization localize(Geometry g, Volume map, int start, int end, double[] voxel, double[] world) {
        return localize(g, Metrics.toArray(map), start, end, 0, g.nz(), voxel, world);
    }

    /**
     * As {@link #localize(Geometry, Volume, int, int, double[], double[])} on the map's values {@code v}, the peak
     * sought in slices [{@code from}, {@code to}) only (a sweep's stitched map within one chunk: that chunk's own
     * change map).
     */
    static Evaluation.Localization localize(Geometry g, float[] v, int start, int end, int from, int to,
            double[] voxel, double[] world) {
        int z = (int) Math.round(voxel[2]);
        boolean hit = z >= start && z < end;
        int plane = g.nx() * g.ny();
        int lo = Math.max(0, from) * plane;
        int hi = Math.min(g.nz(), to) * plane;
        if (hi <= lo) {
            throw new IllegalArgumentException("no slice in [" + from + ", " + to + ") of " + g.nz());
        }
        int arg = lo;
        for (int i = lo + 1; i < hi; i++) {
            if (Math.abs(v[i]) > Math.abs(v[arg])) {
                arg = i;
            }
        }
        int px = arg % g.nx();
        int py = (arg / g.nx()) % g.ny();
        int pz = arg / plane;
        double[] peak = Affine.apply(g.affine(), px, py, pz);
        double d2 = 0;
        for (int r = 0; r < 3; r++) {
            d2 += (peak[r] - world[r]) * (peak[r] - world[r]);
        }
        return new Evaluation.Localization(hit, Math.sqrt(d2));
    }

    /** Continuous voxel coordinates of a world point (the inverse of the grid's affine). */
    static double[] worldToVoxel(Geometry g, double[] world) {
        return Affine.apply(Affine.inverse(g.affine()), world[0], world[1], world[2]);
    }
}
