package org.ctcf.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.ctcf.TestPaths;
import org.ctcf.api.Kernel;
import org.ctcf.cli.Main;
import org.ctcf.eval.EvaluationTest;
import org.ctcf.report.TinyExplainModels;

/** The Spark tests' cohort: small synthetic volumes, an evaluation manifest, and the tiny models' options. */
final class TinyCohort {
    private TinyCohort() {
    }

    /** {@code n} volumes {@code v0..} in {@code dir} (the first half positive, with a position) and eval.csv. */
    static Path manifest(Path dir, int n) throws IOException {
        StringBuilder csv = new StringBuilder("volume,label,x_mm,y_mm,z_mm\n");
        Random r = new Random(5);
        for (int i = 0; i < n; i++) {
            boolean positive = i < (n + 1) / 2;
            EvaluationTest.writeCase(dir.resolve("v" + i + ".nii.gz"), i, positive, r);
            csv.append("v").append(i).append(".nii.gz,").append(positive ? "1,12,12,66\n" : "0,,,\n");
        }
        Path m = dir.resolve("eval.csv");
        Files.writeString(m, csv.toString());
        return m;
    }

    /**
     * The reference for the Spark runs: the local {@code ctcf evaluate MANIFEST OPTIONS} with one LibTorch thread
     * (spark.task.cpus = 1 on the executors, which is their thread count) into {@code out}.
     */
    static void evaluateLocally(Path manifest, List<String> options, Path out) {
        List<String> args = new ArrayList<>(List.of("-q", "evaluate", manifest.toString()));
        args.addAll(options);
        args.addAll(List.of("--threads", "1", "-o", out.toString()));
        StringWriter err = new StringWriter();
        assertThat(Main.run(args.toArray(String[]::new), new PrintWriter(new StringWriter()), new PrintWriter(err)))
                .as(err.toString()).isZero();
    }

    /**
     * The evaluate options of the tiny models (the tiny VQ-GAN at 16², a TorchScript classifier of the middle slices
     * whose card goes into {@code dir}), chunks of 16 and the gradient baseline.
     */
    static List<String> models(Path dir) throws IOException {
        Path card;
        try (Kernel k = Kernel.open()) {
            card = TinyExplainModels.middleSlicesCard(dir, k);
        }
        return List.of("--autoencoder", TestPaths.vqgan("tiny_vqgan.safetensors").toString(), "--wrapper",
                "reference", "--resize", "16", "--classifier", card.toString(), "--chunks", "16", "--baselines",
                "gradient");
    }
}
