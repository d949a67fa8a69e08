package org.ctcf.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.ctcf.api.Classifier;
import org.ctcf.api.ExplainOptions;
import org.ctcf.api.Kernel;
import org.ctcf.api.Saliency;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.Target;
import org.ctcf.core.Shard;
import org.ctcf.eval.EvalManifest;
import org.ctcf.eval.Evaluation;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ctcf evaluate}: Latent Shift over a labelled dataset, the paper's Table 1 and Fig. 5, and localization. */
@Command(mixinStandardHelpOptions = true, name = "evaluate", defaultValueProvider = ShiftOptions.Defaults.class,
        description = {
    "Run chunk sweeps over a labelled dataset and score them (the paper's Table 1 and Fig. 5).",
    "The dataset is a CSV manifest (header volume,label[,x_mm,y_mm,z_mm]; paths relative to it). Writes "
            + "results.csv (one row per volume, written after each), summary.json (mean +- SE of the predictions of "
            + "positives, negatives and the counterfactuals of positives; Welch's t-test and the Mann-Whitney U test; "
            + "the prediction drop per chunk size; with positions, how often the top-ranked chunk holds the finding "
            + "and the distance of the heatmap's peak, beside the same for the saliency baselines), chunk_size.png "
            + "and distributions.png.",
    "A rerun with the same --out skips finished volumes; a failed volume is recorded and the run goes on.",
    "--shard I/N evaluates 1/N of the volumes (by a hash of the volume's path as the manifest writes it), e.g. one "
            + "job of a SLURM array; ctcf evaluate --merge DIR... -o OUT (no models) combines the shards' folders "
            + "into the results.csv, summary.json and plots of one run."})
