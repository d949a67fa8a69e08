package org.ctcf.cli;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.ctcf.api.Classifier;
import org.ctcf.api.Kernel;
import org.ctcf.api.Progress;
import org.ctcf.api.Saliency;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.eval.EvalManifest;
import org.ctcf.eval.Evaluation;
import org.ctcf.eval.ScanRows;
import org.ctcf.report.Batch;
import org.ctcf.report.Explain;

import picocli.CommandLine;

/**
 * {@code ctcf evaluate} and the batch {@code ctcf explain} for an engine that runs their scans on other machines (the
 * Spark application in {@code org.ctcf.spark}): the command line is parsed and checked where it was given (the
 * driver), which needs no models, and replayed on every worker, which loads the models once ({@link #load}) and then
 * evaluates or explains scan after scan. The options are exactly those of the local commands; relative paths are
 * resolved against the driver's working folder, and the default models are named by their absolute paths, so the
 * workers find them on shared storage.
 */
public final class CohortJobs {
    private CohortJobs() {
    }

    /** A command line ({@code evaluate} or {@code explain}), and the folder its relative paths are relative to. */
    public record Spec(String command, List<String> args, String cwd) implements Serializable {
        private static final long serialVersionUID = 1L;

        public Spec {
            if (!command.equals("evaluate") && !command.equals("explain")) {
                throw new IllegalArgumentException("a cohort job is evaluate or explain, not " + command);
            }
            args = List.copyOf(args);
        }
    }

    /** An evaluation as the driver sees it: the manifest (volumes need not be here), the output folder, the columns. */
    public record EvaluatePlan(Spec spec, EvalManifest manifest, Path out, List<Integer> chunkSizes,
            List<Saliency.Method> baselines) {
        /** The committed rows of this evaluation: {@code OUT/rows/}. */
        public ScanRows rows() {
            return ScanRows.in(out.resolve("rows"), chunkSizes, baselines, Evaluation.hasPositions(manifest));
        }
    }

    /** A batch explain as the driver sees it: the scans and the output folder. */
    public record ExplainPlan(Spec spec, List<Batch.Scan> scans, Path out) {
    }

    /** {@code ctcf evaluate ARGS}, parsed and checked (a bad command line is an {@link IllegalArgumentException}). */
    public static EvaluatePlan evaluate(List<String> args) throws IOException {
        Spec spec = withDefaultModels(new Spec("evaluate", args, cwd()));
        EvaluateCommand c = parse(new EvaluateCommand(), spec);
        if (c.merge != null || c.shard != null) {
            throw new IllegalArgumentException("--shard and --merge are for ctcf evaluate without Spark: Spark splits "
                    + "the volumes among its executors itself");
        }
        if (c.manifest == null) {
            throw new IllegalArgumentException("Missing required parameter: 'MANIFEST.csv'");
        }
        List<Saliency.Method> baselines = c.baselineMethods();
        // the volumes are read on the workers; one missing there is that volume's error row
        EvalManifest m = EvalManifest.read(c.manifest, false);
        return new EvaluatePlan(spec, m, c.out, List.copyOf(c.chunks), baselines);
    }

    /** The batch {@code ctcf explain ARGS}, parsed and checked. */
    public static ExplainPlan explain(List<String> args) throws IOException {
        Spec spec = withDefaultModels(new Spec("explain", args, cwd()));
        ExplainCommand c = parse(new ExplainCommand(), spec);
        if (c.shard != null) {
            throw new IllegalArgumentException("--shard is for ctcf explain without Spark: Spark splits the scans "
                    + "among its executors itself");
        }
        c.checkOptions();
        Batch.checkDicomOut(c.dicomOut);
        if (c.manifest == null && c.folder == null && c.inputs.isEmpty()) {
            throw new IllegalArgumentException("give VOLUME..., --manifest FILE.csv or --folder DIR");
        }
        try {
            return new ExplainPlan(spec, c.scans(), c.out);
        } catch (CommandLine.ParameterException e) {
            throw new IllegalArgumentException("ctcf explain: " + e.getMessage(), e);
        }
    }

    /** The usage text of {@code ctcf evaluate} or {@code ctcf explain}. */
    public static String usage(String command) {
        return new CommandLine(command.equals("evaluate") ? new EvaluateCommand() : new ExplainCommand()).getUsageMessage();
    }

    /**
     * Loads the kernel and the models of {@code spec} on {@code device} (null: the command line's {@code --device})
     * with {@code threads} LibTorch threads (0: the command line's {@code --threads}).
     */
    public static Loaded load(Spec spec, String device, int threads) throws IOException {
        if (spec.command().equals("evaluate")) {
            EvaluateCommand c = parse(new EvaluateCommand(), spec);
            override(c.kernel, device, threads);
            return open(c.kernel, c.ae, c.classifier, (k, ae, clf) -> new Loaded(k, ae, clf, c.options(clf), null,
                    null, describe(c.ae, c.classifier, c.kernel)));
        }
        ExplainCommand c = parse(new ExplainCommand(), spec);
        override(c.kernel, device, threads);
        return open(c.kernel, c.ae, c.classifier, (k, ae, clf) -> new Loaded(k, ae, clf, null, c.request(clf),
                c.models(k, ae, clf), describe(c.ae, c.classifier, c.kernel)));
    }

