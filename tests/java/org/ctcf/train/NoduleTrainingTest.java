package org.ctcf.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.ctcf.SharedKernel;
import org.ctcf.api.Classifier;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The nodule detector's volume-level training parts: manifest checks, mining, augmentation, calibration. */
class NoduleTrainingTest {
    @RegisterExtension
    static final SharedKernel KERNEL = new SharedKernel();

    @TempDir
    Path tmp;

    private Manifest manifest(String text) throws IOException {
        for (String f : List.of("a.nii.gz", "b.nii.gz", "c.nii.gz", "m.nii.gz")) {
            Files.writeString(tmp.resolve(f), "x");
        }
        Path m = tmp.resolve("manifest.txt");
        Files.writeString(m, text);
        return Manifest.read(m, null);
    }

    @Test
    void manifestFieldsForTheDetector() throws IOException {
        Manifest m = manifest("train a.nii.gz mask=threshold patient=p1\ntrain b.nii.gz nodules=present patient=p2\n"
                + "calib c.nii.gz mask=m.nii.gz patient=p3\nval c.nii.gz mask=threshold patient=p4\n");
        assertThat(m.train()).extracting(Manifest.Entry::thresholdMask).containsExactly(true, false);
        assertThat(m.train()).extracting(Manifest.Entry::nodules).containsExactly(false, true);
        assertThat(m.train()).extracting(Manifest.Entry::hasLungMask).containsExactly(true, false);
        assertThat(m.calibration()).singleElement().satisfies(e -> assertThat(e.mask()).isEqualTo(tmp.resolve(
                "m.nii.gz")));
        assertThat(m.validation()).singleElement().satisfies(e -> assertThat(e.patient()).isEqualTo("p4"));
        NoduleTraining.check(m);  // usable

        assertThatThrownBy(() -> manifest("train a.nii.gz nodules=maybe\n")).hasMessageContaining("manifest.txt:1")
                .hasMessageContaining("present or absent");
        assertThatThrownBy(() -> manifest("train a.nii.gz patient=x\ncalib b.nii.gz patient=y\nval c.nii.gz patient=y\n"))
                .hasMessageContaining("manifest.txt:3").hasMessageContaining("both calib and val");
    }

    @Test
    void aManifestTheDetectorCannotUseFailsBeforeTraining() throws IOException {
        Manifest noFree = manifest("train a.nii.gz mask=threshold nodules=present\nval c.nii.gz mask=threshold\n");
        assertThatThrownBy(() -> NoduleTraining.check(noFree)).hasMessageContaining("manifest.txt")
                .hasMessageContaining("no nodule-free training volume");
        Manifest noMask = manifest("train a.nii.gz\ntrain b.nii.gz mask=threshold nodules=present\n"
                + "val c.nii.gz mask=threshold\n");
        assertThatThrownBy(() -> NoduleTraining.check(noMask)).hasMessageContaining("no nodule-free training volume"
                + " has a lung mask").hasMessageContaining("mask=threshold");
        Manifest noVal = manifest("train a.nii.gz mask=threshold\n");
        assertThatThrownBy(() -> NoduleTraining.check(noVal)).hasMessageContaining("no 'val' volume");
        Manifest valNoMask = manifest("train a.nii.gz mask=threshold\nval c.nii.gz patient=q\n");
        assertThatThrownBy(() -> NoduleTraining.check(valNoMask)).hasMessageContaining("no nodule-free 'val' volume"
                + " with a lung mask");
        Manifest calibNoMask = manifest("train a.nii.gz mask=threshold\ncalib b.nii.gz patient=r\n"
                + "val c.nii.gz mask=threshold patient=q\n");
        assertThatThrownBy(() -> NoduleTraining.check(calibNoMask)).hasMessageContaining("'calib' volume");
        // and through the command: nothing is trained, the error names the manifest
        Path out = tmp.resolve("out");
        assertThatThrownBy(() -> ClassifierTraining.run(KERNEL.get(), noMask, new ClassifierTraining.Options(
                ClassifierTraining.Task.NODULE, 5, 2, 1e-3, 0, 2, 2, 10, 8, 0.1, 0, 0), out, false, (s, t, sec) -> { }))
                .hasMessageContaining("manifest.txt");
        assertThat(out).doesNotExist();
    }

