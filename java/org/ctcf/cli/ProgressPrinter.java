package org.ctcf.cli;

import java.io.Console;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.function.LongSupplier;

import org.ctcf.api.Progress;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine;

/**
 * Progress of long work on the CLI (explain's chunks and λ steps, saliency maps, training steps, evaluated volumes)
 * in the form {@code --progress} picks:
 * <ul>
 * <li>{@link Mode#BAR}: a bar redrawn in place (me.tongfei:progressbar) with elapsed time, ETA and the current step;
 * finished chunks and volumes stay as lines above it. {@code auto} on a terminal.</li>
 * <li>{@link Mode#PLAIN}: one line per chunk, evaluated volume or every N training steps, each with the elapsed time
 * and the ETA ({@code ETA --} until it can be estimated). {@code auto} elsewhere (logs, pipes, tests).</li>
 * <li>{@link Mode#JSON}: one JSON object per event and line on stderr (stdout keeps the command's results).</li>
 * <li>{@link Mode#NONE}: nothing ({@code --quiet} without {@code --progress}).</li>
 * </ul>
 * Bar and plain lines go to stdout, or to stderr where stdout carries data ({@code explain --json}). The clock is
 * injectable for tests. ETA = work time × (1 − f) / f, with f the fraction of the work done: for explain, (chunks done
 * + the steps of the current chunk over the mean steps of a finished chunk) / chunks, timed from the first chunk's
 * first step (encoding the volume is not chunk work).
 */
final class ProgressPrinter implements Progress.Listener, AutoCloseable {
    /** {@code --progress}: how progress is shown. */
    enum Mode {
        AUTO, BAR, PLAIN, JSON, NONE;

        /** picocli: the mode's name in any case. */
        static final class Converter implements CommandLine.ITypeConverter<Mode> {
            @Override
            public Mode convert(String value) {
                try {
                    return Mode.valueOf(value.strip().toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    throw new CommandLine.TypeConversionException("'" + value
                            + "' is not one of auto, bar, plain, json, none");
                }
            }
        }
    }

    /** Bar units per chunk or volume: the bar moves within a chunk while its count stays whole. */
    private static final long SCALE = 1000;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Mode mode;
    private final boolean lines;
    private final PrintWriter human;
    private final PrintWriter events;
    private final LongSupplier clock;
    private final int width;
    private final String task;
    private final long t0;

    // explain's chunks: what the fraction of the work done is estimated from
    private long workStart = -1;
    private long chunksDone;
    private long stepsInChunk;
    private long stepsInDoneChunks;

    private ProgressBar bar;
    private volatile double lastEta = Double.NaN;

    /**
     * @param mode resolved ({@link #resolve}): BAR, PLAIN, JSON or NONE
     * @param lines whether {@link #println} prints (false with {@code --quiet})
     * @param human where the bar and plain lines go
     * @param events where JSON events go
     * @param clock nanoseconds, as {@link System#nanoTime}
     * @param width the bar's width in columns
     * @param task what runs ("explain", a saliency method, "train ae", ...): the bar's name, JSON's "task"
     */
    ProgressPrinter(Mode mode, boolean lines, PrintWriter human, PrintWriter events, LongSupplier clock, int width,
            String task) {
        if (mode == Mode.AUTO) {
            throw new IllegalArgumentException("resolve the auto mode first");
        }
        this.mode = mode;
        this.lines = lines;
        this.human = human;
        this.events = events;
        this.clock = clock;
        this.width = width;
        this.task = task;
        this.t0 = clock.getAsLong();
    }

    /** The printer a command's {@code --progress} and {@code --quiet} ask for; progress lines go to stdout. */
    static ProgressPrinter of(CommandLine.Model.CommandSpec spec, String task) {
        return of(spec, task, false);
    }

    /** As {@link #of(CommandLine.Model.CommandSpec, String)}; {@code stdoutIsData}: bar and lines go to stderr. */
    static ProgressPrinter of(CommandLine.Model.CommandSpec spec, String task, boolean stdoutIsData) {
        GlobalOptions g = spec.root().userObject() instanceof Main m ? m.global : new GlobalOptions();
        Mode mode = resolve(g.progress, g.quiet, !stdoutIsData && terminal());
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        return new ProgressPrinter(mode, !g.quiet, stdoutIsData ? err : out, err, System::nanoTime,
                mode == Mode.BAR ? terminalWidth() : 100, task);
    }

