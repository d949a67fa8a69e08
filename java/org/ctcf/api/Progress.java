package org.ctcf.api;

import org.ctcf.core.CtcfException;
import org.ctcf.internal.Specs;

/**
 * A progress report from a running explanation: the phase, which chunk of how many, the search or sweep step,
 * its λ and the prediction there.
 */
public record Progress(Phase phase, long chunk, long chunks, long step, double lambda, double prediction) {
    public enum Phase {
        ENCODE(Specs.Phase.ENCODE_DECODE), GRADIENT(Specs.Phase.GRADIENT), SEARCH_STEP(Specs.Phase.SEARCH_STEP),
        SWEEP_FRAME(Specs.Phase.SWEEP_FRAME), CHUNK_DONE(Specs.Phase.CHUNK_DONE),
        /** A saliency map: step = work done, λ = work in all. */
        SALIENCY(Specs.Phase.SALIENCY);

        private final Specs.Phase kernel;

        Phase(Specs.Phase kernel) {
            this.kernel = kernel;
        }

        /** The phase the kernel reported (ctcf_progress_phase). */
        static Phase of(Specs.Phase kernelPhase) {
            for (Phase p : values()) {
                if (p.kernel == kernelPhase) {
                    return p;
                }
            }
            throw new IllegalStateException("no progress phase for the kernel's " + kernelPhase);
        }
    }

    /** Receives progress; returning false cancels the run (it then throws {@link CtcfException.CancelledException}). */
    @FunctionalInterface
    public interface Listener {
        boolean onProgress(Progress p);

        Listener NONE = p -> true;
    }
}
