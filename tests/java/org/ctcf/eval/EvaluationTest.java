package org.ctcf.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.ctcf.TestPaths;
import org.ctcf.api.Classifier;
import org.ctcf.api.ExplainOptions;
import org.ctcf.core.Geometry;
import org.ctcf.api.Kernel;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.Saliency;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.SliceWrapper;
import org.ctcf.api.Target;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Statistics against hand-computed values; a small evaluation end to end with tiny models. */
public class EvaluationTest {
    @TempDir
    Path tmp;

    @Test
    void statisticsMatchHandComputedValues() {
        double[] a = {1, 2, 3, 4, 5};
        double[] b = {2, 4, 6, 8, 10, 12};
        Statistics.MeanSe ma = Statistics.meanSe(a);
        assertThat(ma.mean()).isEqualTo(3.0);
        assertThat(ma.se()).isCloseTo(Math.sqrt(2.5 / 5), within(1e-12));  // s² = 2.5
        Statistics.MeanSe mb = Statistics.meanSe(b);
        assertThat(mb.se()).isCloseTo(Math.sqrt(14.0 / 6), within(1e-12));  // s² = 70 / 5
        Statistics.Welch w = Statistics.welch(a, b);
        // t = -4 / sqrt(0.5 + 7/3); df = (17/6)² / (0.5²/4 + (7/3)²/5); p from scipy.stats.ttest_ind(equal_var=False)
        assertThat(w.t()).isCloseTo(-4 / Math.sqrt(0.5 + 7.0 / 3), within(1e-12));
        assertThat(w.df()).isCloseTo(6.972255729794934, within(1e-9));
        assertThat(w.p()).isCloseTo(0.04928433820673053, within(1e-9));
        // U of a: pairs a > b: 3>2, 4>2, 5>2, 5>4 = 4, ties 2=2 and 4=4 count ½: U = 5; normal approximation
        // without tie correction: z = (5 − 15) / √30
        Statistics.MannWhitney u = Statistics.mannWhitney(a, b);
        assertThat(u.u()).isEqualTo(5.0);
        assertThat(u.p()).isCloseTo(0.06788915486182899, within(1e-9));
        assertThat(Statistics.meanSe(new double[] {4}).se()).isNaN();
        assertThat(Statistics.welch(new double[] {1}, b).p()).isNaN();
    }

    @Test
    void manifestErrorsNameFileAndLine() throws IOException {
        Path v = tmp.resolve("a.nii.gz");
        try (Volume x = Volume.filled(Geometry.of(4, 4, 4, 1, 1, 1, 0, 0, 0), 0.5f)) {
            VolumeIO.write(x, v);
        }
        Path m = tmp.resolve("m.csv");
        Files.writeString(m, "volume,label\na.nii.gz,maybe\n");
        assertThatThrownBy(() -> EvalManifest.read(m)).hasMessageContaining("m.csv:2").hasMessageContaining("maybe");
        Files.writeString(m, "file,label\n");
        assertThatThrownBy(() -> EvalManifest.read(m)).hasMessageContaining("m.csv:1").hasMessageContaining("header");
        Files.writeString(m, "volume,label\nb.nii.gz,1\n");
        assertThatThrownBy(() -> EvalManifest.read(m)).hasMessageContaining("m.csv:2").hasMessageContaining("b.nii.gz");
        Files.writeString(m, "volume,label,x_mm,y_mm,z_mm\na.nii.gz,1,1,2\n");
        assertThatThrownBy(() -> EvalManifest.read(m)).hasMessageContaining("5 columns");
        Files.writeString(m, "# comment\nvolume,label,x_mm,y_mm,z_mm\na.nii.gz,positive,1,2,3\n");
        EvalManifest ok = EvalManifest.read(m);
        assertThat(ok.cases()).hasSize(1);
        assertThat(ok.cases().get(0).positive()).isTrue();
        assertThat(ok.cases().get(0).position()).containsExactly(1, 2, 3);
    }

    /**
     * Just below the reconstructions' mean of slices 20–24 of a positive (v0) and a negative (v3), so that the
     * classifier starts high on both and the counterfactual has room to lower it. (The tiny test autoencoder does
     * not keep the positives' brightness, so this test checks the machinery, not a separation.)
     */
    static String center(Kernel k, Path dir) throws IOException {
        double[] m = new double[2];
        String[] names = {"v0.nii.gz", "v3.nii.gz"};
        try (SliceAutoencoder ae = SliceAutoencoder.load(TestPaths.vqgan("tiny_vqgan.safetensors"), null, k)
                .withWrapper(SliceWrapper.plain())) {
            for (int i = 0; i < 2; i++) {
                try (Volume v = VolumeIO.read(dir.resolve(names[i])); var z = ae.encode(v);
                        Volume rec = ae.decode(z, v.geometry())) {
                    double s = 0;
                    for (int zz = 20; zz < 25; zz++) {
                        for (int y = 0; y < 16; y++) {
                            for (int x = 0; x < 16; x++) {
                                s += rec.get(x, y, zz);
                            }
                        }
                    }
                    m[i] = s / (5 * 256);
                }
            }
        }
        return String.format(java.util.Locale.ROOT, "%.6f", Math.min(m[0], m[1]) - 0.05);
    }

    /**
     * A 16 × 16 × 48 case in window units: a smooth pattern plus noise from {@code r}; a positive is brighter in
     * slices 20–24 (by 0.25 + 0.05 {@code i}).
     */
    public static void writeCase(Path file, int i, boolean positive, Random r) throws IOException {
        try (Volume v = Volume.allocate(Geometry.of(16, 16, 48, 1.5, 1.5, 3, 0, 0, 0))) {
            for (int z = 0; z < 48; z++) {
                for (int y = 0; y < 16; y++) {
                    for (int x = 0; x < 16; x++) {
                        double bump = positive && z >= 20 && z < 25 ? 0.25 + 0.05 * i : 0;
                        v.set(x, y, z, (float) (0.35 + 0.2 * Math.sin(x * 0.4 + z * 0.2) * Math.cos(y * 0.3)
                                + bump + 0.03 * r.nextGaussian()));
                    }
                }
            }
            VolumeIO.write(v, file);
        }
    }

