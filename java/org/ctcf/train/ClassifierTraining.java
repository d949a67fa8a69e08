package org.ctcf.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.ctcf.api.Classifier;
import org.ctcf.core.Geometry;
import org.ctcf.api.Kernel;
import org.ctcf.api.Metrics;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.Trainer;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;
import org.ctcf.io.checkpoint.SafeTensors;

/**
 * {@code ctcf train classifier}: the two demo classifiers, trained in the kernel on the manifest's {@code train}
 * volumes and tested on its {@code val} (held-out) volumes.
 * <ul>
 * <li>{@link Task#LUNG_SIZE}: {@code ctcf-lungseg}, a per-slice lung segmenter trained on lung masks (shipped masks
 * where the manifest lists one, −500 HU pseudo-labels elsewhere); its score is the mean lung probability. Test: Dice
 * against the held-out patient's mask.
 * <li>{@link Task#NODULE}: {@code ctcf-nodule3d}, a 3-D detector of synthetic nodules ({@link Nodules}) inserted
 * inside the lungs; trained on crops with hard negatives mined from whole volumes, calibrated and tested on whole
 * volumes ({@link NoduleTraining}), and tested by AUC on seeded crops of the held-out patient whose nodule positions
 * are written to {@code test-set.json}.
 * </ul>
 * Batches are a function of (seed, step), so runs are reproducible and resume exactly.
 */
public final class ClassifierTraining {
    public enum Task {
        LUNG_SIZE("ctcf-lungseg", "lung-size"), NODULE("ctcf-nodule3d", "nodule-detector");

        public final String architecture;
        public final String fileName;

        Task(String architecture, String fileName) {
            this.architecture = architecture;
            this.fileName = fileName;
        }

        public static Task parse(String s) {
            return switch (s) {
                case "lung-size", "lungs" -> LUNG_SIZE;
                case "nodule", "nodule-detector" -> NODULE;
                default -> throw new IllegalArgumentException("unknown task '" + s + "' (lung-size, nodule)");
            };
        }
    }

    /**
     * Crop sizes are in processed voxels (1.5 mm in-plane, 3 mm between slices); the model sees them halved.
     * {@code width}: the nodule detector's base channels ({@code ctcf-nodule3d-wN}), ignored for lung size;
     * {@code labelSmoothing}: the BCE targets' pull towards 1/2 ({@link Trainer.Options#withLabelSmoothing});
     * {@code noiseHu}: nodule detector, the largest σ (HU) of the Gaussian noise added to every training crop at the
     * model's resolution (σ uniform in [0, noiseHu] per crop; 0: none); {@code vessels}: nodule detector, the
     * probability that a training crop gets a synthetic vessel ({@link NoduleTraining#vessel}); both ignored for lung
     * size.
     */
    public record Options(Task task, long steps, int batch, double learningRate, long seed, int testCrops,
            int testVolumes, long checkpointEvery, int width, double labelSmoothing, double noiseHu,
            double vessels) {
        public Options {
            if (!(noiseHu >= 0 && noiseHu <= 500)) {
                throw new IllegalArgumentException("training noise must be 0..500 HU, not " + noiseHu);
            }
            if (!(vessels >= 0 && vessels <= 1)) {
                throw new IllegalArgumentException("the synthetic-vessel probability must be in [0, 1], not " + vessels);
            }
            if (steps < 1 || batch < 1 || testCrops < 2 || testVolumes < 2 || checkpointEvery < 1) {
                throw new IllegalArgumentException(
                        "steps, batch, checkpoint-every >= 1 and test crops, test volumes >= 2");
            }
            if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
                throw new IllegalArgumentException("label smoothing must be in [0, 1), not " + labelSmoothing);
            }
            if (task == Task.NODULE && (width < 4 || width > 64)) {
                throw new IllegalArgumentException("the nodule detector's width must be 4..64, not " + width);
            }
        }

