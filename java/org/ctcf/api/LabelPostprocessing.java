package org.ctcf.api;

import org.ctcf.core.Volume;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * lungmask's 3-D post-processing of a label volume (its {@code volume_postprocessing}, on by default there), written
 * from its description:
 * <ol>
 * <li>connected components of equal labels (26-connectivity);</li>
 * <li>from the smallest up, every component that is not the largest of its label (and has at least
 * {@value #SKIP_BELOW} voxels) joins the neighbouring component with which it shares the most voxels of its
 * one-voxel (6-connected) shell; a component with no labelled neighbour stays as it is;</li>
 * <li>per label, only the largest connected component (26-connectivity) is kept, and its holes are filled:
 * background regions (6-connectivity) that do not reach the volume's border; for a single slice, background
 * regions (4-connectivity) of fewer than 64 pixels.</li>
 * </ol>
 * Components of one or two voxels are not merged; step 3 removes them unless a hole fill covers them.
 */
public final class LabelPostprocessing {
    /** Components smaller than this are not merged into a neighbour (lungmask's {@code skip_below}). */
    public static final int SKIP_BELOW = 3;
    /** Single-slice hole filling: background regions smaller than this many pixels (lungmask's area closing). */
    public static final int SLICE_HOLE_AREA = 64;

    private LabelPostprocessing() {
    }

    /** A new volume: {@code labels} (integers 0–127 per voxel) post-processed as lungmask does. */
    public static Volume lungmask(Volume labels) {
        int nx = labels.nx();
        int ny = labels.ny();
        int nz = labels.nz();
        long n = labels.voxelCount();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("label volume too large for post-processing: " + n + " voxels");
        }
        float[] values = labels.toArray();
        byte[] lab = new byte[values.length];
        for (int i = 0; i < lab.length; i++) {
            float v = values[i];
            if (!(v >= 0 && v <= 127 && v == Math.rint(v))) {
                throw new IllegalArgumentException("post-processing needs integer labels 0..127, found " + v
                        + " at voxel " + i);
            }
            lab[i] = (byte) v;
        }
        byte[] out = apply(lab, nx, ny, nz);
        for (int i = 0; i < out.length; i++) {
            values[i] = out[i];
        }
        return Volume.of(labels.geometry(), values);
    }

    /** The post-processing on a label array (index x + nx (y + ny z)); returns a new array. */
    static byte[] apply(byte[] lab, int nx, int ny, int nz) {
        Grid g = new Grid(nx, ny, nz);
        int[] comp = new int[lab.length];
        int count = g.components(lab, comp, true);
        int[] area = new int[count + 1];
        int[] label = new int[count + 1];
        int[][] box = new int[count + 1][];
        for (int i = 0; i < lab.length; i++) {
            int c = comp[i];
            if (c == 0) {
                continue;
            }
            area[c]++;
            label[c] = lab[i];
            int x = i % nx;
            int y = (i / nx) % ny;
            int z = i / (nx * ny);
            if (box[c] == null) {
                box[c] = new int[] {x, x, y, y, z, z};
            } else {
                int[] b = box[c];
                b[0] = Math.min(b[0], x);
                b[1] = Math.max(b[1], x);
                b[2] = Math.min(b[2], y);
                b[3] = Math.max(b[3], y);
                b[4] = Math.min(b[4], z);
                b[5] = Math.max(b[5], z);
            }
        }
        // Smallest first (stable: ties in order of first voxel). The running maximum per label both finds the
        // largest component and decides which components keep their label.
        Integer[] order = new Integer[count];
        for (int c = 1; c <= count; c++) {
            order[c - 1] = c;
        }
        Arrays.sort(order, (a, b) -> Integer.compare(area[a], area[b]));
        int[] maxArea = new int[128];
        int[] keeps = new int[count + 1];  // component -> label it stands for (0: none)
        for (int c : order) {
            if (area[c] > maxArea[label[c]]) {
                maxArea[label[c]] = area[c];
                keeps[c] = label[c];
            }
        }
        for (int r : order) {
            if (area[r] >= maxArea[label[r]] || area[r] < SKIP_BELOW) {
                continue;
            }
            int target = g.largestNeighbour(comp, r, box[r]);
            if (target == r) {
                continue;
            }
            int[] b = box[r];
            for (int z = b[4]; z <= b[5]; z++) {
                for (int y = b[2]; y <= b[3]; y++) {
                    for (int x = b[0]; x <= b[1]; x++) {
                        int i = x + nx * (y + ny * z);
                        if (comp[i] == r) {
                            comp[i] = target;
                        }
                    }
                }
            }
            int[] t = box[target];
            t[0] = Math.min(t[0], b[0]);
            t[1] = Math.max(t[1], b[1]);
            t[2] = Math.min(t[2], b[2]);
            t[3] = Math.max(t[3], b[3]);
            t[4] = Math.min(t[4], b[4]);
            t[5] = Math.max(t[5], b[5]);
            if (area[target] == maxArea[label[target]]) {
                maxArea[label[target]] += area[r];
            }
            area[target] += area[r];
        }
        byte[] mapped = new byte[lab.length];
        boolean[] present = new boolean[128];
        for (int i = 0; i < lab.length; i++) {
            mapped[i] = (byte) keeps[comp[i]];
            present[mapped[i]] = true;
        }
        byte[] out = new byte[lab.length];
        byte[] mask = new byte[lab.length];
        for (int l = 1; l < 128; l++) {
            if (!present[l]) {
                continue;
            }
            for (int i = 0; i < lab.length; i++) {
                mask[i] = (byte) (mapped[i] == l ? 1 : 0);
            }
            g.keepLargest(mask, comp);
            g.fillHoles(mask, comp);
            for (int i = 0; i < lab.length; i++) {
                if (mask[i] != 0) {
                    out[i] = (byte) l;
                }
            }
        }
        return out;
    }

    /** Neighbourhoods and flood fills on an nx × ny × nz grid. */
    private static final class Grid {
        final int nx;
        final int ny;
        final int nz;
        int[] queue = new int[1024];

        Grid(int nx, int ny, int nz) {
            this.nx = nx;
            this.ny = ny;
            this.nz = nz;
        }

        /**
         * Labels the connected components of equal non-zero values (full = 26-connectivity, else 6) into comp,
         * numbered 1.. in the order of their first voxel; returns the count.
         */
        int components(byte[] v, int[] comp, boolean full) {
            Arrays.fill(comp, 0);
            int next = 0;
            for (int s = 0; s < v.length; s++) {
                if (v[s] == 0 || comp[s] != 0) {
                    continue;
                }
                final byte value = v[s];
                final int id = ++next;
                comp[s] = id;
                flood(s, i -> v[i] == value && comp[i] == 0, i -> comp[i] = id, full);
            }
            return next;
        }

        interface IntPredicate {
            boolean test(int i);
        }

        interface IntAction {
            void run(int i);
        }

        /** Breadth-first fill from the (already marked) seed; mark must make accept false. Returns the size. */
        int flood(int seed, IntPredicate accept, IntAction mark, boolean full) {
            int head = 0;
            int tail = 0;
            int size = 0;
            queue[tail++] = seed;
            while (head < tail) {
                int i = queue[head++];
                size++;
                int x = i % nx;
                int y = (i / nx) % ny;
                int z = i / (nx * ny);
                for (int dz = -1; dz <= 1; dz++) {
                    for (int dy = -1; dy <= 1; dy++) {
                        for (int dx = -1; dx <= 1; dx++) {
                            int d = Math.abs(dx) + Math.abs(dy) + Math.abs(dz);
                            if (d == 0 || (!full && d > 1)) {
                                continue;
                            }
                            int xx = x + dx;
                            int yy = y + dy;
                            int zz = z + dz;
                            if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) {
                                continue;
                            }
                            int j = xx + nx * (yy + ny * zz);
                            if (accept.test(j)) {
                                mark.run(j);
                                if (tail == queue.length) {
                                    if (head > queue.length / 2) {  // reuse the consumed front
                                        System.arraycopy(queue, head, queue, 0, tail - head);
                                    } else {
                                        int[] bigger = new int[queue.length * 2];
                                        System.arraycopy(queue, head, bigger, 0, tail - head);
                                        queue = bigger;
                                    }
                                    tail -= head;
                                    head = 0;
                                }
                                queue[tail++] = j;
                            }
                        }
                    }
                }
            }
            return size;
        }

        /**
         * The component that shares the most voxels with r's one-voxel 6-connected shell, within r's box grown by 2
         * (ties: the lowest number); r itself when it touches no other labelled component.
         */
        int largestNeighbour(int[] comp, int r, int[] b) {
            int x0 = Math.max(0, b[0] - 2);
            int x1 = Math.min(nx - 1, b[1] + 2);
            int y0 = Math.max(0, b[2] - 2);
            int y1 = Math.min(ny - 1, b[3] + 2);
            int z0 = Math.max(0, b[4] - 2);
            int z1 = Math.min(nz - 1, b[5] + 2);
            Map<Integer, Integer> counts = new HashMap<>();
            for (int z = z0; z <= z1; z++) {
                for (int y = y0; y <= y1; y++) {
                    for (int x = x0; x <= x1; x++) {
                        int i = x + nx * (y + ny * z);
                        int c = comp[i];
                        if (c == r || c == 0) {
                            continue;
                        }
                        boolean touches = (x > x0 && comp[i - 1] == r) || (x < x1 && comp[i + 1] == r)
                                || (y > y0 && comp[i - nx] == r) || (y < y1 && comp[i + nx] == r)
                                || (z > z0 && comp[i - nx * ny] == r) || (z < z1 && comp[i + nx * ny] == r);
                        if (touches) {
                            counts.merge(c, 1, Integer::sum);
                        }
                    }
                }
            }
            int best = r;
            int bestCount = 0;
            for (var e : new java.util.TreeMap<>(counts).entrySet()) {
                if (e.getValue() > bestCount) {
                    bestCount = e.getValue();
                    best = e.getKey();
                }
            }
            return best;
        }

        /** Keeps the largest 26-connected component of a binary mask (ties: the later one). */
        void keepLargest(byte[] mask, int[] comp) {
            int count = components(mask, comp, true);
            if (count <= 1) {
                return;
            }
            int[] size = new int[count + 1];
            for (int c : comp) {
                size[c]++;
            }
            int best = 1;
            for (int c = 2; c <= count; c++) {
                if (size[c] >= size[best]) {
                    best = c;
                }
            }
            for (int i = 0; i < mask.length; i++) {
                mask[i] = (byte) (comp[i] == best ? 1 : 0);
            }
        }

        /**
         * Fills a binary mask's holes: in 3-D the background regions (6-connected) that do not reach the border;
         * for one slice the background regions (4-connected) smaller than {@link #SLICE_HOLE_AREA} pixels.
         */
        void fillHoles(byte[] mask, int[] seen) {
            Arrays.fill(seen, 0);
            if (nz == 1) {
                for (int s = 0; s < mask.length; s++) {
                    if (mask[s] != 0 || seen[s] != 0) {
                        continue;
                    }
                    final int id = s + 1;
                    seen[s] = id;
                    int size = flood(s, i -> mask[i] == 0 && seen[i] == 0, i -> seen[i] = id, false);
                    if (size < SLICE_HOLE_AREA) {
                        for (int i = 0; i < mask.length; i++) {
                            if (seen[i] == id) {
                                mask[i] = 1;
                            }
                        }
                    }
                }
                return;
            }
            for (int z = 0; z < nz; z++) {
                for (int y = 0; y < ny; y++) {
                    for (int x = 0; x < nx; x++) {
                        boolean border = x == 0 || y == 0 || z == 0 || x == nx - 1 || y == ny - 1 || z == nz - 1;
                        int s = x + nx * (y + ny * z);
                        if (border && mask[s] == 0 && seen[s] == 0) {
                            seen[s] = 1;
                            flood(s, i -> mask[i] == 0 && seen[i] == 0, i -> seen[i] = 1, false);
                        }
                    }
                }
            }
            for (int i = 0; i < mask.length; i++) {
                if (mask[i] == 0 && seen[i] == 0) {
                    mask[i] = 1;
                }
            }
        }
    }
}
