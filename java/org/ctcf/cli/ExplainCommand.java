package org.ctcf.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.ctcf.api.ChunkSweep;
import org.ctcf.api.Classifier;
import org.ctcf.api.ExplainOptions;
import org.ctcf.api.Kernel;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.core.Shard;
import org.ctcf.report.Batch;
import org.ctcf.report.Explain;
import org.ctcf.report.ExplanationSummary;

import com.fasterxml.jackson.databind.ObjectMapper;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ctcf explain}: a shell over {@link Explain#toDirectory}. It turns the options into a request, loads the
 * models, and prints progress and the outcome. One chunk ({@code --slices a:b}) or a chunk sweep ({@code --chunk N}).
 */
@Command(mixinStandardHelpOptions = true, name = "explain", defaultValueProvider = ShiftOptions.Defaults.class,
        description = {
            "Explain a classifier's score on a CT volume with Latent Shift.",
            "Defaults: the shipped autoencoder and nodule detector (models/), and a chunk sweep with chunks of 16 "
                    + "slices followed by a 10-frame explanation of the chunk that lowers the prediction most.",
            "Writes to --out: counterfactual.nii.gz, reconstruction.nii.gz, heatmap.nii.gz (input grid and affine), "
                    + "sweep.gif, panels.png, lambda_prediction.png, chunk_prediction.png, slice_change.png (sweeps), "
                    + "summary.json and report.html (self-contained, with a 3-D viewer).",
            "Several scans (several VOLUMEs, --manifest or --folder; the models load once): each into --out/<id>/, "
                    + "written as a whole (a folder is complete or absent); failures in --out/failures.csv, the run "
                    + "goes on, exit code 8 if any failed; a re-run skips scans whose summary.json exists; --shard I/N "
                    + "takes a deterministic 1/N of them."})
final class ExplainCommand implements Callable<Integer> {
    static final int DEFAULT_CHUNK = 16;

    @Parameters(arity = "0..*", paramLabel = "VOLUME", description = {"The CT volume(s): a file or a DICOM folder. "
            + "With one, the outputs go to --out; with several, each to --out/<id>/ (id: the file name without "
            + ".nii.gz/.nii/.mha/.mhd) as with --manifest."})
    List<Path> inputs = new ArrayList<>();

    @Option(names = "--manifest", paramLabel = "FILE.csv", description = {"Explain every scan of a CSV manifest "
            + "(header volume[,series][,id]; relative paths against its folder; other columns ignored) into "
            + "--out/<id>/ (id default: the file name without its extension); failures go to --out/failures.csv "
            + "and the run goes on; scans with a summary.json are skipped (resume)."})
    Path manifest;

    @Option(names = "--folder", paramLabel = "DIR", description = {"Explain every .nii/.nii.gz/.mha/.mhd file and every "
            + "sub-folder holding DICOM of DIR (id: the name without extension) into --out/<id>/, as --manifest."})
    Path folder;

    @Option(names = "--shard", paramLabel = "I/N", converter = ShardConverter.class, description = {"Of the scans of --manifest, --folder or several "
            + "inputs, only shard I of N (0 <= I < N; by a hash of the scan id, so stable under re-ordering): N "
            + "processes (a SLURM array, one per GPU) share a cohort with no coordination."})
    Shard shard;

    @Mixin
    AeCommand.AutoencoderOptions ae;

    @Mixin
    ClassifierOptions classifier;

    @Mixin
    ShiftOptions shift;

    @Option(names = "--slices", paramLabel = "A:B", description = "Explain one chunk of slices [A, B) (processed grid).")
    String slices;

    @Option(names = "--range", paramLabel = "A:B", description = {"Use only slices [A, B) of the processed volume as "
            + "the volume (the score, pixel cap and outputs see only them; the paper's lung-size notebook explains one "
            + "slice this way)."})
    String range;

    @Option(names = "--chunk", paramLabel = "N", description = "Chunk sweep with chunks of N slices (default 16).")
    Integer chunk;

    @Option(names = "--stride", paramLabel = "N", description = "Sweep stride (default: the chunk size).")
    Integer stride;

    @Option(names = "--offset", defaultValue = "0", paramLabel = "N", description = "Sweep offset.")
    int offset;

    @Option(names = "--sweep-steps", paramLabel = "N",
            description = "lambda_sweep_steps of a chunk sweep (default 2, as the reference); --slices uses --frames.")
    Integer sweepSteps;

    @Option(names = "--frames", defaultValue = "10", paramLabel = "N",
            description = "Sweep frames of the explained chunk (GIF, lambda plot). Default: ${DEFAULT-VALUE}.")
    int frames;

    @Option(names = "--show-slice", paramLabel = "Z",
            description = "Slice (processed grid) of the GIF; default: the slice with the most change.")
    Integer showSlice;

    @Option(names = "--no-report", description = "Skip the images and report.html (volumes and summary only).")
    boolean noReport;

    @Option(names = {"-o", "--out"}, defaultValue = "ctcf-out", paramLabel = "DIR", description = "Output folder.")
    Path out;

    @Option(names = "--dicom-out", paramLabel = "DIR", converter = AsGiven.class, description = {"Also write the explanation as DICOM into "
            + "the input's study (a DICOM input only): the counterfactual as a derived CT series, |change| in HU as "
            + "a Parametric Map, the panel as a Secondary Capture. In a batch: a relative path inside each scan's "
            + "folder (--dicom-out dicom: --out/<id>/dicom/)."})
    Path dicomOut;

    @Option(names = "--json", description = "Print the summary as JSON on stdout.")
    boolean json;

    @Mixin
    DisplayOption display;

    @Mixin
    SeriesOption series;

    @Mixin
    PreprocessCommand.KernelOptions kernel;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        checkOptions();
        boolean many = manifest != null || folder != null || inputs.size() > 1 || shard != null;
        List<Batch.Scan> scans = many ? scans() : null;
        if (!many && inputs.size() != 1) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "give a VOLUME, several, --manifest FILE.csv or --folder DIR");
        }
        Shard sh = shard != null ? shard : Shard.ALL;
        if (many) {
            List<Path> others = new ArrayList<>();
            if (manifest != null) {
                others.add(manifest);
            }
            if (folder != null) {
                others.add(folder);
            }
            Batch.checkOutOutsideInputs(out, scans, others);
        } else {
            Explain.checkOutputs(inputs.get(0), out, dicomOut);
        }
        var o = spec.commandLine().getOut();
        boolean quiet = spec.root().userObject() instanceof Main m && m.global.quiet;
        ExplanationSummary s;
        Batch.BatchResult batchResult = null;
        try (ProgressPrinter progress = ProgressPrinter.of(spec, "explain", json); Kernel k = kernel.open();
                CancelOnExit exit = new CancelOnExit(k); SliceAutoencoder model = ae.load(k);
                Classifier clf = classifier.load(k)) {
            Explain.Request request = request(clf);
            Explain.Models models = models(k, model, clf);
            if (many) {
                BatchProgress listener = new BatchProgress(progress);
                try {
                    batchResult = Batch.run(scans, out, models, request, sh, listener);
                } finally {
                    listener.close();
                }
                s = null;
            } else {
                s = Explain.toDirectory(inputs.get(0), out, models, request, progress);
            }
        }
        if (batchResult != null) {
            Path failures = out.resolve(Batch.failuresName(sh));
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("explained", batchResult.explained());
                m.put("skipped", batchResult.skipped());
                m.put("failed", batchResult.failed());
                m.put("failures", batchResult.failures().stream().map(f -> {
                    Map<String, Object> r = new LinkedHashMap<>();
                    r.put("id", f.scan().id());
                    r.put("volume", f.scan().volume().toString());
                    r.put("error", f.errorClass());
                    r.put("message", f.message());
                    return r;
                }).toList());
                o.println(new ObjectMapper().writeValueAsString(m));
            } else if (!quiet) {
                o.println(batchResult.summaryLine(failures));
            }
            if (batchResult.failed() > 0) {
                // the summary line goes to stderr too, so that a quiet run's log says why the exit code is not 0
                spec.commandLine().getErr().println("ctcf: " + batchResult.summaryLine(failures));
                spec.commandLine().getErr().flush();
            }
            o.flush();
            return batchResult.failed() > 0 ? ExitCode.SCANS_FAILED.code() : ExitCode.OK.code();
        }
        if (s.outOfDomain()) {
            // on stderr too, so that a quiet or --json run still says that its numbers mean nothing
            spec.commandLine().getErr().println("ctcf: warning: " + inputs.get(0) + ": "
                    + s.domainCheck().describe());
            spec.commandLine().getErr().flush();
        }
        if (json) {
            o.println(new String(s.toJson(), StandardCharsets.UTF_8));
        } else if (!quiet) {
            if (s.outOfDomain()) {
                o.println("WARNING: " + s.domainCheck().describe());
            }
            o.printf(Locale.ROOT, "%s; %.1f s; outputs in %s%s%n", headline(s), s.wallSeconds(), out,
                    s.outOfDomain() ? " [out of domain, not meaningful]" : "");
            if (s.domainCheck() != null && !s.outOfDomain()) {
                o.println(s.domainCheck().describe());
            }
        }
        o.flush();
        return ExitCode.OK.code();
    }

    /**
     * The console's result line: {@code prediction 0.9983 -> 0.1380 (chunk 48:64, the best of 4)}, the greedy
     * composite's chunks, or {@code no counterfactual found} when no chunk lowered the prediction.
     */
    static String headline(org.ctcf.report.ExplanationSummary s) {
        var e = s.explanation();
        if (e != null) {
            return String.format(Locale.ROOT, "prediction %.4f -> %.4f (%s)", s.initialPrediction(),
                    s.counterfactualPrediction(), e.stopReason().name());
        }
        var w = s.sweep();
        if (!w.counterfactualFound() && s.initialPrediction() < s.options().stopBelow()) {
            return String.format(Locale.ROOT, "prediction %.4f: no counterfactual found (below the search's floor "
                    + "%s: nothing to lower; --stop-below 0 explains it anyway)", s.initialPrediction(),
                    java.math.BigDecimal.valueOf(s.options().stopBelow()).stripTrailingZeros().toPlainString());
        }
        if (!w.counterfactualFound()) {
            return String.format(Locale.ROOT, "prediction %.4f: no counterfactual found (no chunk lowered it; the "
                    + "lowest over %d chunks is %.4f)", s.initialPrediction(), w.chunks().size(), w.minimumPrediction());
        }
        List<String> spans = w.counterfactualChunks().stream().map(c -> c.get(0) + ":" + c.get(1)).toList();
        String how = "greedy".equals(w.stitch())
                ? spans.size() + " chunks stitched greedily: " + String.join(", ", spans)
                : "chunk " + spans.get(0) + ", the best of " + w.chunks().size();
        return String.format(Locale.ROOT, "prediction %.4f -> %.4f (%s)", s.initialPrediction(),
                s.counterfactualPrediction(), how);
    }

    /**
     * {@code --dicom-out} as written: in a batch it names a folder inside each scan's folder, so a command line
     * replayed elsewhere ({@link CohortJobs}, whose paths resolve against the driver's folder) keeps it relative.
     */
    static final class AsGiven implements picocli.CommandLine.ITypeConverter<Path> {
        @Override
        public Path convert(String value) {
            return Path.of(value);
        }
    }

    /** The checks of the options that need no models. */
    void checkOptions() {
        if (slices != null && chunk != null) {
            throw new IllegalArgumentException("give at most one of --slices A:B or --chunk N");
        }
        if (sweepSteps != null && sweepSteps < 2) {
            throw new IllegalArgumentException("--sweep-steps must be >= 2 (the sweep runs from the lambda bound to 0, "
                    + "as the reference asserts), not " + sweepSteps);
        }
        int n = chunk != null ? chunk : DEFAULT_CHUNK;
        if (n < 1 || (stride != null && stride < 1)) {
            throw new IllegalArgumentException(n < 1 ? "--chunk " + n + " must be >= 1" : "--stride must be >= 1");
        }
    }

    /** What to explain and write, for the loaded classifier (its target). */
    Explain.Request request(Classifier clf) throws java.io.IOException {
        int n = chunk != null ? chunk : DEFAULT_CHUNK;
        ExplainOptions.Builder b = shift.builder(classifier.target(clf), ae.batch);
        Explain.Request request = slices != null ? Explain.Request.chunk(b.build(), span("--slices", slices))
                : Explain.Request.sweep(b.lambdaSweepSteps(sweepSteps != null ? sweepSteps : 2).build(),
                        new ChunkSweep(n, stride != null ? stride : n, offset, 0, 0));
        if (range != null) {
            request = request.withRange(span("--range", range));
        }
        return request.withFrames(frames).withGifSlice(showSlice != null ? showSlice : -1)
                .withImages(!noReport).withDisplay(display.display)
                .withDicomOut(dicomOut).withSeries(series.series);
    }

    /** The loaded models as the explain records them (sources, device, threads). */
    Explain.Models models(Kernel k, SliceAutoencoder model, Classifier clf) {
        return new Explain.Models(k, model, clf, ae.source().toString(), classifier.cardFile().toString(),
                kernel.device, kernel.threads);
    }

    /** The scans of --manifest, --folder or the positional inputs (exactly one of them). */
    List<Batch.Scan> scans() throws java.io.IOException {
        int sources = (manifest != null ? 1 : 0) + (folder != null ? 1 : 0) + (inputs.isEmpty() ? 0 : 1);
        if (sources != 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), sources == 0
                    ? "--shard needs scans: give several VOLUMEs, --manifest FILE.csv or --folder DIR"
                    : "give one of VOLUME..., --manifest FILE.csv or --folder DIR, not several");
        }
        if (manifest != null && series.series != null) {
            throw new IllegalArgumentException("with --manifest, a scan's series comes from the manifest's series "
                    + "column; leave --series out");
        }
        return manifest != null ? Batch.fromManifest(manifest) : folder != null ? Batch.fromFolder(folder)
                : Batch.fromPaths(inputs);
    }

    /** [A, B) of an A:B option (checked against the processed volume by {@link Explain#toDirectory}). */
    static Explain.Slices span(String option, String text) {
        String[] ab = text.split(":");
        try {
            if (ab.length != 2) {
                throw new NumberFormatException();
            }
            return new Explain.Slices(Integer.parseInt(ab[0].strip()), Integer.parseInt(ab[1].strip()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " takes A:B with two slice numbers, not " + text);
        }
    }
}
