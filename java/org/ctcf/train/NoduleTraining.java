package org.ctcf.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.ctcf.api.Classifier;
import org.ctcf.api.Trainer;
import org.ctcf.core.Affine;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.ctcf.io.AtomicFiles;
import org.ctcf.io.checkpoint.SafeTensors;
import org.ctcf.train.ClassifierTraining.Case;
import org.ctcf.train.ClassifierTraining.Crop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * What makes {@code ctcf-nodule3d} a detector at the volume level (its score is the maximum of its logit map over
 * the whole volume, so every window of a nodule-free scan must stay low):
 * <ul>
 * <li>positives: crops of the training volumes that have a lung mask, each with one synthetic nodule
 * ({@link Nodules}, 5–20 mm) inside the lungs;
 * <li>negatives: random crops of the nodule-free training volumes and, from step {@link #MINE_START} on, hard
 * negatives: every {@link #MINE_EVERY} steps all half-overlapping windows of every nodule-free training volume are
 * scored with the current model and the {@link #MINE_TOP} highest of each volume become a quarter of every batch;
 * <li>calibration: a logistic fit (Platt scaling) of the volume-level logit on whole volumes of the calibration
 * split (as many nodule-free volumes, the scans and their augmentations, as seeded insertions: a score of 0.5
 * means even odds), folded into the last 1 × 1 × 1
 * convolution ({@code a · logit + c}; exact, since a positive affine map commutes with the maximum);
 * <li>test: whole volumes of the held-out patients, seeded insertions (5, 10, 15, 20 mm, positions in the lung
 * mask) against the nodule-free scans and their augmentations; every nodule-free real scan of the manifest.
 * </ul>
 */
final class NoduleTraining {
    static final long MINE_START = 1000;
    static final long MINE_EVERY = 500;
    static final int MINE_TOP = 12;
    /** The diameters (mm) of the volume-level test's insertions, cycled. */
    static final double[] DIAMETERS = {5, 10, 15, 20};
    /**
     * The diameters of the calibration's insertions: the sizes the detector is for (a 5 mm nodule is under two voxels
     * at the model's 3 mm resolution; calibrating on what it cannot see would flatten every score towards 0.5).
     */
    static final double[] CALIBRATION_DIAMETERS = {10, 15, 20};
    private static final double WINDOW_WIDTH = ClassifierTraining.PREPROCESSING.windowHigh()
            - ClassifierTraining.PREPROCESSING.windowLow();
    private static final double HU_SCALE = 1 / WINDOW_WIDTH;
    private static final double HU_OFFSET = -ClassifierTraining.PREPROCESSING.windowLow() / WINDOW_WIDTH;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private NoduleTraining() {
    }

    /** The manifest problems that would make the detector's training or test meaningless, before any volume is read. */
    static void check(Manifest m) throws IOException {
        List<Manifest.Entry> free = m.train().stream().filter(e -> !e.nodules()).toList();
        if (free.isEmpty()) {
            throw new IOException(m.file() + ": no nodule-free training volume (every 'train' line says"
                    + " nodules=present); the detector's negatives come from nodule-free volumes");
        }
        if (free.stream().noneMatch(Manifest.Entry::hasLungMask)) {
            throw new IOException(m.file() + ": no nodule-free training volume has a lung mask to place the synthetic"
                    + " nodules in; give one as mask=FILE, or mask=threshold to use the -500 HU pseudo-mask");
        }
        for (List<Manifest.Entry> split : List.of(m.validation(), m.calibration())) {
            if (split.isEmpty()) {
                continue;
            }
            String name = split.get(0).split();
            if (split.stream().noneMatch(e -> !e.nodules() && e.hasLungMask())) {
                throw new IOException(m.file() + ": no nodule-free '" + name + "' volume with a lung mask (mask=FILE"
                        + " or mask=threshold); the volume-level " + (name.equals("val") ? "test" : "calibration")
                        + " inserts nodules into one");
            }
        }
        if (m.validation().isEmpty()) {
            throw new IOException(m.file() + ": no 'val' volume; the detector is tested on held-out whole volumes");
        }
    }

    // ---- training -------------------------------------------------------------------------------------------

    /** A training window: volume index (into the negatives), origin in processed voxels, the logit it had. */
    record Window(int volume, int x0, int y0, int z0, double logit) {
    }

    /** Hard negatives, re-mined on a fixed schedule and kept with the checkpoint so that a resumed run repeats. */
    static final class Miner {
        private List<Window> windows = List.of();
        private final Path file;

        Miner(Path file) {
            this.file = file;
        }

        List<Window> windows() {
            return windows;
        }

        /** Before step {@code step} (0-based): mine when the schedule says so. Returns the seconds it took. */
        double before(long step, Classifier clf, List<Case> negatives) {
            if (step < MINE_START || (step - MINE_START) % MINE_EVERY != 0) {
                return 0;
            }
            long t0 = System.nanoTime();
            windows = mine(clf, negatives);
            return (System.nanoTime() - t0) / 1e9;
        }

        /** The windows as JSON ({@code {"windows": [[volume, x0, y0, z0], ...]}}). */
        String json() throws IOException {
            List<int[]> rows = windows.stream().map(w -> new int[] {w.volume(), w.x0(), w.y0(), w.z0()}).toList();
            return JSON.writeValueAsString(Map.of("windows", rows));
        }

        /** A readable copy of the windows next to the checkpoint (the checkpoint itself holds the ones resumed). */
        void save() throws IOException {
            AtomicFiles.write(file, json().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }

        /** The windows of {@link #json}; {@code source} names where they came from in an error. */
        void load(String json, Path source) throws IOException {
            JsonNode n = JSON.readTree(json).get("windows");
            if (n == null || !n.isArray()) {
                throw new IOException(source + ": no hard-negative windows in it");
            }
            List<Window> l = new ArrayList<>();
            for (JsonNode w : n) {
                l.add(new Window(w.get(0).asInt(), w.get(1).asInt(), w.get(2).asInt(), w.get(3).asInt(), 0));
            }
            windows = List.copyOf(l);
        }
    }

    /** The {@link #MINE_TOP} highest-scoring half-overlapping training windows of every nodule-free volume. */
    static List<Window> mine(Classifier clf, List<Case> negatives) {
        int size = ClassifierTraining.NODULE_CROP;
        int depth = ClassifierTraining.NODULE_DEPTH;
        List<Window> out = new ArrayList<>();
        for (int v = 0; v < negatives.size(); v++) {
            Case c = negatives.get(v);
            List<Window> all = new ArrayList<>();
            for (int z0 : starts(c.nz(), depth)) {
                for (int y0 : starts(c.ny(), size)) {
                    for (int x0 : starts(c.nx(), size)) {
                        float[] h = ClassifierTraining.halvedWindow(c, x0, y0, z0, depth, size);
                        try (Volume vol = Volume.of(Geometry.of(size / 2, size / 2, depth, 3, 3, 3, 0, 0, 0), h)) {
                            all.add(new Window(v, x0, y0, z0, clf.outputs(vol).values()[0]));
                        }
                    }
                }
            }
            all.sort(Comparator.comparingDouble(Window::logit).reversed());
            out.addAll(all.subList(0, Math.min(MINE_TOP, all.size())));
        }
        return List.copyOf(out);
    }

    /** Window origins along one axis: stride half the window, the last one flush with the end. */
    static List<Integer> starts(int n, int w) {
        List<Integer> s = new ArrayList<>();
        for (int i = 0; i + w <= n; i += w / 2) {
            s.add(i);
        }
        if (s.isEmpty() || s.get(s.size() - 1) != n - w) {
            s.add(Math.max(0, n - w));
        }
        return s;
    }

    /**
     * One step: half the batch positives (a nodule inserted near a lung voxel of a host volume), a quarter random
     * negatives (near a lung voxel of a nodule-free volume), a quarter mined hard negatives (random ones until the
     * first mining); every crop jittered
     * ({@link ClassifierTraining#jitter}), flipped left-right at random, with probability {@code vessels} given a
     * synthetic vessel ({@link #vessel}; touching the nodule of a positive) and, with {@code noiseHu} > 0, Gaussian
     * noise at the model's resolution ({@link #noise}).
     */
    static Trainer.Stats step(Trainer t, List<Case> hosts, List<Case> negatives, List<Window> mined,
            SplittableRandom r, int batch, double noiseHu, double vessels) {
        int depth = ClassifierTraining.NODULE_DEPTH;
        int size = ClassifierTraining.NODULE_CROP;
        int h = size / 2;
        float[] x = new float[batch * depth * h * h];
        float[] y = new float[x.length];
        for (int b = 0; b < batch; b++) {
            Crop c;
            if (b % 2 == 0) {
                c = ClassifierTraining.crop(hosts.get(r.nextInt(hosts.size())), r, depth, size, true, true);
            } else if (b % 4 == 3 && !mined.isEmpty()) {
                Window w = mined.get(r.nextInt(mined.size()));
                Case v = negatives.get(w.volume());
                int j = size / 8;
                int jz = depth / 8;
                c = ClassifierTraining.cropAt(v, w.x0() + r.nextInt(-j, j + 1), w.y0() + r.nextInt(-j, j + 1),
                        w.z0() + r.nextInt(-jz, jz + 1), depth, size, r);
            } else {
                c = ClassifierTraining.crop(negatives.get(r.nextInt(negatives.size())), r, depth, size, false, true);
            }
            float[] cx = c.halved();
            float[] cy = c.mask();
            if (r.nextBoolean()) {
                flipX(cx, h);
                flipX(cy, h);
            }
            if (vessels > 0 && r.nextDouble() < vessels) {
                vessel(cx, cy, depth, h, r);
            }
            if (noiseHu > 0) {
                noise(cx, noiseHu * r.nextDouble(), r);
            }
            System.arraycopy(cx, 0, x, b * cx.length, cx.length);
            System.arraycopy(cy, 0, y, b * cy.length, cy.length);
        }
        long[] shape = {batch, depth, h, h};
        return t.stepClassifier(x, shape, y, shape);
    }

    /**
     * Adds Gaussian noise of σ {@code sigmaHu} (HU) to a crop at the model's resolution
     * ({@link ClassifierTraining#perturb}). It keeps the detector from resting on detail finer than its voxels, the
     * kind a shifted latent code can paint without changing what a reader sees.
     */
    static void noise(float[] v, double sigmaHu, SplittableRandom r) {
        ClassifierTraining.perturb(v, 0, sigmaHu * HU_SCALE, r);
    }

    /**
     * The lungs of a pseudo-mask (air inside the body, {@code mask=threshold}): its 6-connected components of at
     * least a quarter the size of the largest, in {@code voxels}' order. The pseudo-mask also holds the gas of
     * stomach and bowel; a synthetic nodule placed there would teach the detector that a fold in a gas-filled bowel
     * is a nodule (it did: a nodule-free scan whose field of view ends in the upper abdomen scored up to 0.98).
     */
    static List<Integer> lungComponents(List<Integer> voxels, int nx, int ny, int nz) {
        int[] label = new int[nx * ny * nz];
        for (int i : voxels) {
            label[i] = -1;
        }
        int[] stack = new int[voxels.size()];
        List<Integer> sizes = new ArrayList<>();
        sizes.add(0);
        for (int i : voxels) {
            if (label[i] != -1) {
                continue;
            }
            int id = sizes.size();
            int size = 0;
            int sp = 0;
            stack[sp++] = i;
            label[i] = id;
            while (sp > 0) {
                int p = stack[--sp];
                size++;
                int x = p % nx;
                int y = (p / nx) % ny;
                int z = p / (nx * ny);
                int[] nb = {x > 0 ? p - 1 : -1, x < nx - 1 ? p + 1 : -1, y > 0 ? p - nx : -1,
                    y < ny - 1 ? p + nx : -1, z > 0 ? p - nx * ny : -1, z < nz - 1 ? p + nx * ny : -1};
                for (int q : nb) {
                    if (q >= 0 && label[q] == -1) {
                        label[q] = id;
                        stack[sp++] = q;
                    }
                }
            }
            sizes.add(size);
        }
        int largest = sizes.stream().mapToInt(Integer::intValue).max().orElse(0);
        List<Integer> out = new ArrayList<>();
        for (int i : voxels) {
            if (4L * sizes.get(label[i]) >= largest) {
                out.add(i);
            }
        }
        return List.copyOf(out);
    }

    /** Lung parenchyma for {@link #vessel}: voxels below this (HU) may be painted, denser tissue is left as it is. */
    static final double VESSEL_LUNG_HU = -300;

    /**
     * Paints one synthetic vessel into a crop (window units, {@code depth} × {@code h} × {@code h} isotropic voxels;
     * {@code mask} the nodule's target map, all zero for a negative): a straight tube of random direction, radius 1–2
     * voxels' worth of partial volume (Gaussian profile, σ 0.5–1 voxel) and centre density −150..60 HU, blended into
     * lung parenchyma only (below {@link #VESSEL_LUNG_HU}) and never into the nodule. A positive's tube passes its
     * nodule tangentially (at the nodule's equivalent radius plus 0.5–1.5 σ from its centroid): a juxtavascular nodule
     * is still a nodule, so the detector cannot lower its score by joining the nodule to a vessel, which is the change a
     * shifted latent code otherwise makes instead of removing the nodule. A negative's tube passes near the crop's
     * centre (up to 4 voxels from a point up to 4 voxels from the centre along each axis): a vessel is still not a
     * nodule. The labels do not change.
     */
    static void vessel(float[] v, float[] mask, int depth, int h, SplittableRandom r) {
        double cz = 0;
        double cy = 0;
        double cx = 0;
        int count = 0;
        for (int z = 0; z < depth; z++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < h; x++) {
                    if (mask[(z * h + y) * h + x] > 0.5f) {
                        cz += z;
                        cy += y;
                        cx += x;
                        count++;
                    }
                }
            }
        }
        double sigma = r.nextDouble(0.5, 1.0);
        double[] a;
        double dist;
        if (count > 0) {
            a = new double[] {cx / count, cy / count, cz / count};
            dist = Math.cbrt(3.0 * count / (4 * Math.PI)) + sigma * r.nextDouble(0.5, 1.5);
        } else {
            a = new double[] {h / 2.0 + r.nextDouble(-4, 4), h / 2.0 + r.nextDouble(-4, 4),
                depth / 2.0 + r.nextDouble(-4, 4)};
            dist = r.nextDouble(0, 4);
        }
        double[] d = unit(r);
        double[] u = unit(r);  // the offset: u made perpendicular to d
        double dot = u[0] * d[0] + u[1] * d[1] + u[2] * d[2];
        for (int i = 0; i < 3; i++) {
            u[i] -= dot * d[i];
        }
        double un = Math.sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
        double[] p = new double[3];
        for (int i = 0; i < 3; i++) {
            p[i] = a[i] + (un > 1e-9 ? dist * u[i] / un : 0);
        }
        double hu = r.nextDouble(-150, 60);
        double reach = 3 * sigma;
        for (int z = 0; z < depth; z++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < h; x++) {
                    double qx = x - p[0];
                    double qy = y - p[1];
                    double qz = z - p[2];
                    double along = qx * d[0] + qy * d[1] + qz * d[2];
                    double rho2 = qx * qx + qy * qy + qz * qz - along * along;
                    if (rho2 > reach * reach) {
                        continue;
                    }
                    int i = (z * h + y) * h + x;
                    double now = (v[i] - HU_OFFSET) / HU_SCALE;
                    if (mask[i] > 0f || v[i] <= 0f || now >= VESSEL_LUNG_HU) {
                        continue;
                    }
                    double w = Math.exp(-rho2 / (2 * sigma * sigma));
                    double out = now + w * Math.max(0, hu - now);
                    v[i] = (float) Math.min(1, Math.max(0, out * HU_SCALE + HU_OFFSET));
                }
            }
        }
    }

    /** A direction uniform on the sphere. */
    private static double[] unit(SplittableRandom r) {
        double z = r.nextDouble(-1, 1);
        double phi = r.nextDouble(0, 2 * Math.PI);
        double s = Math.sqrt(1 - z * z);
        return new double[] {s * Math.cos(phi), s * Math.sin(phi), z};
    }

    /** Reverses every row (x fastest, rows of {@code nx}). */
    static void flipX(float[] a, int nx) {
        for (int row = 0; row < a.length; row += nx) {
            for (int i = 0, j = nx - 1; i < j; i++, j--) {
                float t = a[row + i];
                a[row + i] = a[row + j];
                a[row + j] = t;
            }
        }
    }

    // ---- whole volumes: augmentations, insertions, scores -----------------------------------------------------

    /** A whole processed volume for the volume-level test: data, depth and how it was made. */
    record Sample(float[] data, int nz, Map<String, Object> record) {
    }

    /**
     * A seeded augmentation of a processed volume (window units): left-right flip, in-plane shift (pad: air), Gaussian
     * noise, an intensity offset, and a few slices dropped at either end.
     */
    static Sample augment(float[] v, int nx, int ny, int nz, SplittableRandom r, Map<String, Object> rec) {
        return augment(v, nx, ny, nz, r, rec, 0, -1);
    }

    /** As above, dropping no slice of {@code keepLo .. keepHi} (a nodule's extent; an empty range keeps any). */
    static Sample augment(float[] v, int nx, int ny, int nz, SplittableRandom r, Map<String, Object> rec, int keepLo,
            int keepHi) {
        boolean flip = r.nextBoolean();
        int sx = r.nextInt(-8, 9);
        int sy = r.nextInt(-8, 9);
        double noise = 20 * r.nextDouble();
        double offset = r.nextDouble(-20, 20);
        int cut = Math.max(0, Math.min(nz / 8, (nz - ClassifierTraining.NODULE_DEPTH) / 2));
        int maxTop = keepHi < keepLo ? cut : Math.max(0, Math.min(cut, nz - 1 - keepHi));
        int maxBottom = keepHi < keepLo ? cut : Math.max(0, Math.min(cut, keepLo));
        int top = maxTop > 0 ? r.nextInt(maxTop + 1) : 0;
        int bottom = maxBottom > 0 ? r.nextInt(maxBottom + 1) : 0;
        int oz = nz - top - bottom;
        float[] out = new float[nx * ny * oz];
        for (int z = 0; z < oz; z++) {
            for (int y = 0; y < ny; y++) {
                int yy = y - sy;
                for (int x = 0; x < nx; x++) {
                    int xx = (flip ? nx - 1 - x : x) - sx;
                    double hu = xx < 0 || xx >= nx || yy < 0 || yy >= ny ? -1000
                            : (v[((z + bottom) * ny + yy) * nx + xx] - HU_OFFSET) / HU_SCALE;
                    if (hu > -1000) {  // padding and air stay air
                        hu += offset + noise * r.nextGaussian();
                    }
                    out[(z * ny + y) * nx + x] = (float) Math.min(1, Math.max(0, hu * HU_SCALE + HU_OFFSET));
                }
            }
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("flip_lr", flip);
        a.put("shift_voxels", new int[] {sx, sy});
        a.put("noise_hu", noise);
        a.put("offset_hu", offset);
        a.put("slices_dropped", new int[] {bottom, top});
        rec.put("augmentation", a);
        return new Sample(out, oz, rec);
    }

    /** A nodule of equivalent diameter {@code d} mm at world (x, y, z); axes, density and noise as {@link Nodules}. */
    static Nodules.Nodule ofDiameter(SplittableRandom r, double x, double y, double z, double d) {
        Nodules.Nodule n = Nodules.random(r, x, y, z);
        double k = d / n.diameter();
        return new Nodules.Nodule(x, y, z, n.ax() * k, n.ay() * k, n.az() * k, n.hu(), n.noise(), n.edge());
    }

    /** A volume with an inserted nodule, and the slices the nodule reaches ({@code zLo .. zHi}). */
    record Inserted(float[] data, int zLo, int zHi) {
    }

    /**
     * Copy of a case with a nodule of diameter {@code d} at a random voxel of its lungs ({@link Case#noduleSites});
     * {@code rec} says where.
     */
    static Inserted withNodule(Case c, double d, SplittableRandom r, Map<String, Object> rec) {
        if (c.noduleSites().isEmpty()) {
            throw new IllegalArgumentException(c.name() + ": no lung voxel to insert a nodule at");
        }
        int li = c.noduleSites().get(r.nextInt(c.noduleSites().size()));
        int vx = li % c.nx();
        int vy = (li / c.nx()) % c.ny();
        int vz = li / (c.nx() * c.ny());
        double[] aff = c.geometry().affine();
        double[] w = Affine.apply(aff, vx, vy, vz);
        Nodules.Nodule n = ofDiameter(r, w[0], w[1], w[2], d);
        float[] v = c.ct().clone();
        Nodules.insert(v, c.nx(), c.ny(), c.nz(), aff, n, HU_SCALE, HU_OFFSET, r);
        rec.put("nodule_center_voxel", new int[] {vx, vy, vz});
        rec.put("nodule_center_world_mm", w);
        rec.put("nodule_diameter_mm", n.diameter());
        rec.put("nodule_hu", n.hu());
        // semi-axes run along the world axes (processed volumes are RAS): az and 3 edge widths bound it in z
        double sz = Math.abs(c.geometry().spacing()[2]);
        int reach = (int) Math.ceil((n.az() + 3 * n.edge()) / sz);
        return new Inserted(v, Math.max(0, vz - reach), Math.min(c.nz() - 1, vz + reach));
    }

    /** The detector's volume-level logit, exactly as {@code ctcf predict} computes it (224² in, resized to 112²). */
    static double logit(Classifier clf, Case c, float[] data, int nz) {
        Geometry g = Geometry.of(c.nx(), c.ny(), nz, 1.5, 1.5, 3, 0, 0, 0);
        try (Volume v = Volume.of(g, data)) {
            return clf.outputs(v).values()[0];
        }
    }

    /** A labelled set of whole volumes made from the usable cases of one split: the records, without scores yet. */
    record VolumeSet(List<Case> cases, List<Sample> samples, List<Integer> labels, List<Integer> caseOf) {
    }

    /**
     * {@code positives} seeded insertions (diameters cycled, the {@link #hosts} taken in turn) and {@code negatives}
     * (at least one per case: each case itself, then augmentations), every insertion augmented too.
     */
    static VolumeSet volumeSet(List<Case> cases, int positives, int negatives, double[] diameters, long seed,
            String split) {
        List<Case> hosts = hosts(cases);
        SplittableRandom r = new SplittableRandom(seed);
        List<Sample> samples = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        List<Integer> caseOf = new ArrayList<>();
        for (int i = 0; i < Math.max(cases.size(), negatives); i++) {
            Case c = cases.get(i % cases.size());
            Map<String, Object> rec = record(split, c, 0);
            if (i < cases.size()) {
                rec.put("augmentation", "none");
                samples.add(new Sample(c.ct(), c.nz(), rec));
            } else {
                samples.add(augment(c.ct(), c.nx(), c.ny(), c.nz(), r, rec));
            }
            labels.add(0);
            caseOf.add(cases.indexOf(c));
        }
        for (int i = 0; i < positives; i++) {
            Case c = hosts.get(i % hosts.size());
            Map<String, Object> rec = record(split, c, 1);
            Inserted v = withNodule(c, diameters[i % diameters.length], r, rec);
            samples.add(augment(v.data(), c.nx(), c.ny(), c.nz(), r, rec, v.zLo(), v.zHi()));
            labels.add(1);
            caseOf.add(cases.indexOf(c));
        }
        return new VolumeSet(cases, samples, labels, caseOf);
    }

    /**
     * The volumes whole-volume insertions go into: those with a lung mask file when there are any (the −500 HU
     * pseudo-mask also holds the airways and other air inside the body), else those with the pseudo-mask.
     */
    static List<Case> hosts(List<Case> cases) {
        List<Case> usable = cases.stream().filter(c -> !c.nodules() && !c.lungVoxels().isEmpty()).toList();
        List<Case> files = usable.stream().filter(Case::realMask).toList();
        return !files.isEmpty() ? files : usable.stream().filter(Case::lungMask).toList();
    }

    /** Refuses, before training, a split whose volumes give the whole-volume insertions no lung voxel to go to. */
    static void requireHosts(Path manifest, List<Case> cases, String split) throws java.io.IOException {
        if (hosts(cases).isEmpty()) {
            throw new java.io.IOException(manifest + ": no nodule-free " + split + " volume has lung voxels in its"
                    + " mask (after preprocessing) to insert the whole-volume test nodules into: "
                    + cases.stream().map(Case::name).toList());
        }
    }

    private static Map<String, Object> record(String split, Case c, int label) {
        Map<String, Object> rec = new LinkedHashMap<>();
        rec.put("split", split);
        rec.put("volume", c.name());
        rec.put("label", label);
        return rec;
    }

    static double[] logits(Classifier clf, VolumeSet s) {
        double[] out = new double[s.samples().size()];
        for (int i = 0; i < out.length; i++) {
            Sample x = s.samples().get(i);
            out[i] = logit(clf, s.cases().get(s.caseOf().get(i)), x.data(), x.nz());
        }
        return out;
    }

    // ---- calibration ------------------------------------------------------------------------------------------

    /** {@code p = σ(a · logit + c)}. */
    record Calibration(double a, double c) {
    }

    /**
     * Platt scaling: the logistic fit of labels on logits, with Platt's smoothed targets ((N₊ + 1) / (N₊ + 2) and
     * 1 / (N₋ + 2)), which keeps the fit finite when the classes separate. Newton's method on the two parameters with
     * a backtracking line search (Lin, Lin and Weng's note on Platt's method), from a = 1, c = 0: the objective is
     * strictly convex, so it converges. Refused (IllegalStateException) when it does not or when a ≤ 0 (scores that
     * rank nodule-free scans above nodules).
     */
    static Calibration platt(double[] logits, int[] labels) {
        int np = 0;
        for (int l : labels) {
            np += l;
        }
        int nn = labels.length - np;
        if (np == 0 || nn == 0) {
            throw new IllegalArgumentException("calibration needs positives and negatives");
        }
        double[] t = new double[labels.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = labels[i] == 1 ? (np + 1.0) / (np + 2.0) : 1.0 / (nn + 2.0);
        }
        double a = 1;
        double c = 0;
        double f = plattObjective(logits, t, a, c);
        boolean converged = false;
        for (int it = 0; it < 100 && !converged; it++) {
            double ga = 0;
            double gc = 0;
            double haa = 1e-12;
            double hac = 0;
            double hcc = 1e-12;
            for (int i = 0; i < logits.length; i++) {
                double p = sigmoid(a * logits[i] + c);
                double d = p - t[i];
                double w = p * (1 - p);
                ga += d * logits[i];
                gc += d;
                haa += w * logits[i] * logits[i];
                hac += w * logits[i];
                hcc += w;
            }
            if (Math.abs(ga) < 1e-10 * logits.length && Math.abs(gc) < 1e-10 * logits.length) {
                converged = true;
                break;
            }
            double det = haa * hcc - hac * hac;
            double da = -(hcc * ga - hac * gc) / det;
            double dc = -(haa * gc - hac * ga) / det;
            double slope = ga * da + gc * dc;  // < 0: a descent direction (the Hessian is positive definite)
            double step = 1;
            double fn = plattObjective(logits, t, a + da, c + dc);
            while (!(fn <= f + 1e-4 * step * slope) && step > 1e-12) {
                step /= 2;
                fn = plattObjective(logits, t, a + step * da, c + step * dc);
            }
            if (!(fn <= f + 1e-4 * step * slope)) {
                break;  // no decrease left short of the optimum: not converged, refused below
            }
            a += step * da;
            c += step * dc;
            converged = Math.abs(step * da) + Math.abs(step * dc) < 1e-12;
            f = fn;
        }
        if (!converged || !(a > 0) || !Double.isFinite(c)) {
            throw new IllegalStateException(String.format(java.util.Locale.ROOT,
                    "the calibration did not fit (a = %g, c = %g): the detector's volume scores do not separate"
                            + " nodules from nodule-free scans", a, c));
        }
        return new Calibration(a, c);
    }

    /** The cross-entropy of targets {@code t} under σ(a · x + c), computed without overflow. */
    static double plattObjective(double[] x, double[] t, double a, double c) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            double z = a * x[i] + c;
            s += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - t[i] * z;  // log(1 + e^z) − t z
        }
        return s;
    }

    /** Folds {@code a · logit + c} into the head ({@code head.weight}, {@code head.bias}) of the classifier. */
    static void fold(Classifier clf, Calibration cal, Path scratch) throws IOException {
        List<SafeTensors.FloatTensor> ts = new ArrayList<>();
        boolean w = false;
        boolean b = false;
        for (SafeTensors.FloatTensor t : clf.parameterTensors("")) {
            float[] v = t.values().clone();
            if (t.name().equals("head.weight")) {
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (cal.a() * v[i]);
                }
                w = true;
            } else if (t.name().equals("head.bias")) {
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (cal.a() * v[i] + cal.c());
                }
                b = true;
            }
            ts.add(new SafeTensors.FloatTensor(t.name(), t.shape(), v));
        }
        if (!w || !b) {
            throw new IllegalStateException("the detector has no head.weight / head.bias to fold the calibration into");
        }
        SafeTensors.writeF32(scratch, ts, Map.of("format", "pt"));
        clf.loadWeights(scratch, "");
        Files.delete(scratch);
    }

    // ---- metrics ----------------------------------------------------------------------------------------------

    static double sigmoid(double x) {
        return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    }

    /** AUC of the set's positives (diameter ≥ {@code minDiameter}) against all its negatives. */
    static double auc(VolumeSet s, double[] scores, double minDiameter) {
        List<Double> pos = new ArrayList<>();
        List<Double> neg = new ArrayList<>();
        for (int i = 0; i < scores.length; i++) {
            Map<String, Object> rec = s.samples().get(i).record();
            if (s.labels().get(i) == 0) {
                neg.add(scores[i]);
            } else if ((double) rec.get("nodule_diameter_mm") >= minDiameter - 1e-9) {
                pos.add(scores[i]);
            }
        }
        return Nodules.auc(pos.stream().mapToDouble(Double::doubleValue).toArray(),
                neg.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /** The fraction of insertions of diameter {@code d} whose probability is at least 0.5. */
    static double sensitivity(VolumeSet s, double[] probs, double d) {
        int n = 0;
        int hit = 0;
        for (int i = 0; i < probs.length; i++) {
            if (s.labels().get(i) == 1
                    && Math.abs((double) s.samples().get(i).record().get("nodule_diameter_mm") - d) < 1e-6) {
                n++;
                hit += probs[i] >= 0.5 ? 1 : 0;
            }
        }
        return n == 0 ? Double.NaN : (double) hit / n;  // NaN: no insertion of that size (null in the card)
    }

    static double round(double v, int digits) {
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }

    /**
     * Lung fraction of a processed case as {@code ctcf predict} reports it: the share of its voxels in the −500 HU
     * pseudo-mask (air inside the body), whatever mask the manifest gives.
     */
    static double lungFraction(Case c) {
        return org.ctcf.api.InputDomain.lungFraction(c.ct(), c.nx(), c.ny(), c.nz(), ClassifierTraining.LUNG_THRESHOLD);
    }

    /**
     * The input domain the card states: half the smallest lung fraction ({@link #lungFraction}) among the training
     * volumes, rounded down to 3 decimals (at least 0.001).
     */
    static double domainMin(List<Case> train) {
        double min = train.stream().mapToDouble(NoduleTraining::lungFraction).min().orElseThrow();
        return Math.max(0.001, Math.floor(min / 2 * 1000) / 1000);
    }

    /**
     * After training: calibrate on the calibration cases (whole volumes), fold the calibration into the head, test
     * on the held-out cases and score every nodule-free real scan. Writes {@code weights} (once calibrated) and
     * {@code volume-test-set.json}.
     */
    static Map<String, Object> calibrateAndTest(Classifier clf, List<Case> calibration, String calibrationSplit,
            List<Case> test, List<Case> realScans, int positives, long seed, Path out, Path weights)
            throws IOException {
        clf.setInputSize(ClassifierTraining.MODEL_SIZE, ClassifierTraining.MODEL_SIZE);
        VolumeSet cal = volumeSet(calibration, positives, positives, CALIBRATION_DIAMETERS, seed + 2_000_003L,
                calibrationSplit);
        double[] calLogits = logits(clf, cal);
        int[] calLabels = cal.labels().stream().mapToInt(Integer::intValue).toArray();
        Calibration fit;
        String failed = null;
        try {
            fit = platt(calLogits, calLabels);
            fold(clf, fit, out.resolve("calibrating.safetensors"));
        } catch (IllegalStateException e) {
            // an undertrained detector: keep its weights as they are (nothing is lost) and say so in the card
            fit = new Calibration(1, 0);
            failed = e.getMessage();
        }
        clf.saveSafetensors(weights, "");  // the calibrated weights are kept whatever happens in the tests

        VolumeSet ts = volumeSet(test, positives, positives / 2, DIAMETERS, seed + 3_000_017L, "held-out");
        double[] tl = logits(clf, ts);
        double[] tp = new double[tl.length];
        for (int i = 0; i < tl.length; i++) {
            tp[i] = sigmoid(tl[i]);
        }
        List<Map<String, Object>> records = new ArrayList<>();
        for (int i = 0; i < cal.samples().size(); i++) {
            Map<String, Object> rec = new LinkedHashMap<>(cal.samples().get(i).record());
            rec.put("uncalibrated_logit", calLogits[i]);
            rec.put("score", sigmoid(fit.a() * calLogits[i] + fit.c()));
            records.add(rec);
        }
        for (int i = 0; i < ts.samples().size(); i++) {
            Map<String, Object> rec = new LinkedHashMap<>(ts.samples().get(i).record());
            rec.put("logit", tl[i]);
            rec.put("score", tp[i]);
            records.add(rec);
        }
        List<Map<String, Object>> scans = new ArrayList<>();
        for (Case c : realScans) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("volume", c.name());
            row.put("split", test.contains(c) ? "held-out" : calibration.contains(c) ? calibrationSplit : "train");
            row.put("score", round(sigmoid(logit(clf, c, c.ct(), c.nz())), 4));
            row.put("lung_fraction", round(lungFraction(c), 4));
            scans.add(row);
        }
        Map<String, Object> set = new LinkedHashMap<>();
        set.put("grid", "processed: RAS, 1.5 x 1.5 x 3 mm, 224 x 224 in-plane (the detector resizes to 112 x 112)");
        Map<String, Object> cals = new LinkedHashMap<>();
        cals.put("a", fit.a());
        cals.put("c", fit.c());
        cals.put("split", calibrationSplit);
        cals.put("seed", seed + 2_000_003L);
        set.put("calibration", cals);
        set.put("test_seed", seed + 3_000_017L);
        set.put("volumes", records);
        Path file = out.resolve("volume-test-set.json");
        AtomicFiles.write(file, JSON.writeValueAsBytes(set));

        Map<String, Object> m = new LinkedHashMap<>();
        m.put("volume_auc", round(auc(ts, tl, 0), 4));
        m.put("volume_auc_10mm_and_larger", round(auc(ts, tl, 10), 4));
        Map<String, Object> sens = new LinkedHashMap<>();
        for (double d : DIAMETERS) {
            double sd = sensitivity(ts, tp, d);
            sens.put(String.format(java.util.Locale.ROOT, "%.0f_mm", d), Double.isNaN(sd) ? null : round(sd, 4));
        }
        m.put("volume_sensitivity_at_0.5", sens);
        int neg = (int) ts.labels().stream().filter(l -> l == 0).count();
        Map<String, Object> vt = new LinkedHashMap<>();
        vt.put("positives", ts.labels().size() - neg);
        vt.put("negatives", neg);
        vt.put("patients", test.stream().map(Case::name).toList());
        m.put("volume_test", vt);
        double specificity = 0;
        for (int i = 0; i < tp.length; i++) {
            if (ts.labels().get(i) == 0 && tp[i] < 0.5) {
                specificity++;
            }
        }
        m.put("volume_specificity_at_0.5", round(specificity / neg, 4));
        Map<String, Object> calm = new LinkedHashMap<>();
        calm.put("a", round(fit.a(), 6));
        calm.put("c", round(fit.c(), 6));
        calm.put("split", calibrationSplit);
        calm.put("volumes", calibration.stream().map(Case::name).toList());
        if (failed != null) {
            calm.put("not_applied", failed);
        }
        m.put("calibration", calm);
        m.put("nodule_free_scans", scans);
        m.put("volume_test_set", file.getFileName().toString());
        return m;
    }
}
