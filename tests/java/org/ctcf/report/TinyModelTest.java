package org.ctcf.report;

import java.io.IOException;
import java.nio.file.Path;

import org.ctcf.SharedKernel;
import org.ctcf.api.ChunkSweep;
import org.ctcf.api.ExplainOptions;
import org.ctcf.api.Progress;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the explain tests on the tiny models share: the kernel, a temporary folder holding the middle-slices card
 * ({@link TinyExplainModels}), a quick request and {@link Explain#toDirectory} with those models.
 */
abstract class TinyModelTest {
    @RegisterExtension
    static final SharedKernel KERNEL = new SharedKernel();

    @TempDir
    Path tmp;

    Path card;

    @BeforeEach
    void classifierCard() throws IOException {
        card = TinyExplainModels.middleSlicesCard(tmp, KERNEL.get());
    }

    /** A fixed λ range (no search) over chunks of 60, two frames, volumes and summary only: quick. */
    static Explain.Request quick() {
        return Explain.Request.sweep(ExplainOptions.builder().fixRange(-30, 0).lambdaSweepSteps(2).build(),
                ChunkSweep.of(60)).withFrames(2).withImages(false);
    }

    /** {@link Explain#toDirectory} of {@code input} into {@code out} with the tiny models and the card {@code c}. */
    ExplanationSummary explain(Path c, Path input, Path out, Explain.Request r) throws IOException {
        return TinyExplainModels.with(KERNEL.get(), c, m -> Explain.toDirectory(input, out, m, r,
                Progress.Listener.NONE));
    }
}
