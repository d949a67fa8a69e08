package org.ctcf.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Manifests, lung pseudo-labels, synthetic nodules, AUC, slice crops. */
class TrainingDataTest {
    @TempDir
    Path tmp;

    @Test
    void manifestsResolvePathsAndNameTheLineOfAProblem() throws IOException {
        Files.writeString(tmp.resolve("a.nii.gz"), "x");
        Files.writeString(tmp.resolve("m.nii.gz"), "x");
        Path m = tmp.resolve("manifest.txt");
        Files.writeString(m, "# comment\ntrain a.nii.gz patient=p1\n\nval a.nii.gz mask=m.nii.gz patient=p2 # held out\n");
        Manifest man = Manifest.read(m, null);
        assertThat(man.train()).hasSize(1);
        assertThat(man.validation()).singleElement().satisfies(e -> {
            assertThat(e.mask()).isEqualTo(tmp.resolve("m.nii.gz"));
            assertThat(e.patient()).isEqualTo("p2");
            assertThat(e.line()).isEqualTo(4);
        });
        Files.writeString(m, "train a.nii.gz\ntest a.nii.gz\n");
        assertThatThrownBy(() -> Manifest.read(m, null)).hasMessageContaining("manifest.txt:2")
                .hasMessageContaining("train, val or calib");
        Files.writeString(m, "train a.nii.gz patient=x\nval a.nii.gz patient=x\n");
        assertThatThrownBy(() -> Manifest.read(m, null)).hasMessageContaining("both train and val");
        Files.writeString(m, "train missing.nii.gz\n");
        assertThatThrownBy(() -> Manifest.read(m, null)).isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("manifest.txt:1");
        Files.writeString(m, "val a.nii.gz\n");
        assertThatThrownBy(() -> Manifest.read(m, null)).hasMessageContaining("no 'train' volume");
        Files.writeString(m, "train a.nii.gz colour=red\n");
        assertThatThrownBy(() -> Manifest.read(m, null)).hasMessageContaining("unknown field 'colour=red'");
    }

    @Test
    void pseudoLabelsKeepAirInsideTheBodyOnly() {
        int n = 40;
        float[] ct = new float[n * n * 2];
        for (int z = 0; z < 2; z++) {
            for (int y = 0; y < n; y++) {
                for (int x = 0; x < n; x++) {
                    double r = Math.hypot(x - 20, y - 20);
                    boolean body = r < 16;
                    boolean lung = Math.hypot(x - 14, y - 20) < 4 || Math.hypot(x - 26, y - 20) < 4;
                    ct[(z * n + y) * n + x] = !body || lung ? 0.05f : 0.52f;
                }
            }
        }
        float[] l = LungLabels.threshold(ct, n, n, 2, 0.25f);
        assertThat(l[(0 * n + 20) * n + 14]).isEqualTo(1f);  // left lung centre
        assertThat(l[(1 * n + 20) * n + 26]).isEqualTo(1f);  // right lung, second slice
        assertThat(l[0]).isZero();                           // outside air
        assertThat(l[(0 * n + 20) * n + 20]).isZero();       // soft tissue
        float[] truth = new float[l.length];
        for (int z = 0; z < 2; z++) {
            for (int y = 0; y < n; y++) {
                for (int x = 0; x < n; x++) {
                    truth[(z * n + y) * n + x] = Math.hypot(x - 14, y - 20) < 4 || Math.hypot(x - 26, y - 20) < 4
                            ? 1 : 0;
                }
            }
        }
        assertThat(LungLabels.dice(l, truth)).isEqualTo(1.0);
        assertThat(LungLabels.dice(new float[] {1, 0}, new float[] {0, 1})).isZero();
    }

    @Test
    void noduleInsertionIsLocalSizedAndSeeded() {
        int n = 40;
        double[] aff = {1.5, 0, 0, -30, 0, 1.5, 0, -30, 0, 0, 3, -60, 0, 0, 0, 1};
        float[] a = new float[n * n * n];
        java.util.Arrays.fill(a, -850f);
        Nodules.Nodule nod = new Nodules.Nodule(0, 0, 0, 6, 6, 6, 40, 0, 1.0);
        int changed = Nodules.insert(a, n, n, n, aff, nod, 1, 0, new SplittableRandom(1));
        assertThat(changed).isPositive();
        // centre voxel (20, 20, 20) is at world (0, 0, 0): nodule density; far away untouched
        assertThat(a[(20 * n + 20) * n + 20]).isCloseTo(40f, within(3f));
        assertThat(a[0]).isEqualTo(-850f);
        // 6 mm out along x is the surface: about half way between lung and nodule
        assertThat(a[(20 * n + 20) * n + 24]).isBetween(-500f, -300f);
        assertThat(nod.diameter()).isCloseTo(12, within(1e-9));
        Nodules.Nodule r1 = Nodules.random(new SplittableRandom(9), 1, 2, 3);
        Nodules.Nodule r2 = Nodules.random(new SplittableRandom(9), 1, 2, 3);
        assertThat(r1).isEqualTo(r2);
        assertThat(r1.diameter()).isBetween(4.0, 24.0);
        // window units: HU * 1/2000 + 0.5
        float[] w = new float[n * n * n];
        java.util.Arrays.fill(w, (float) (-850 / 2000.0 + 0.5));
        Nodules.insert(w, n, n, n, aff, nod, 1 / 2000.0, 0.5, new SplittableRandom(1));
        assertThat(w[(20 * n + 20) * n + 20]).isCloseTo((float) (40 / 2000.0 + 0.5), within(2e-3f));
    }

    @Test
    void aucCountsPairsAndTies() {
        assertThat(Nodules.auc(new double[] {0.9, 0.8}, new double[] {0.1, 0.2})).isEqualTo(1.0);
        assertThat(Nodules.auc(new double[] {0.1}, new double[] {0.9})).isEqualTo(0.0);
        assertThat(Nodules.auc(new double[] {0.5, 0.9}, new double[] {0.5, 0.1})).isEqualTo(0.875);
        assertThatThrownBy(() -> Nodules.auc(new double[0], new double[] {1})).isInstanceOf(
                IllegalArgumentException.class);
    }

    @Test
    void halvingAveragesBlocksAndCropsPadWithAir() {
        float[] s = {1, 3, 5, 7, 1, 3, 5, 7};
        assertThat(SliceSet.half(s, 4, 2)).containsExactly(2f, 6f);
    }
}