    /**
     * Positives are bright in slices 20–24, the classifier only sees those slices, so the counterfactual's top chunk
     * holds the finding; a corrupt volume is recorded and the run goes on; a rerun evaluates nothing again.
     */
    @Test
    void anEvaluationWritesRowsSummaryAndPlotsResumesAndRecordsFailures() throws IOException {
        StringBuilder csv = new StringBuilder("volume,label,x_mm,y_mm,z_mm\n");
        Random r = new Random(9);
        for (int i = 0; i < 5; i++) {
            boolean positive = i < 3;
            writeCase(tmp.resolve("v" + i + ".nii.gz"), i, positive, r);
            csv.append("v").append(i).append(".nii.gz,").append(positive ? 1 : 0)
                    .append(positive ? ",12,12,66\n" : ",,,\n");  // z = 66 mm: slice 22
        }
        Files.write(tmp.resolve("broken.nii.gz"), new byte[] {1, 2, 3});
        csv.append("broken.nii.gz,0,,,\n");
        Path manifest = tmp.resolve("eval.csv");
        Files.writeString(manifest, csv.toString());
        EvalManifest m = EvalManifest.read(manifest);
        Path out = tmp.resolve("out");
        try (Kernel k = Kernel.open();
                SliceAutoencoder ae = SliceAutoencoder.load(TestPaths.vqgan("tiny_vqgan.safetensors"), null, k)
                        .withWrapper(SliceWrapper.plain()).withBatchSize(16);
                Classifier c = Classifier.define("def forward(self, x):\n    return ((x[:, :, 20:25].mean(dim=[1, 2, "
                        + "3, 4]) - " + center(k, tmp) + ") * 60.0).unsqueeze(1)\n", Classifier.Layout.BCDHW, 0, k)) {
            var o = new Evaluation.Options(ExplainOptions.builder().target(Target.sigmoidOf(0)).build(),
                    PreprocessOptions.reorientOnly("RAS"), List.of(8, 16), List.of(Saliency.Method.GRADIENT),
                    Saliency.Options.defaults());
            int[] started = {0};
            Evaluation.Listener l = new Evaluation.Listener() {
                @Override
                public void started(int i, int n, EvalManifest.Case cs) {
                    started[0]++;
                }

                @Override
                public void finished(int i, int n, Evaluation.Row row, double eta) {
                    assertThat(eta).isGreaterThanOrEqualTo(0);
                }
            };
            Map<String, Object> s = Evaluation.run(k, ae, c, m, o, out, l);
            assertThat(started[0]).isEqualTo(6);
            List<String> lines = Files.readAllLines(out.resolve(Evaluation.RESULTS));
            assertThat(lines).hasSize(7);
            assertThat(lines.get(0)).startsWith("volume,label,status,p0,min_cf").contains("min_cf_chunk16")
                    .contains("latent-shift_hit").contains("latent-shift-chunk_peak_mm").contains("gradient_peak_mm");
            assertThat(lines.get(6)).startsWith("broken.nii.gz,0,error: ");
            assertThat(s.get("failed").toString()).contains("broken.nii.gz");
            @SuppressWarnings("unchecked")
            Map<String, Map<String, Object>> table = (Map<String, Map<String, Object>>) s.get("table1");
            assertThat(table.get("positives").get("n")).isEqualTo(3);
            assertThat(table.get("negatives").get("n")).isEqualTo(2);
            // the table's mean is the mean of the rows' p0
            double sum = 0;
            for (int i = 1; i <= 3; i++) {
                sum += Double.parseDouble(lines.get(i).split(",")[3]);
            }
            assertThat((double) table.get("positives").get("mean")).isCloseTo(sum / 3, within(1e-5));
            assertThat((double) table.get("counterfactuals_of_positives").get("mean"))
                    .isLessThan((double) table.get("positives").get("mean"));
            @SuppressWarnings("unchecked")
            Map<String, Map<String, Object>> loc = (Map<String, Map<String, Object>>) s.get("localization");
            assertThat((double) loc.get("latent-shift").get("top_chunk_hit_rate")).isEqualTo(1.0);
            assertThat((double) loc.get("latent-shift-chunk").get("top_chunk_hit_rate")).isEqualTo(1.0);
            assertThat((double) loc.get("gradient").get("top_chunk_hit_rate")).isEqualTo(1.0);
            assertThat(out.resolve(Evaluation.CHUNK_PLOT)).isRegularFile();
            assertThat(javax.imageio.ImageIO.read(out.resolve(Evaluation.DISTRIBUTION_PLOT).toFile())).isNotNull();
            assertThat(out.resolve(Evaluation.SUMMARY)).isRegularFile();

            // resume: only the failed volume is tried again
            started[0] = 0;
            Evaluation.run(k, ae, c, m, o, out, l);
            assertThat(started[0]).isEqualTo(1);
            assertThat(Files.readAllLines(out.resolve(Evaluation.RESULTS))).hasSize(7);
            // other options do not mix with earlier results
            var other = new Evaluation.Options(o.explain(), o.preprocessing(), List.of(4), o.baselines(),
                    o.saliency());
            assertThatThrownBy(() -> Evaluation.run(k, ae, c, m, other, out, l)).hasMessageContaining("other options");
        }
    }
}