        /** The built-in architecture trained: the task's, with the width for the nodule detector. */
        public String architecture() {
            return task == Task.NODULE && width != 8 ? task.architecture + "-w" + width : task.architecture;
        }
    }

    public interface Listener {
        void step(Trainer.Stats stats, long total, double seconds);

        /** Hard negatives were mined before step {@code step} (0-based): {@code windows} kept. */
        default void mined(long step, int windows, double seconds) {
        }
    }

    /**
     * {@code lungFractionMin}: the input domain the card states (nodule detector), else NaN; {@code trainVolumes}: the
     * file names of the training volumes used (a manifest's volume too shallow or without lungs is left out).
     */
    public record Result(Path weights, Path checkpoint, long steps, double seconds, Map<String, Object> metrics,
            double lungFractionMin, List<String> trainVolumes) {
    }

    /** The grid every demo classifier works on (as its card states), and the size the model sees. */
    public static final PreprocessOptions PREPROCESSING = PreprocessOptions.reference();
    public static final int MODEL_SIZE = 112;
    static final int SLAB = 4;
    static final int NODULE_DEPTH = 16;
    static final int NODULE_CROP = 96;
    static final int TEST_DEPTH = 24;
    static final int TEST_CROP = 128;
    /** HU → window units of {@link #PREPROCESSING}: {@code (hu − low) / WINDOW_WIDTH}. */
    private static final double WINDOW_WIDTH = PREPROCESSING.windowHigh() - PREPROCESSING.windowLow();
    static final float LUNG_THRESHOLD = (float) ((-500 - PREPROCESSING.windowLow()) / WINDOW_WIDTH);

    /**
     * A processed CT with its lung labels; {@code noduleSites}: the lung voxels a training nodule may be centred on
     * ({@link NoduleTraining#lungComponents}).
     */
    record Case(String name, float[] ct, float[] lungs, int nx, int ny, int nz, Geometry geometry, boolean realMask,
            List<Integer> lungVoxels, boolean lungMask, boolean nodules, List<Integer> noduleSites) {
    }

    private ClassifierTraining() {
    }

    static Case load(Kernel k, Manifest.Entry e) throws IOException {
        try (Volume ct = VolumeIO.read(e.volume()); Volume x = k.preprocess(ct, PREPROCESSING)) {
            float[] v = Metrics.toArray(x);
            float[] lungs = e.mask() != null ? LungLabels.fromMask(k, e.mask(), PREPROCESSING, x)
                    : LungLabels.threshold(v, x.nx(), x.ny(), x.nz(), LUNG_THRESHOLD);
            List<Integer> idx = new ArrayList<>();
            for (int i = 0; i < lungs.length; i++) {
                if (lungs[i] > 0.5f) {
                    idx.add(i);
                }
            }
            List<Integer> sites = e.mask() != null ? idx : NoduleTraining.lungComponents(idx, x.nx(), x.ny(), x.nz());
            return new Case(e.volume().getFileName().toString(), v, lungs, x.nx(), x.ny(), x.nz(), x.geometry(),
                    e.mask() != null, idx, e.hasLungMask(), e.nodules(), sites);
        }
    }

    public static Result run(Kernel k, Manifest m, Options o, Path out, boolean resume, Listener listener)
            throws IOException {
        boolean nodule = o.task() == Task.NODULE;
        if (nodule) {
            NoduleTraining.check(m);
        }
        Files.createDirectories(out);
        long t0 = System.nanoTime();
        List<Case> train = new ArrayList<>();
        for (Manifest.Entry e : m.train()) {
            if (nodule && e.nodules()) {
                continue;  // real nodules: neither a negative nor a clean host
            }
            Case c = load(k, e);
            int minDepth = o.task() == Task.LUNG_SIZE ? SLAB : NODULE_DEPTH;
            if (c.nz() >= minDepth && c.lungVoxels().size() > 100) {
                train.add(c);
            }
        }
        if (train.isEmpty()) {
            throw new IOException(m.file() + ": no training volume is deep enough and has lungs");
        }
        List<Case> test = new ArrayList<>();
        for (Manifest.Entry e : m.validation()) {
            test.add(load(k, e));
        }
        List<Case> calib = new ArrayList<>();
        for (Manifest.Entry e : nodule ? m.calibration() : List.<Manifest.Entry>of()) {
            calib.add(load(k, e));
        }
        if (nodule) {
            NoduleTraining.requireHosts(m.file(), test, "val");
            if (!calib.isEmpty()) {
                NoduleTraining.requireHosts(m.file(), calib, "calib");
            }
        }
        List<Case> hosts = train.stream().filter(Case::lungMask).toList();
        if (nodule && hosts.isEmpty()) {
            throw new IOException(m.file() + ": no training volume with a lung mask is deep enough ("
                    + NODULE_DEPTH + " processed slices) and has lungs");
        }
        NoduleTraining.Miner miner = new NoduleTraining.Miner(out.resolve("hard-negatives.json"));
        Path ckpt = out.resolve("checkpoint.safetensors");
        Path weights = out.resolve(o.task().fileName + ".safetensors");
        if (!resume || !Files.isRegularFile(ckpt)) {
            Trainer.manualSeed(o.seed());
        }
        boolean resuming = resume && Files.isRegularFile(ckpt);
        if (resuming) {
            requireRecipe(ckpt, o);
        }
        try (Classifier clf = Classifier.builtin(o.architecture(), 1, Classifier.Layout.BCDHW, 0, k)) {
            if (resuming) {
                clf.loadWeights(ckpt, "");
            }
            clf.setInputSize(o.task() == Task.LUNG_SIZE ? MODEL_SIZE : 0, o.task() == Task.LUNG_SIZE ? MODEL_SIZE : 0);
            try (Trainer t = Trainer.forClassifier(clf, Trainer.Options.defaults().withLearningRate(o.learningRate())
                    .withBetas(0.9, 0.999).withLabelSmoothing(o.labelSmoothing()))) {
                if (resuming) {
                    t.loadState(ckpt);
                    if (nodule) {
                        miner.load(hardNegatives(ckpt), ckpt);
                    }
                }
                long tl = System.nanoTime();
                for (long s = t.steps(); s < o.steps(); s++) {
                    SplittableRandom r = new SplittableRandom(o.seed() ^ (0x9E3779B97F4A7C15L * (s + 1)));
                    if (nodule) {
                        double mined = miner.before(s, clf, train);
                        if (mined > 0) {
                            listener.mined(s, miner.windows().size(), mined);
                        }
                    }
                    Trainer.Stats st = o.task() == Task.LUNG_SIZE ? lungStep(t, train, r, o.batch())
                            : NoduleTraining.step(t, hosts, train, miner.windows(), r, o.batch(),
                                    o.noiseHu(), o.vessels());
                    long now = System.nanoTime();
                    listener.step(st, o.steps(), (now - tl) / 1e9);
                    tl = now;
                    if ((s + 1) % o.checkpointEvery() == 0 || s + 1 == o.steps()) {
                        List<SafeTensors.FloatTensor> ts = new ArrayList<>(clf.parameterTensors(""));
                        ts.addAll(t.stateTensors(SliceAutoencoder.TRAINER_PREFIX));
                        Map<String, String> meta = new LinkedHashMap<>();
                        meta.put("format", "pt");
                        meta.put(RECIPE, recipe(o));
                        if (nodule) {
                            meta.put(HARD_NEGATIVES, miner.json());  // one atomic file: weights, state, windows
                        }
                        SafeTensors.writeF32(ckpt, ts, meta);  // atomic
                        if (nodule) {
                            miner.save();
                        }
                    }
                }
            }
            Map<String, Object> metrics;
            if (nodule) {
                List<Case> free = test.stream().filter(c -> !c.nodules()).toList();
                List<Case> real = new ArrayList<>(train);
                real.addAll(calib.stream().filter(c -> !c.nodules()).toList());
                real.addAll(free);
                metrics = new LinkedHashMap<>(NoduleTraining.calibrateAndTest(clf,
                        calib.isEmpty() ? train : calib.stream().filter(c -> !c.nodules()).toList(),
                        calib.isEmpty() ? "train" : "calib", free, real, o.testVolumes(), o.seed(), out, weights));
                metrics.putAll(noduleMetrics(clf, free, o, out));
            } else {
                metrics = lungMetrics(clf, train, test);
                clf.saveSafetensors(weights, "");  // the detector's were written once calibrated
            }
            return new Result(weights, ckpt, o.steps(), (System.nanoTime() - t0) / 1e9, metrics,
                    nodule ? NoduleTraining.domainMin(train) : Double.NaN, train.stream().map(Case::name).toList());
        }
    }

    /** Checkpoint metadata: the options a resumed run must repeat ({@link #recipe}). */
    static final String RECIPE = "ctcf.recipe";
    /** The checkpoint metadata key of the nodule detector's hard-negative windows at that step. */
    static final String HARD_NEGATIVES = "ctcf.hard_negatives";

    /**
     * What a resumed run must share with the run that wrote the checkpoint: everything of {@link Options} that shapes
     * the batches, the loss or the model, all but the number of steps (a run may be continued for longer) and the test
     * sizes (used after training).
     */
    static String recipe(Options o) {
        return String.format(java.util.Locale.ROOT,
                "task=%s architecture=%s batch=%d lr=%s seed=%d label_smoothing=%s noise_hu=%s vessels=%s",
                o.task().fileName, o.architecture(), o.batch(), o.learningRate(), o.seed(), o.labelSmoothing(),
                o.task() == Task.NODULE ? o.noiseHu() : 0.0, o.task() == Task.NODULE ? o.vessels() : 0.0);
    }

    /** Refuses to resume from a checkpoint written with another recipe (one without a recipe is taken as it is). */
    static void requireRecipe(Path ckpt, Options o) throws IOException {
        try (org.ctcf.io.checkpoint.Checkpoint c = org.ctcf.io.checkpoint.Checkpoint.open(ckpt)) {
            if (c.root() instanceof Map<?, ?> meta && meta.get(RECIPE) instanceof String s && !s.equals(recipe(o))) {
                throw new IOException(ckpt + ": written by a run with other options (" + s + "); this run has "
                        + recipe(o) + ". Resume with the same options, or train into another --out");
            }
        }
    }

    /** The hard-negative windows a checkpoint was written with. */
    static String hardNegatives(Path ckpt) throws IOException {
        try (org.ctcf.io.checkpoint.Checkpoint c = org.ctcf.io.checkpoint.Checkpoint.open(ckpt)) {
            if (c.root() instanceof Map<?, ?> meta && meta.get(HARD_NEGATIVES) instanceof String s) {
                return s;
            }
        }
        throw new IOException(ckpt + ": a nodule-detector checkpoint without its hard-negative windows ("
                + HARD_NEGATIVES + "); resume needs the checkpoint this version writes");
    }

    // ---- lung size ------------------------------------------------------------------------------------------

    private static Trainer.Stats lungStep(Trainer t, List<Case> cases, SplittableRandom r, int batch) {
        Case first = cases.get(0);
        int nx = first.nx();
        int ny = first.ny();
        float[] x = new float[batch * SLAB * nx * ny];
        float[] y = new float[x.length];
        for (int b = 0; b < batch; b++) {
            Case c = cases.get(r.nextInt(cases.size()));
            int z0 = r.nextInt(c.nz() - SLAB + 1);
            int plane = nx * ny;
            System.arraycopy(c.ct(), z0 * plane, x, b * SLAB * plane, SLAB * plane);
            System.arraycopy(c.lungs(), z0 * plane, y, b * SLAB * plane, SLAB * plane);
        }
        long[] shape = {batch, SLAB, ny, nx};
        return t.stepClassifier(x, shape, y, shape);
    }

    private static Map<String, Object> lungMetrics(Classifier clf, List<Case> train, List<Case> test) {
        clf.setInputSize(MODEL_SIZE, MODEL_SIZE);
        Map<String, Object> m = new LinkedHashMap<>();
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Case c : test) {
            rows.add(lungRow(clf, c, "held-out"));
        }
        for (Case c : train) {
            if (c.realMask()) {
                rows.add(lungRow(clf, c, "train"));
            }
        }
        m.put("dice", rows);
        return m;
    }

    private static Map<String, Object> lungRow(Classifier clf, Case c, String split) {
        Classifier.Outputs out;
        try (Volume v = Volume.of(c.geometry(), c.ct())) {
            out = clf.outputs(v);
        }
        // outputs [1, 1, D, 112, 112] logits; the label halved in-plane (2 x 2 means) to the same grid
        int ox = (int) out.shape()[4];
        int oy = (int) out.shape()[3];
        float[] label = new float[c.nz() * ox * oy];
        float[] pred = new float[label.length];
        double prob = 0;
        for (int z = 0; z < c.nz(); z++) {
            float[] half = SliceSet.half(java.util.Arrays.copyOfRange(c.lungs(), z * c.nx() * c.ny(),
                    (z + 1) * c.nx() * c.ny()), c.nx(), c.ny());
            System.arraycopy(half, 0, label, z * ox * oy, ox * oy);
        }
        double truth = 0;
        for (int i = 0; i < pred.length; i++) {
            double p = 1 / (1 + Math.exp(-out.values()[i]));
            prob += p;
            pred[i] = p >= 0.5 ? 1f : 0f;
            truth += label[i];
        }
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("volume", c.name());
        row.put("split", split);
        row.put("label", c.realMask() ? "shipped lung mask" : "-500 HU pseudo-label");
        row.put("dice", LungLabels.dice(pred, label));
        row.put("score_mean_lung_probability", prob / pred.length);
        row.put("true_lung_fraction", truth / pred.length);
        return row;
    }

    // ---- nodule detector ------------------------------------------------------------------------------------

    /** A crop [depth, size, size] of a case centred near a random lung voxel, with or without a nodule. */
    record Crop(float[] halved, float[] mask, int depth, int half, Nodules.Nodule nodule, int[] origin) {
    }

    static Crop crop(Case c, SplittableRandom r, int depth, int size, boolean positive) {
        return crop(c, r, depth, size, positive, false);
    }

    /** {@code jitter}: after the insertion, a random intensity offset and Gaussian noise (see {@link #jitter}). */
    static Crop crop(Case c, SplittableRandom r, int depth, int size, boolean positive, boolean jitter) {
        List<Integer> sites = positive ? c.noduleSites() : c.lungVoxels();
        int li = sites.get(r.nextInt(sites.size()));
        int cx = li % c.nx();
        int cy = (li / c.nx()) % c.ny();
        int cz = li / (c.nx() * c.ny());
        // the crop around the lung voxel, shifted at random so the nodule is not always centred
        int x0 = clamp(cx - size / 2 + r.nextInt(-size / 4, size / 4 + 1), 0, c.nx() - size);
        int y0 = clamp(cy - size / 2 + r.nextInt(-size / 4, size / 4 + 1), 0, c.ny() - size);
        int z0 = clamp(cz - depth / 2 + r.nextInt(-depth / 4, depth / 4 + 1), 0, c.nz() - depth);
        float[] v = window(c, x0, y0, z0, depth, size);
        double[] sp = c.geometry().spacing();
        Nodules.Nodule n = null;
        float[] m = new float[v.length];
        if (positive) {
            // crop-local world frame: voxel (x, y, z) -> (x sx, y sy, z sz)
            n = Nodules.random(r, (cx - x0) * sp[0], (cy - y0) * sp[1], (cz - z0) * sp[2]);
            double[] aff = {sp[0], 0, 0, 0, 0, sp[1], 0, 0, 0, 0, sp[2], 0, 0, 0, 0, 1};
            Nodules.insert(v, size, size, depth, aff, n, 1 / WINDOW_WIDTH, -PREPROCESSING.windowLow() / WINDOW_WIDTH,
                    r);
            Nodules.mask(m, size, size, depth, aff, n);
        }
        if (jitter) {
            jitter(v, r);
        }
        return new Crop(halve(v, depth, size), halve(m, depth, size), depth, size / 2, n, new int[] {x0, y0, z0});
    }

    /** The window [depth, size, size] of a case at an origin (processed voxels). */
    static float[] window(Case c, int x0, int y0, int z0, int depth, int size) {
        float[] v = new float[depth * size * size];
        for (int z = 0; z < depth; z++) {
            for (int y = 0; y < size; y++) {
                System.arraycopy(c.ct(), ((z0 + z) * c.ny() + y0 + y) * c.nx() + x0, v, (z * size + y) * size, size);
            }
        }
        return v;
    }

    /** {@link #window}, halved in-plane as the model sees it. */
    static float[] halvedWindow(Case c, int x0, int y0, int z0, int depth, int size) {
        return halve(window(c, x0, y0, z0, depth, size), depth, size);
    }

    /** A nodule-free crop at an origin, clamped into the volume, jittered ({@link #jitter}) when {@code r} is given. */
    static Crop cropAt(Case c, int x0, int y0, int z0, int depth, int size, SplittableRandom r) {
        int x = clamp(x0, 0, c.nx() - size);
        int y = clamp(y0, 0, c.ny() - size);
        int z = clamp(z0, 0, c.nz() - depth);
        float[] v = window(c, x, y, z, depth, size);
        if (r != null) {
            jitter(v, r);
        }
        return new Crop(halve(v, depth, size), new float[depth * (size / 2) * (size / 2)], depth, size / 2, null,
                new int[] {x, y, z});
    }

    /**
     * Scanner variation for training crops (window units): with probability one half, an intensity offset in
     * ±20 HU and Gaussian noise of σ up to 20 HU; air at the window's floor (padding, outside the body) stays.
     */
    static void jitter(float[] v, SplittableRandom r) {
        if (r.nextBoolean()) {
            return;
        }
        double offset = r.nextDouble(-20, 20) / WINDOW_WIDTH;
        double sigma = 20 * r.nextDouble() / WINDOW_WIDTH;
        perturb(v, offset, sigma, r);
    }

    /**
     * Adds {@code offset} and Gaussian noise of σ {@code sigma} (both in window units) to every voxel above air
     * padding (0), clamped to [0, 1].
     */
    static void perturb(float[] v, double offset, double sigma, SplittableRandom r) {
        for (int i = 0; i < v.length; i++) {
            if (v[i] > 0f) {
                v[i] = (float) Math.min(1, Math.max(0, v[i] + offset + sigma * r.nextGaussian()));
            }
        }
    }

    private static float[] halve(float[] v, int depth, int size) {
        float[] halved = new float[depth * (size / 2) * (size / 2)];
        for (int z = 0; z < depth; z++) {
            float[] h = SliceSet.half(java.util.Arrays.copyOfRange(v, z * size * size, (z + 1) * size * size), size,
                    size);
            System.arraycopy(h, 0, halved, z * h.length, h.length);
        }
        return halved;
    }

    private static int clamp(int v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    private static Map<String, Object> noduleMetrics(Classifier clf, List<Case> test, Options o, Path out)
            throws IOException {
        clf.setInputSize(0, 0);
        SplittableRandom r = new SplittableRandom(o.seed() + 1_000_003L);
        List<Double> pos = new ArrayList<>();
        List<Double> neg = new ArrayList<>();
        List<Map<String, Object>> records = new ArrayList<>();
        List<Double> byDiameter = new ArrayList<>();
        for (int i = 0; i < o.testCrops(); i++) {
            Case c = test.get(i % test.size());
            boolean positive = i % 2 == 0;
            Crop cr = crop(c, r, TEST_DEPTH, TEST_CROP, positive);
            double score;
            try (Volume v = Volume.of(Geometry.of(cr.half(), cr.half(), cr.depth(), 3, 3, 3, 0, 0, 0), cr.halved())) {
                double logit = clf.outputs(v).values()[0];
                score = 1 / (1 + Math.exp(-logit));
            }
            (positive ? pos : neg).add(score);
            Map<String, Object> rec = new LinkedHashMap<>();
            rec.put("volume", c.name());
            rec.put("crop_origin_voxel", cr.origin());
            rec.put("crop_size_voxels", new int[] {TEST_CROP, TEST_CROP, TEST_DEPTH});
            rec.put("label", positive ? 1 : 0);
            rec.put("score", score);
            if (cr.nodule() != null) {
                Nodules.Nodule n = cr.nodule();
                double[] sp = c.geometry().spacing();
                double vx = n.x() / sp[0] + cr.origin()[0];
                double vy = n.y() / sp[1] + cr.origin()[1];
                double vz = n.z() / sp[2] + cr.origin()[2];
                rec.put("nodule_center_voxel", new double[] {vx, vy, vz});
                rec.put("nodule_center_world_mm", org.ctcf.core.Affine.apply(c.geometry().affine(), vx, vy, vz));
                rec.put("nodule_diameter_mm", n.diameter());
                rec.put("nodule_hu", n.hu());
                byDiameter.add(n.diameter());
            }
            records.add(rec);
        }
        double auc = Nodules.auc(pos.stream().mapToDouble(Double::doubleValue).toArray(),
                neg.stream().mapToDouble(Double::doubleValue).toArray());
        Map<String, Object> set = new LinkedHashMap<>();
        set.put("grid", "processed: RAS, 1.5 x 1.5 x 3 mm, 224 x 224 in-plane; crops halved in-plane for the model");
        set.put("seed", o.seed() + 1_000_003L);
        set.put("crops", records);
        Path file = out.resolve("test-set.json");
        new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(file.toFile(),
                set);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("held_out_auc", auc);
        m.put("test_crops", o.testCrops());
        m.put("positives", pos.size());
        m.put("negatives", neg.size());
        m.put("test_set", file.getFileName().toString());
        return m;
    }
}