    /** {@code --progress} as given (null: not given) with {@code --quiet}, and whether stdout is a terminal. */
    static Mode resolve(Mode given, boolean quiet, boolean terminal) {
        Mode m = given != null ? given : quiet ? Mode.NONE : Mode.AUTO;
        return m == Mode.AUTO ? terminal ? Mode.BAR : Mode.PLAIN : m;
    }

    /** The clock's now, in nanoseconds. */
    long now() {
        return clock.getAsLong();
    }

    /**
     * A printer like this one (mode, streams, clock, width) for another task: a batch's next scan, whose chunk counts
     * and ETA start afresh.
     */
    ProgressPrinter sibling(String task) {
        return new ProgressPrinter(mode, lines, human, events, clock, width, task);
    }

    /**
     * A batch's scan-level event: plain and bar mode print {@code text} with the elapsed time (since this printer
     * began) and {@code eta} as a line (bar mode: no scan's bar is drawn then); JSON mode an event {@code phase}
     * with {@code fields}.
     */
    void scanLine(String phase, String text, OptionalDouble eta, Map<String, Object> fields) {
        if (mode == Mode.NONE) {
            return;
        }
        long now = clock.getAsLong();
        if (mode == Mode.JSON) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("phase", phase);
            m.put("task", task);
            m.putAll(fields);
            json(m, now, eta);
            return;
        }
        synchronized (human) {
            human.print(text + "; " + times(now, eta) + System.lineSeparator());
            human.flush();
        }
    }

    @Override
    public boolean onProgress(Progress p) {
        if (mode == Mode.NONE) {
            return true;
        }
        long now = clock.getAsLong();
        long chunks = Math.max(1, p.chunks());
        switch (p.phase()) {
            case ENCODE, GRADIENT -> {
                event(p, now, OptionalDouble.empty());
                message(p.phase() == Progress.Phase.ENCODE ? "encoding and decoding the volume"
                        : String.format(Locale.ROOT, "gradient: prediction %.4f", p.prediction()), -1, chunks, " chunks");
            }
            case SEARCH_STEP, SWEEP_FRAME -> {
                if (workStart < 0) {
                    workStart = now;
                }
                stepsInChunk++;
                double f = chunkFraction(chunks);
                OptionalDouble eta = eta(seconds(now - workStart), f);
                remember(eta);
                event(p, now, eta);
                String what = chunksDone >= chunks ? "explained chunk, frame"
                        : "chunk " + (p.chunk() + 1) + (p.phase() == Progress.Phase.SEARCH_STEP ? " search step"
                                : " frame");
                message(String.format(Locale.ROOT, "%s %d: lambda %.0f, prediction %.4f", what, p.step() + 1,
                        p.lambda(), p.prediction()), f, chunks, " chunks");
            }
            case CHUNK_DONE -> {
                if (workStart < 0) {
                    workStart = now;
                }
                chunksDone = Math.max(chunksDone, p.chunk() + 1);
                stepsInDoneChunks += stepsInChunk + 1;
                stepsInChunk = 0;
                double f = Math.min(1.0, (double) chunksDone / chunks);
                OptionalDouble eta = eta(seconds(now - workStart), f);
                remember(eta);
                event(p, now, eta);
                line(String.format(Locale.ROOT, "chunk %d/%d done: lambda %.0f, prediction %.4f; %s", p.chunk() + 1,
                        chunks, p.lambda(), p.prediction(), times(now, eta)), f, chunks, " chunks");
            }
            case SALIENCY -> {
                double f = p.lambda() > 0 ? Math.min(1.0, p.step() / p.lambda()) : Double.NaN;
                OptionalDouble eta = eta(seconds(now - t0), f);
                remember(eta);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("phase", p.phase().name());
                m.put("task", task);
                m.put("step", p.step());
                m.put("steps", Math.round(p.lambda()));
                m.put("value", finite(p.prediction()));
                json(m, now, eta);
                if (mode == Mode.BAR && p.lambda() > 0) {
                    bar(Math.round(p.lambda()), 1, " steps").stepTo(p.step());
                }
            }
        }
        return true;
    }