final class EvaluateCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "MANIFEST.csv",
            description = "The dataset. With --merge: optional, the manifest whose order the merged rows follow "
                    + "(default: the one the shards recorded).")
    Path manifest;

    @Option(names = "--shard", paramLabel = "I/N", converter = ShardConverter.class,
            description = "Evaluate only the volumes of shard I of N (0 <= I < N; a volume belongs to one shard by a "
                    + "hash of its path as the manifest writes it, so the split does not depend on the rows' order). "
                    + "The folder holds that subset's results; combine the N folders with --merge.")
    Shard shard;

    @Option(names = "--merge", arity = "1..*", paramLabel = "DIR",
            description = "Merge the output folders of the shards of one --shard I/N split into --out (results.csv in "
                    + "the manifest's order, summary.json recomputed from the merged rows, plots); needs no models. "
                    + "Shards of different configurations, a volume in two shards and a missing shard are refused.")
    List<Path> merge;

    @Mixin
    AeCommand.AutoencoderOptions ae;

    @Mixin
    ClassifierOptions classifier;

    @Option(names = "--chunks", split = ",", defaultValue = "16", paramLabel = "N[,N...]",
            description = "Chunk sizes; the first is used for the table and localization. Default: ${DEFAULT-VALUE}.")
    List<Integer> chunks;

    @Option(names = "--baselines", split = ",",
            defaultValue = "gradient,gradient-x-input,integrated-gradients,guided-backprop,grad-cam",
            description = "Saliency methods scored for localization (none: --baselines none). Default: "
                    + "${DEFAULT-VALUE}.")
    List<String> baselines;

    @Option(names = "--layer", paramLabel = "NAME",
            description = "Grad-CAM layer (a submodule path). Default: the built-in architecture's.")
    String layer;

    @Option(names = "--ig-steps", defaultValue = "16", description = "Integrated gradients: path points. Default: "
            + "${DEFAULT-VALUE}.")
    int igSteps;

    @Mixin
    ShiftOptions shift;

    @Option(names = {"-o", "--out"}, defaultValue = "ctcf-evaluation", paramLabel = "DIR",
            description = "Output folder (a rerun resumes it). Default: ${DEFAULT-VALUE}.")
    Path out;

    @Mixin
    PreprocessCommand.KernelOptions kernel;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        var o = spec.commandLine().getOut();
        boolean quiet = spec.root().userObject() instanceof Main m && m.global.quiet;
        if (merge != null) {
            if (shard != null) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "--merge and --shard do not go together: merge the shards' folders into one");
            }
            Map<String, Object> s = Evaluation.merge(merge, manifest, out);
            if (!quiet) {
                o.printf(Locale.ROOT, "merged %d folders -> %s%n", merge.size(), out);
                o.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(s));
            }
            o.flush();
            return exitCode(s);
        }
        if (manifest == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "Missing required parameter: 'MANIFEST.csv'");
        }
        Shard part = shard == null ? Shard.ALL : shard;
        EvalManifest m = EvalManifest.read(manifest);
        try (ProgressPrinter progress = ProgressPrinter.of(spec, "evaluate"); Kernel k = kernel.open();
                CancelOnExit exit = new CancelOnExit(k); SliceAutoencoder model = ae.load(k);
                Classifier clf = classifier.load(k)) {
            Evaluation.Options opts = options(clf);
            if (!quiet) {
                var mine = m.cases().stream().filter(c -> part.owns(c.id())).toList();
                o.printf(Locale.ROOT, "evaluating %d volumes (%d positive)%s with %s, chunks %s -> %s%n",
                        mine.size(), mine.stream().filter(EvalManifest.Case::positive).count(),
                        part.count() > 1 ? " of " + m.cases().size() + " (shard " + part + ")" : "",
                        clf.card().name(), chunks, out);
                o.flush();
            }
            Map<String, Object> s = Evaluation.run(k, model, clf, m, opts, part, out, new Evaluation.Listener() {
                @Override
                public void started(int i, int n, EvalManifest.Case c) {
                }

                @Override
                public void finished(int i, int n, Evaluation.Row r, double eta) {
                    Map<String, Object> fields = new LinkedHashMap<>();
                    fields.put("volume", r.volume());
                    fields.put("positive", r.positive());
                    fields.put("status", r.status());
                    fields.put("prediction", Double.isFinite(r.p0()) ? r.p0() : null);
                    fields.put("counterfactual_prediction", Double.isFinite(r.minCf()) ? r.minCf() : null);
                    fields.put("seconds", r.seconds());
                    progress.item("VOLUME_DONE", i + 1, n, String.format(Locale.ROOT, "%s (%s): %s; %.0f s",
                            r.volume(), r.positive() ? "positive" : "negative", r.ok() ? String.format(Locale.ROOT,
                                    "%.4f -> %.4f (chunk %d:%d)", r.p0(), r.minCf(), r.bestStart(), r.bestEnd())
                                    : r.status(), r.seconds()), eta, fields);
                }
            });
            progress.close();
            if (!quiet) {
                o.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(s));
            }
            o.flush();
            return exitCode(s);
        }
    }

    /**
     * 0, or {@link ExitCode#SCANS_FAILED} when a volume failed (as {@code explain} does for a scan), saying so on
     * stderr, so that a run where every volume failed is not a success.
     */
    int exitCode(Map<String, Object> summary) {
        Object failed = summary.get("failed");
        if (failed instanceof List<?> l && !l.isEmpty()) {
            var err = spec.commandLine().getErr();
            err.println("ctcf: " + l.size() + " of " + summary.get("volumes") + " volumes failed (summary.json's "
                    + "\"failed\"; results.csv's status column): " + org.ctcf.core.Text.printable(String.valueOf(
                            l.get(0))) + (l.size() > 1 ? "; ..." : ""));
            err.flush();
            return ExitCode.SCANS_FAILED.code();
        }
        return ExitCode.OK.code();
    }

    /** The --baselines methods (none: --baselines none). */
    List<Saliency.Method> baselineMethods() {
        return baselines.size() == 1 && baselines.get(0).equals("none") ? List.of()
                : baselines.stream().map(Saliency.Method::parse).distinct().toList();
    }

    /** The evaluation's options for the loaded classifier (its target and preprocessing). */
    Evaluation.Options options(Classifier clf) throws java.io.IOException {
        Target t = classifier.target(clf);
        ExplainOptions eo = shift.builder(t, ae.batch).build();
        return new Evaluation.Options(eo, clf.card().preprocessing(), chunks, baselineMethods(),
                Saliency.Options.defaults().withSteps(igSteps).withLayer(layer));
    }
}
