package org.ctcf.spark;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import org.ctcf.TestPaths;
import org.ctcf.api.Kernel;
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
