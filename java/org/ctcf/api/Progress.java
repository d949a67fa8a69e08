package org.ctcf.api;

import org.ctcf.core.CtcfException;

/**
 * A progress report from a running explanation: the phase, which chunk of how many, the search or sweep step,
 * its λ and the prediction there.
 */
public record Progress(Phase phase, long chunk, long chunks, long step, double lambda, double prediction) {
    public enum Phase {
        ENCODE, GRADIENT, SEARCH_STEP, SWEEP_FRAME, CHUNK_DONE,
        /** A saliency map: step = work done, λ = work in all. */
        SALIENCY;

        /** From the kernel's phase code (explicit values, see ctcf_progress_fn). */
        static Phase of(int code) {
            return switch (code) {
                case 0 -> ENCODE;
                case 1 -> GRADIENT;
                case 2 -> SEARCH_STEP;
                case 3 -> SWEEP_FRAME;
                case 4 -> CHUNK_DONE;
                case 5 -> SALIENCY;
                default -> throw new IllegalArgumentException("unknown progress phase " + code);
            };
        }
    }

    /** Receives progress; returning false cancels the run (it then throws {@link CtcfException.CancelledException}). */
    @FunctionalInterface
    public interface Listener {
        boolean onProgress(Progress p);

        Listener NONE = p -> true;
    }
}
