package org.ctcf.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.ctcf.TestPaths;
import org.ctcf.api.Classifier;
import org.ctcf.api.Kernel;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.SliceWrapper;

/**
 * The quick models of the explain tests: the tiny VQ-GAN (slices resized to 16) and a TorchScript classifier whose
 * logit is the mean of the middle slices (40..60), with its card.
 */
public final class TinyExplainModels {
    private TinyExplainModels() {
    }

    /** Writes {@code middle.pt} and its card {@code middle.json} into {@code dir}; returns the card. */
    public static Path middleSlicesCard(Path dir, Kernel k) throws IOException {
        try (Classifier c = Classifier.define("def forward(self, x):\n"
                + "    return ((x[:, :, :, :, 40:60].mean(dim=[1, 2, 3, 4]) - 0.3) * 20.0).unsqueeze(1)\n",
                Classifier.Layout.BCHWD, 0, k)) {
            c.save(dir.resolve("middle.pt"));
        }
        Path card = dir.resolve("middle.json");
        Files.writeString(card, """
                {"name": "middle slices", "model": {"torchscript": "middle.pt"}, "input": {"layout": "BCHWD"},
                 "output": {"kind": "logits", "classes": ["bright middle"]},
                 "score": {"target": "bright middle", "activation": "sigmoid"}}
                """);
        return card;
    }

    /** What a test does with the loaded models. */
    public interface WithModels<T> {
        T apply(Explain.Models models) throws IOException;
    }

    /** Loads the tiny autoencoder and the classifier of {@code card} on {@code k}, runs {@code body}, closes them. */
    public static <T> T with(Kernel k, Path card, WithModels<T> body) throws IOException {
        Path weights = TestPaths.vqgan("tiny_vqgan.safetensors");
        try (SliceAutoencoder tiny = SliceAutoencoder.load(weights, null, k)
                .withWrapper(SliceWrapper.reference().withResize(16)); Classifier clf = Classifier.load(card, k)) {
            return body.apply(new Explain.Models(k, tiny, clf, weights.toString(), card.toString(), "cpu", 0));
        }
    }
}