    /**
     * A training step: {@code done} of {@code total}; plain mode prints a line every {@code every} steps and at the
     * last; {@code fields} are JSON's extra numbers (losses).
     */
    void step(long done, long total, String text, long every, Map<String, Object> fields) {
        if (mode == Mode.NONE) {
            return;
        }
        long now = clock.getAsLong();
        double f = total > 0 ? Math.min(1.0, (double) done / total) : Double.NaN;
        OptionalDouble eta = eta(seconds(now - t0), f);
        if (mode == Mode.JSON) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("phase", "TRAIN_STEP");
            m.put("task", task);
            m.put("step", done);
            m.put("steps", total);
            m.putAll(fields);
            json(m, now, eta);
        } else if (mode == Mode.BAR) {
            remember(eta);
            bar(total, 1, " steps").stepTo(done).setExtraMessage(text);
        } else if (done % Math.max(1, every) == 0 || done == total) {
            int w = 24;
            int filled = (int) (w * Math.max(0, Math.min(done, total)) / Math.max(1, total));
            human.printf(Locale.ROOT, "[%s%s] %d/%d %s; %s%n", "#".repeat(filled), " ".repeat(w - filled), done, total,
                    text, times(now, eta));
            human.flush();
        }
    }

    /**
     * An item of a list finished (an evaluated volume): {@code done} of {@code total}, the line plain and bar mode
     * print, JSON's fields; {@code etaSeconds} NaN: estimated from the fraction done.
     */
    void item(String phase, long done, long total, String text, double etaSeconds, Map<String, Object> fields) {
        if (mode == Mode.NONE) {
            return;
        }
        long now = clock.getAsLong();
        double f = total > 0 ? Math.min(1.0, (double) done / total) : Double.NaN;
        OptionalDouble eta = Double.isFinite(etaSeconds) && etaSeconds >= 0 ? OptionalDouble.of(etaSeconds)
                : eta(seconds(now - t0), f);
        remember(eta);
        if (mode == Mode.JSON) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("phase", phase);
            m.put("task", task);
            m.put("step", done);
            m.put("steps", total);
            m.putAll(fields);
            json(m, now, eta);
        } else {
            line(String.format(Locale.ROOT, "[%d/%d] %s; %s", done, total, text, times(now, eta)), f, total, "");
        }
    }

    /** A line of the command's own output ({@code --quiet}: none) that must not run into the bar. */
    void println(String s) {
        if (!lines) {
            return;
        }
        synchronized (human) {
            human.print((bar != null ? "\r\u001b[K" : "") + s + System.lineSeparator());
            human.flush();
        }
    }

    /** Ends the bar (it stays, finished, above what follows). */
    @Override
    public void close() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }

    /** The fraction of a chunk sweep done: chunks done plus the current chunk's steps over a finished one's mean. */
    private double chunkFraction(long chunks) {
        if (chunksDone >= chunks) {
            return Double.NaN;  // the explained chunk's frames after the sweep: no estimate
        }
        double mean = chunksDone == 0 ? 0 : (double) stepsInDoneChunks / chunksDone;
        double within = mean > 0 ? Math.min(0.99, stepsInChunk / mean) : 0;
        return (chunksDone + within) / chunks;
    }

    /** Seconds left: work time × (1 − f) / f; empty while nothing is done (or f is unknown). */
    static OptionalDouble eta(double workSeconds, double fraction) {
        if (!(fraction > 0) || !(workSeconds >= 0)) {
            return OptionalDouble.empty();
        }
        return OptionalDouble.of(fraction >= 1 ? 0 : workSeconds * (1 - fraction) / fraction);
    }

    /** "elapsed 0:01:05, ETA 0:00:30" or "elapsed 0:00:02, ETA --". */
    private String times(long now, OptionalDouble eta) {
        return "elapsed " + clock(seconds(now - t0)) + ", ETA " + (eta.isPresent() ? clock(eta.getAsDouble()) : "--");
    }

    /** H:MM:SS (the bar's form too). */
    static String clock(double seconds) {
        long s = Math.round(Math.max(0, seconds));
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    private void event(Progress p, long now, OptionalDouble eta) {
        if (mode != Mode.JSON) {
            return;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("phase", p.phase().name());
        m.put("task", task);
        m.put("chunk", p.chunk() + 1);
        m.put("chunks", Math.max(1, p.chunks()));
        m.put("step", p.phase() == Progress.Phase.SEARCH_STEP || p.phase() == Progress.Phase.SWEEP_FRAME
                ? p.step() + 1 : null);
        m.put("lambda", finite(p.lambda()));
        m.put("prediction", finite(p.prediction()));
        json(m, now, eta);
    }

    private void json(Map<String, Object> m, long now, OptionalDouble eta) {
        if (mode != Mode.JSON) {
            return;
        }
        m.put("elapsed_s", Math.round(seconds(now - t0) * 1000) / 1000.0);
        m.put("eta_s", eta.isPresent() ? Math.round(eta.getAsDouble() * 1000) / 1000.0 : null);
        try {
            String s = JSON.writeValueAsString(m);
            synchronized (events) {
                events.println(s);
                events.flush();
            }
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    /** Bar mode: the current step's text (fraction f of total items, NaN/negative: unchanged). */
    private void message(String text, double f, long total, String unit) {
        if (mode != Mode.BAR) {
            return;
        }
        ProgressBar b = bar(total * SCALE, SCALE, unit);
        if (f >= 0) {
            b.stepTo(Math.round(f * total * SCALE));
        }
        b.setExtraMessage(text);
    }

    /** A finished chunk or item: its line (plain mode), in bar mode above the bar. */
    private void line(String text, double f, long total, String unit) {
        if (mode == Mode.PLAIN) {
            human.println(text);
            human.flush();
        } else if (mode == Mode.BAR) {
            ProgressBar b = bar(total * SCALE, SCALE, unit);
            synchronized (human) {
                human.print("\r\u001b[K" + text + System.lineSeparator());
                human.flush();
            }
            if (f >= 0) {
                b.stepTo(Math.round(f * total * SCALE));
            }
            b.refresh();
        }
    }

    private ProgressBar bar(long max, long unitSize, String unit) {
        if (bar == null) {
            bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(max).setUnit(unit, unitSize)
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(200).setConsumer(new Consumer())
                    .setEtaFunction(state -> Double.isFinite(lastEta)
                            ? Optional.of(Duration.ofMillis(Math.round(lastEta * 1000))) : Optional.empty())
                    .build();
        } else if (bar.getMax() != max) {
            bar.maxHint(max);
        }
        return bar;
    }

    /** Bar mode: the ETA the bar shows is this printer's, from its clock. */
    private void remember(OptionalDouble eta) {
        lastEta = eta.orElse(Double.NaN);
    }

    /** The bar drawn in place on {@link #human}. */
    private final class Consumer implements ProgressBarConsumer {
        @Override
        public int getMaxRenderedLength() {
            return width;
        }

        @Override
        public void accept(String rendered) {
            synchronized (human) {
                human.print("\r" + (rendered.length() > width ? rendered.substring(0, width) : rendered) + "\u001b[K");
                human.flush();
            }
        }

        @Override
        public void close() {
            synchronized (human) {
                human.println();
                human.flush();
            }
        }
    }

    /** stdin and stdout are a terminal (JDK 22+: System.console() may exist without one). */
    static boolean terminal() {
        Console c = System.console();
        return c != null && c.isTerminal();
    }

    /** The terminal's columns (JLine, which the bar library brings), 80 if unknown. */
    private static int terminalWidth() {
        java.util.logging.Logger.getLogger("org.jline").setLevel(java.util.logging.Level.OFF);
        try (org.jline.terminal.Terminal t = org.jline.terminal.TerminalBuilder.builder().dumb(true).build()) {
            int w = t.getWidth();
            return w > 10 ? w - 1 : 80;
        } catch (Exception | LinkageError e) {
            return 80;
        }
    }
}