    @Test
    void windowsCoverEveryAxisWithHalfOverlap() {
        assertThat(NoduleTraining.starts(224, 96)).containsExactly(0, 48, 96, 128);
        assertThat(NoduleTraining.starts(96, 96)).containsExactly(0);
        assertThat(NoduleTraining.starts(40, 16)).containsExactly(0, 8, 16, 24);
        assertThat(NoduleTraining.starts(41, 16)).containsExactly(0, 8, 16, 24, 25);
    }

    @Test
    void flipReversesEveryRow() {
        float[] a = {1, 2, 3, 4, 5, 6};
        NoduleTraining.flipX(a, 3);
        assertThat(a).containsExactly(3, 2, 1, 6, 5, 4);
        NoduleTraining.flipX(a, 3);
        assertThat(a).containsExactly(1, 2, 3, 4, 5, 6);
    }

    @Test
    void aSyntheticVesselTouchesThePositivesNoduleAndPaintsLungOnly() {
        double width = ClassifierTraining.PREPROCESSING.windowHigh() - ClassifierTraining.PREPROCESSING.windowLow();
        double low = ClassifierTraining.PREPROCESSING.windowLow();
        int depth = 16;
        int h = 48;
        float lung = (float) ((-850 - low) / width);
        float tissue = (float) ((40 - low) / width);
        int painted = 0;
        int touching = 0;
        for (int seed = 0; seed < 20; seed++) {
            float[] v = new float[depth * h * h];
            float[] mask = new float[v.length];
            Arrays.fill(v, lung);
            for (int x = 0; x < h; x++) {  // a slab of soft tissue at y = 0..3
                for (int z = 0; z < depth; z++) {
                    for (int y = 0; y < 4; y++) {
                        v[(z * h + y) * h + x] = tissue;
                    }
                }
            }
            for (int z = 0; z < depth; z++) {  // the nodule: a ball of radius 3 voxels at (24, 24, 8)
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < h; x++) {
                        if ((x - 24) * (x - 24) + (y - 24) * (y - 24) + (z - 8) * (z - 8) <= 9) {
                            mask[(z * h + y) * h + x] = 1;
                            v[(z * h + y) * h + x] = tissue;
                        }
                    }
                }
            }
            float[] before = v.clone();
            NoduleTraining.vessel(v, mask, depth, h, new SplittableRandom(seed));
            float[] again = before.clone();
            NoduleTraining.vessel(again, mask, depth, h, new SplittableRandom(seed));
            assertThat(v).containsExactly(again);
            boolean near = false;
            for (int i = 0; i < v.length; i++) {
                if (mask[i] > 0 || before[i] == tissue) {
                    assertThat(v[i]).as("nodule and soft tissue untouched").isEqualTo(before[i]);
                }
                assertThat(v[i]).as("a vessel only adds density").isGreaterThanOrEqualTo(before[i]);
                if (v[i] > before[i] + 200 / width) {
                    painted++;
                    int x = i % h;
                    int y = (i / h) % h;
                    int z = i / (h * h);
                    if ((x - 24) * (x - 24) + (y - 24) * (y - 24) + (z - 8) * (z - 8) <= 25) {
                        near = true;  // within two voxels of the nodule's surface
                    }
                }
            }
            touching += near ? 1 : 0;
        }
        assertThat(painted).isGreaterThan(20 * 10);
        assertThat(touching).as("tubes that pass the nodule tangentially").isGreaterThanOrEqualTo(15);
        // a negative (no nodule) gets a tube too
        float[] v = new float[depth * h * h];
        Arrays.fill(v, lung);
        NoduleTraining.vessel(v, new float[v.length], depth, h, new SplittableRandom(1));
        float max = 0;
        for (float f : v) {
            max = Math.max(max, f);
        }
        assertThat(max).isGreaterThan(lung + (float) (300 / width));
    }

    @Test
    void trainingNoiseHasItsSigmaInHuLeavesAirPaddingAndStaysInTheWindow() {
        double width = ClassifierTraining.PREPROCESSING.windowHigh() - ClassifierTraining.PREPROCESSING.windowLow();
        int n = 40_000;
        float[] a = new float[n + 100];
        Arrays.fill(a, 0, n, 0.5f);          // tissue mid-window
        Arrays.fill(a, n, n + 50, 0f);       // air padding
        Arrays.fill(a, n + 50, n + 100, 0.999f);
        float[] b = a.clone();
        NoduleTraining.noise(a, 60, new SplittableRandom(3));
        NoduleTraining.noise(b, 60, new SplittableRandom(3));
        assertThat(a).containsExactly(b);  // seeded: the same crop twice
        double sum = 0;
        double sq = 0;
        for (int i = 0; i < n; i++) {
            double d = (a[i] - 0.5) * width;  // HU
            sum += d;
            sq += d * d;
        }
        double mean = sum / n;
        assertThat(mean).isCloseTo(0, within(1.5));
        assertThat(Math.sqrt(sq / n - mean * mean)).isCloseTo(60, within(1.5));
        for (int i = n; i < n + 50; i++) {
            assertThat(a[i]).isZero();
        }
        for (int i = n + 50; i < n + 100; i++) {
            assertThat(a[i]).isBetween(0f, 1f);
        }
        float[] c = {0.5f, 0.25f};
        NoduleTraining.noise(c, 0, new SplittableRandom(3));
        assertThat(c).containsExactly(0.5f, 0.25f);
    }

    @Test
    void nodulesOfAGivenDiameter() {
        SplittableRandom r = new SplittableRandom(3);
        for (double d : NoduleTraining.DIAMETERS) {
            Nodules.Nodule n = NoduleTraining.ofDiameter(r, 1, 2, 3, d);
            assertThat(n.diameter()).isCloseTo(d, within(1e-9));
            assertThat(n.ax()).isNotEqualTo(n.ay());  // still an ellipsoid with random axes
        }
    }

    /** A small processed "chest": a body of soft tissue, two lungs of −800 HU, air outside. */
    private static ClassifierTraining.Case chest(int n, int nz) {
        float[] v = new float[n * n * nz];
        List<Integer> lung = new ArrayList<>();
        for (int z = 0; z < nz; z++) {
            for (int y = 0; y < n; y++) {
                for (int x = 0; x < n; x++) {
                    int i = (z * n + y) * n + x;
                    boolean body = Math.hypot(x - n / 2.0, y - n / 2.0) < n * 0.45;
                    boolean l = Math.hypot(x - n * 0.3, y - n / 2.0) < n * 0.15
                            || Math.hypot(x - n * 0.7, y - n / 2.0) < n * 0.15;
                    v[i] = !body ? 0f : l ? 0.1f : 0.52f;
                    if (body && l) {
                        lung.add(i);
                    }
                }
            }
        }
        Geometry g = Geometry.of(n, n, nz, 1.5, 1.5, 3, 0, 0, 0);
        return new ClassifierTraining.Case("chest", v, null, n, n, nz, g, false, lung, true, false, lung);
    }

    @Test
    void augmentationsAreSeededAndStayInTheWindow() {
        ClassifierTraining.Case c = chest(64, ClassifierTraining.NODULE_DEPTH + 24);
        NoduleTraining.Sample a = NoduleTraining.augment(c.ct(), c.nx(), c.ny(), c.nz(), new SplittableRandom(5),
                new HashMap<>());
        NoduleTraining.Sample b = NoduleTraining.augment(c.ct(), c.nx(), c.ny(), c.nz(), new SplittableRandom(5),
                new HashMap<>());
        assertThat(a.data()).containsExactly(b.data());
        assertThat(a.data().length).isEqualTo(c.nx() * c.ny() * a.nz());
        assertThat(a.nz()).isBetween(c.nz() - 2 * (c.nz() / 8), c.nz());
        for (float f : a.data()) {
            assertThat(f).isBetween(0f, 1f);
        }
        assertThat(a.data()).isNotEqualTo(Arrays.copyOf(c.ct(), a.data().length));
        @SuppressWarnings("unchecked")
        Map<String, Object> aug = (Map<String, Object>) a.record().get("augmentation");
        assertThat(aug).containsKeys("flip_lr", "shift_voxels", "noise_hu", "offset_hu", "slices_dropped");
    }

    @Test
    void aVolumeSetHasSeededInsertionsOfEveryDiameterInTheLungs() {
        ClassifierTraining.Case c = chest(64, 40);
        NoduleTraining.VolumeSet s = NoduleTraining.volumeSet(List.of(c), 8, 4, NoduleTraining.DIAMETERS, 11,
                "held-out");
        assertThat(s.labels()).containsExactly(0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
        assertThat(s.samples().get(0).record()).containsEntry("augmentation", "none");
        List<Double> diameters = new ArrayList<>();
        for (int i = 4; i < 12; i++) {
            Map<String, Object> rec = s.samples().get(i).record();
            diameters.add((Double) rec.get("nodule_diameter_mm"));
            int[] v = (int[]) rec.get("nodule_center_voxel");
            assertThat(c.lungVoxels()).contains((v[2] * c.ny() + v[1]) * c.nx() + v[0]);
        }
        assertThat(diameters).hasSize(8);
        double[] expected = {5, 10, 15, 20, 5, 10, 15, 20};
        for (int i = 0; i < 8; i++) {
            assertThat(diameters.get(i)).isCloseTo(expected[i], within(1e-9));
        }
        // insertions go into volumes with a mask file when there are any, else into pseudo-masked ones
        ClassifierTraining.Case file = new ClassifierTraining.Case("file", c.ct(), null, c.nx(), c.ny(), c.nz(),
                c.geometry(), true, c.lungVoxels(), true, false, c.lungVoxels());
        assertThat(NoduleTraining.hosts(List.of(c, file))).containsExactly(file);
        assertThat(NoduleTraining.hosts(List.of(c))).containsExactly(c);
        NoduleTraining.VolumeSet again = NoduleTraining.volumeSet(List.of(c), 8, 4, NoduleTraining.DIAMETERS, 11,
                "held-out");
        assertThat(again.samples().get(7).data()).containsExactly(s.samples().get(7).data());
        // a volume without lung voxels hosts nothing; a split of only such volumes is refused, naming the manifest
        ClassifierTraining.Case empty = new ClassifierTraining.Case("empty", c.ct(), null, c.nx(), c.ny(), c.nz(),
                c.geometry(), true, List.of(), true, false, List.of());
        assertThat(NoduleTraining.hosts(List.of(empty, c))).containsExactly(c);
        assertThatThrownBy(() -> NoduleTraining.requireHosts(tmp.resolve("m.txt"), List.of(empty), "val"))
                .hasMessageContaining("m.txt").hasMessageContaining("val").hasMessageContaining("empty");
    }

    @Test
    void theAugmentationOfAnInsertionNeverDropsTheNodulesSlices() {
        ClassifierTraining.Case c = chest(64, 48);
        int lo = Integer.MAX_VALUE;
        int hi = Integer.MIN_VALUE;
        for (int seed = 0; seed < 60; seed++) {
            NoduleTraining.VolumeSet s = NoduleTraining.volumeSet(List.of(c), 8, 4, NoduleTraining.DIAMETERS, seed,
                    "t");
            for (int i = 0; i < s.samples().size(); i++) {
                Map<String, Object> rec = s.samples().get(i).record();
                if (s.labels().get(i) == 0) {
                    continue;
                }
                int z = ((int[]) rec.get("nodule_center_voxel"))[2];
                double d = (Double) rec.get("nodule_diameter_mm");
                int[] dropped = (int[]) ((Map<?, ?>) rec.get("augmentation")).get("slices_dropped");
                int reach = (int) Math.ceil(d / 2 / 3);  // at least the equivalent radius, in 3 mm slices
                // the kept slices [dropped[0], nz - dropped[1]) hold the nodule's centre and its radius in z
                assertThat(dropped[0]).isLessThanOrEqualTo(Math.max(0, z - reach));
                assertThat(c.nz() - dropped[1] - 1).isGreaterThanOrEqualTo(Math.min(c.nz() - 1, z + reach));
                lo = Math.min(lo, z);
                hi = Math.max(hi, z);
            }
        }
        assertThat(lo).as("some nodules sit where slices could be dropped").isLessThan(c.nz() / 8);
        assertThat(hi).isGreaterThanOrEqualTo(c.nz() - c.nz() / 8);
    }

    @Test
    void plattScalingRecoversALogisticModelFitsSeparableScoresAndRefusesAnInvertedOne() {
        SplittableRandom r = new SplittableRandom(1);
        int n = 20000;
        double[] x = new double[n];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextGaussian() * 2;
            y[i] = r.nextDouble() < 1 / (1 + Math.exp(-(1.5 * x[i] - 1))) ? 1 : 0;
        }
        NoduleTraining.Calibration cal = NoduleTraining.platt(x, y);
        assertThat(cal.a()).isCloseTo(1.5, within(0.08));
        assertThat(cal.c()).isCloseTo(-1, within(0.08));

        // separable scores, or scores far from 0 (where Newton's method without a line search ran away): the fit
        // converges to the stationary point of the smoothed-target likelihood, checked here from its gradient
        double[] sep = {-3, -2, -1, 4, 5, 6};
        int[] sepLabels = {0, 0, 0, 1, 1, 1};
        assertStationary(sep, sepLabels, NoduleTraining.platt(sep, sepLabels));
        double[] far = new double[96];
        int[] farLabels = new int[96];
        for (int i = 0; i < 96; i++) {
            farLabels[i] = i < 48 ? 0 : 1;
            far[i] = (i < 48 ? 2 : 5) + r.nextGaussian();
        }
        NoduleTraining.Calibration fit = NoduleTraining.platt(far, farLabels);
        assertThat(fit.a()).isPositive();
        assertStationary(far, farLabels, fit);
        // a score that ranks nodule-free volumes above nodules is refused (the caller keeps the weights, says so)
        assertThatThrownBy(() -> NoduleTraining.platt(new double[] {3, 4, -1, -2}, new int[] {0, 0, 1, 1}))
                .hasMessageContaining("did not fit");
    }

    /** The gradient of the cross-entropy against Platt's targets vanishes at the fit. */
    private static void assertStationary(double[] x, int[] y, NoduleTraining.Calibration fit) {
        int np = Arrays.stream(y).sum();
        int nn = y.length - np;
        double ga = 0;
        double gc = 0;
        for (int i = 0; i < x.length; i++) {
            double d = 1 / (1 + Math.exp(-(fit.a() * x[i] + fit.c()))) - (y[i] == 1 ? (np + 1.0) / (np + 2) : 1.0
                    / (nn + 2));
            ga += d * x[i];
            gc += d;
        }
        assertThat(Math.abs(ga) + Math.abs(gc)).isLessThan(1e-6);
        // and it is a minimum: any small move raises the objective
        double[] t = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            t[i] = y[i] == 1 ? (np + 1.0) / (np + 2) : 1.0 / (nn + 2);
        }
        double f = NoduleTraining.plattObjective(x, t, fit.a(), fit.c());
        for (double[] d : new double[][] {{1e-3, 0}, {-1e-3, 0}, {0, 1e-3}, {0, -1e-3}}) {
            assertThat(NoduleTraining.plattObjective(x, t, fit.a() + d[0], fit.c() + d[1])).isGreaterThan(f);
        }
    }

    @Test
    void foldingTheCalibrationIntoTheHeadIsExactUnderTheMaximum() throws IOException {
        try (Classifier clf = Classifier.builtin("ctcf-nodule3d", 1, Classifier.Layout.BCDHW, 0, KERNEL.get())) {
            clf.setInputSize(0, 0);
            SplittableRandom r = new SplittableRandom(2);
            float[] v = new float[16 * 24 * 24];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) r.nextDouble();
            }
            double before;
            Geometry g = Geometry.of(24, 24, 16, 3, 3, 3, 0, 0, 0);
            try (Volume vol = Volume.of(g, v)) {
                before = clf.outputs(vol).values()[0];
            }
            NoduleTraining.fold(clf, new NoduleTraining.Calibration(2.5, -1.25), tmp.resolve("scratch.safetensors"));
            try (Volume vol = Volume.of(g, v)) {
                assertThat((double) clf.outputs(vol).values()[0]).isCloseTo(2.5 * before - 1.25, within(1e-4));
            }
            assertThat(tmp.resolve("scratch.safetensors")).doesNotExist();
        }
    }

    @Test
    void miningKeepsTheHighestWindowsOfEveryVolumeAndSurvivesAResume() throws IOException {
        int depth = ClassifierTraining.NODULE_DEPTH;
        ClassifierTraining.Case c = chest(112, depth + 8);
        try (Classifier clf = Classifier.builtin("ctcf-nodule3d", 1, Classifier.Layout.BCDHW, 0, KERNEL.get())) {
            clf.setInputSize(0, 0);
            List<NoduleTraining.Window> w = NoduleTraining.mine(clf, List.of(c, c));
            // 2 volumes x min(12, 2 x 2 x 2 windows)
            assertThat(w).hasSize(16);
            assertThat(w.subList(0, 8)).allSatisfy(x -> assertThat(x.volume()).isZero());
            assertThat(w.subList(0, 8)).isSortedAccordingTo(Comparator.comparingDouble(
                    NoduleTraining.Window::logit).reversed());
            // independently: the logit of each window, from its crop
            for (NoduleTraining.Window x : w) {
                float[] h = ClassifierTraining.halvedWindow(c, x.x0(), x.y0(), x.z0(), depth, 96);
                try (Volume vol = Volume.of(Geometry.of(48, 48, depth, 3, 3, 3, 0, 0, 0), h)) {
                    assertThat((double) clf.outputs(vol).values()[0]).isCloseTo(x.logit(), within(1e-6));
                }
            }
            NoduleTraining.Miner m = new NoduleTraining.Miner(tmp.resolve("hard.json"));
            assertThat(m.before(NoduleTraining.MINE_START - 1, clf, List.of(c))).isZero();
            assertThat(m.windows()).isEmpty();
            assertThat(m.before(NoduleTraining.MINE_START, clf, List.of(c))).isPositive();
            assertThat(m.windows()).hasSize(8);
            m.save();
            // the checkpoint carries the windows (one atomic file); resuming reads them from it
            Path ckpt = tmp.resolve("checkpoint.safetensors");
            org.ctcf.io.checkpoint.SafeTensors.writeF32(ckpt, clf.parameterTensors(""),
                    Map.of("format", "pt", ClassifierTraining.HARD_NEGATIVES, m.json()));
            NoduleTraining.Miner resumed = new NoduleTraining.Miner(tmp.resolve("hard.json"));
            resumed.load(ClassifierTraining.hardNegatives(ckpt), ckpt);
            assertThat(java.nio.file.Files.readString(tmp.resolve("hard.json"))).isEqualTo(m.json());
            Path old = tmp.resolve("old.safetensors");
            org.ctcf.io.checkpoint.SafeTensors.writeF32(old, clf.parameterTensors(""), Map.of("format", "pt"));
            assertThatThrownBy(() -> ClassifierTraining.hardNegatives(old)).hasMessageContaining(old.toString())
                    .hasMessageContaining("hard-negative windows");
            assertThat(resumed.windows()).extracting(x -> List.of(x.volume(), x.x0(), x.y0(), x.z0()))
                    .isEqualTo(m.windows().stream().map(x -> List.of(x.volume(), x.x0(), x.y0(), x.z0())).toList());
        }
    }

    @Test
    void aPseudoMasksNodulesGoIntoItsLungsNotIntoTheGasOfTheBowel() {
        // 40 x 40 x 20: two lungs (separate, 3000 and 2400 voxels), a bowel gas pocket (500) and a bubble (8)
        int nx = 40;
        int ny = 40;
        int nz = 20;
        List<Integer> voxels = new ArrayList<>();
        for (int z = 0; z < nz; z++) {
            for (int y = 0; y < ny; y++) {
                for (int x = 0; x < nx; x++) {
                    boolean right = x >= 2 && x < 17 && y >= 2 && y < 12;        // 15 x 10 x 20
                    boolean left = x >= 22 && x < 34 && y >= 2 && y < 12;        // 12 x 10 x 20
                    boolean bowel = x >= 5 && x < 15 && y >= 20 && y < 25 && z < 10;  // 10 x 5 x 10
                    boolean bubble = x >= 30 && x < 32 && y >= 30 && y < 32 && z < 2;
                    if (right || left || bowel || bubble) {
                        voxels.add((z * ny + y) * nx + x);
                    }
                }
            }
        }
        List<Integer> sites = NoduleTraining.lungComponents(voxels, nx, ny, nz);
        assertThat(sites).hasSize(3000 + 2400);
        assertThat(sites).allSatisfy(i -> assertThat(i % (nx * ny) / nx).isLessThan(12));
        assertThat(sites).isSorted();  // the voxels' order, so the positions drawn from it repeat
        // a pocket a quarter the size of the largest lung is kept (it may be a lung cut by the field of view)
        List<Integer> more = new ArrayList<>(voxels);
        for (int z = 10; z < 20; z++) {
            for (int y = 30; y < 35; y++) {
                for (int x = 20; x < 35; x++) {
                    more.add((z * ny + y) * nx + x);  // 15 x 5 x 10 = 750 = 3000 / 4
                }
            }
        }
        assertThat(NoduleTraining.lungComponents(more, nx, ny, nz)).hasSize(3000 + 2400 + 750);

        // a training positive is centred on a site, a negative anywhere in the lung labels
        ClassifierTraining.Case c = chest(128, ClassifierTraining.NODULE_DEPTH + 8);
        List<Integer> oneLung = c.lungVoxels().stream().filter(i -> i % c.nx() < c.nx() / 2).toList();
        ClassifierTraining.Case gut = new ClassifierTraining.Case("gut", c.ct(), null, c.nx(), c.ny(), c.nz(),
                c.geometry(), false, c.lungVoxels(), true, false, oneLung);
        double[] sp = c.geometry().spacing();
        for (int seed = 0; seed < 40; seed++) {
            ClassifierTraining.Crop p = ClassifierTraining.crop(gut, new SplittableRandom(seed),
                    ClassifierTraining.NODULE_DEPTH, ClassifierTraining.NODULE_CROP, true, true);
            int x = (int) Math.round(p.nodule().x() / sp[0]) + p.origin()[0];
            int y = (int) Math.round(p.nodule().y() / sp[1]) + p.origin()[1];
            int z = (int) Math.round(p.nodule().z() / sp[2]) + p.origin()[2];
            assertThat(oneLung).contains((z * c.ny() + y) * c.nx() + x);
            // and so are the insertions of the volume-level test and calibration
            Map<String, Object> rec = new HashMap<>();
            NoduleTraining.withNodule(gut, 10, new SplittableRandom(seed), rec);
            int[] v = (int[]) rec.get("nodule_center_voxel");
            assertThat(oneLung).contains((v[2] * c.ny() + v[1]) * c.nx() + v[0]);
        }
    }
}
