package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;

import org.ctcf.SharedKernel;
import org.ctcf.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * bf16/fp16 autocast of the decoder and the classifier: the explanation runs in lower precision on CPU and stays
 * close to float32 (not equal: the decoder's convolutions round differently); unknown types are errors.
 */
class AutocastTest {
    @RegisterExtension
    static final SharedKernel KERNEL = new SharedKernel();


    @Test
    void bf16DecodingAndScoringStaysCloseToFloat32() throws IOException {
        try (SliceAutoencoder ae = SliceAutoencoder.load(TestPaths.vqgan("tiny_vqgan.safetensors"), null, KERNEL.get())
                .withWrapper(SliceWrapper.plain()).withBatchSize(8);
                Classifier c = Classifier.define("def forward(self, x):\n"
                        + "    return ((x[:, :, 2:6].mean(dim=[1, 2, 3, 4]) - 0.45) * 20.0).unsqueeze(1)\n",
                        Classifier.Layout.BCDHW, 0, KERNEL.get());
                Volume v = Volume.allocate(Geometry.of(16, 16, 8, 1.5, 1.5, 3, 0, 0, 0))) {
            for (int z = 0; z < 8; z++) {
                for (int y = 0; y < 16; y++) {
                    for (int x = 0; x < 16; x++) {
                        v.set(x, y, z, (float) (0.5 + 0.3 * Math.sin(0.4 * x + 0.2 * z) * Math.cos(0.3 * y)));
                    }
                }
            }
            ExplainOptions fp32 = ExplainOptions.builder().target(Target.sigmoidOf(0)).fixRange(-40, 0)
                    .lambdaSweepSteps(3).build();
            try (Explanation a = LatentShift.explain(v, ae, c, fp32, 2, 6, null);
                    Explanation b = LatentShift.explain(v, ae, c, fp32.toBuilder()
                            .autocast(ExplainOptions.Autocast.BF16).build(), 2, 6, null)) {
                for (int i = 0; i < 3; i++) {
                    assertThat(b.predictions()[i]).isCloseTo(a.predictions()[i],
                            org.assertj.core.api.Assertions.within(0.05));
                }
                double worst = 0;
                double differs = 0;
                for (int z = 0; z < 8; z++) {
                    for (int y = 0; y < 16; y++) {
                        for (int x = 0; x < 16; x++) {
                            double d = Math.abs(a.counterfactual().get(x, y, z) - b.counterfactual().get(x, y, z));
                            worst = Math.max(worst, d);
                            differs += d > 0 ? 1 : 0;
                        }
                    }
                }
                assertThat(worst).as("bf16 vs float32 counterfactual").isLessThan(0.1);
                assertThat(differs).as("bf16 really ran: some voxels differ from float32").isGreaterThan(0);
            }
        }
        assertThatThrownBy(() -> ExplainOptions.Autocast.parse("int8")).hasMessageContaining("unknown autocast 'int8'");
    }
}