    /** A command line's kernel and models, loaded; one scan at a time. */
    public static final class Loaded implements AutoCloseable {
        private final Kernel kernel;
        private final SliceAutoencoder autoencoder;
        private final Classifier classifier;
        private final Evaluation.Options evaluation;
        private final Explain.Request request;
        private final Explain.Models models;
        private final String description;

        private Loaded(Kernel kernel, SliceAutoencoder autoencoder, Classifier classifier, Evaluation.Options evaluation,
                Explain.Request request, Explain.Models models, String description) {
            this.kernel = kernel;
            this.autoencoder = autoencoder;
            this.classifier = classifier;
            this.evaluation = evaluation;
            this.request = request;
            this.models = models;
            this.description = description;
        }

        /** One volume's evaluation row (a failing volume is an error row, as in {@code ctcf evaluate}). */
        public synchronized Evaluation.Row evaluate(EvalManifest.Case c) {
            if (evaluation == null) {
                throw new IllegalStateException("loaded for explain, not evaluate");
            }
            return Evaluation.evaluateCase(kernel, autoencoder, classifier, c, evaluation);
        }

        /** What produced the rows ({@code summary.json}'s configuration). */
        public Map<String, Object> configuration() {
            if (evaluation == null) {
                throw new IllegalStateException("loaded for explain, not evaluate");
            }
            return Evaluation.configuration(autoencoder, classifier, evaluation);
        }

        /**
         * Explains one scan into {@code out/<id>/} ({@link Batch#explainScan}), waiting while a twin attempt holds the
         * scan's lock; failures are thrown.
         */
        public synchronized Batch.ScanResult explain(Batch.Scan scan, Path out, Progress.Listener progress)
                throws IOException {
            if (request == null) {
                throw new IllegalStateException("loaded for evaluate, not explain");
            }
            kernel.resetCancel();
            return Batch.explainScan(scan, out, models, request, progress, true);
        }

        /** "autoencoder FILE, classifier FILE on DEVICE (N threads)". */
        public String description() {
            return description;
        }

        @Override
        public void close() {
            classifier.close();
            autoencoder.close();
            kernel.close();
        }
    }

    private interface Build {
        Loaded build(Kernel k, SliceAutoencoder ae, Classifier clf) throws IOException;
    }

    private static Loaded open(PreprocessCommand.KernelOptions ko, AeCommand.AutoencoderOptions aeo,
            ClassifierOptions co, Build build) throws IOException {
        Kernel k = ko.open();
        SliceAutoencoder ae = null;
        Classifier clf = null;
        try {
            ae = aeo.load(k);
            clf = co.load(k);
            return build.build(k, ae, clf);
        } catch (IOException | RuntimeException | Error e) {
            if (clf != null) {
                clf.close();
            }
            if (ae != null) {
                ae.close();
            }
            k.close();
            throw e;
        }
    }

    private static String describe(AeCommand.AutoencoderOptions ae, ClassifierOptions clf,
            PreprocessCommand.KernelOptions k) {
        int threads = k.threads == 0 ? Runtime.getRuntime().availableProcessors() : k.threads;
        return "autoencoder " + ae.source() + ", classifier " + clf.cardFile() + " on " + k.device + " (" + threads
                + (threads == 1 ? " thread)" : " threads)");
    }

    private static void override(PreprocessCommand.KernelOptions k, String device, int threads) {
        if (device != null) {
            k.device = device;
        }
        if (threads > 0) {
            k.threads = threads;
        }
    }

    private static String cwd() {
        return Path.of("").toAbsolutePath().toString();
    }

    /** The command line with the default models named by absolute path (the workers' jar is elsewhere). */
    private static Spec withDefaultModels(Spec spec) throws IOException {
        List<String> args = new ArrayList<>(spec.args());
        if (args.stream().anyMatch(a -> a.equals("-h") || a.equals("--help") || a.equals("-V")
                || a.equals("--version"))) {
            throw new IllegalArgumentException(usage(spec.command()));
        }
        String[][] defaults = {{"--autoencoder", org.ctcf.api.Models.defaultAutoencoder().toString()},
            {"--classifier", org.ctcf.api.Models.defaultClassifier().toString()}};
        for (String[] d : defaults) {
            if (args.stream().noneMatch(a -> a.equals(d[0]) || a.startsWith(d[0] + "="))) {
                Path p = Path.of(d[1]).toAbsolutePath().normalize();
                if (!Files.isRegularFile(p)) {
                    throw new IllegalArgumentException("the default model " + p + " is not on this machine: give "
                            + d[0] + " FILE (on storage every worker reads)");
                }
                args.add(d[0]);
                args.add(p.toString());
            }
        }
        return new Spec(spec.command(), args, spec.cwd());
    }

    /**
     * Parses the command line into {@code command}, relative paths against the driver's folder (an option with a
     * converter of its own, such as {@code --dicom-out}, keeps it).
     */
    private static <T> T parse(T command, Spec spec) {
        CommandLine cl = new CommandLine(command);
        Path base = Path.of(spec.cwd());
        cl.registerConverter(Path.class, s -> base.resolve(s).normalize());
        try {
            cl.parseArgs(spec.args().toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            throw new IllegalArgumentException("ctcf " + spec.command() + ": " + e.getMessage(), e);
        }
        return command;
    }
}
