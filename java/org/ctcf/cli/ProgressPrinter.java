package org.ctcf.cli;

import java.io.PrintWriter;
import java.util.Locale;

import org.ctcf.api.Progress;

/**
 * Progress of a Latent Shift run on the CLI's output: in place on a terminal (chunk and λ step), one line per chunk
 * otherwise (what logs and tests see).
 */
final class ProgressPrinter implements Progress.Listener {
    private final PrintWriter o;
    private final boolean tty = System.console() != null;

    ProgressPrinter(PrintWriter o) {
        this.o = o;
    }

    @Override
    public boolean onProgress(Progress p) {
        if (p.phase() == Progress.Phase.CHUNK_DONE) {
            o.printf(Locale.ROOT, "%schunk %d/%d done: lambda %.0f, prediction %.4f%n", tty ? "\r\u001b[K" : "",
                    p.chunk() + 1, p.chunks(), p.lambda(), p.prediction());
            o.flush();
        } else if (tty && (p.phase() == Progress.Phase.SEARCH_STEP || p.phase() == Progress.Phase.SWEEP_FRAME)) {
            o.printf(Locale.ROOT, "\rchunk %d/%d %s %d: lambda %.0f, prediction %.4f\u001b[K", p.chunk() + 1,
                    Math.max(1, p.chunks()), p.phase() == Progress.Phase.SEARCH_STEP ? "search step" : "frame",
                    p.step() + 1, p.lambda(), p.prediction());
            o.flush();
        }
        return true;
    }
}
