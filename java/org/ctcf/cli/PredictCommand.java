package org.ctcf.cli;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;

import org.ctcf.api.Classifier;
import org.ctcf.api.ClassifierCard;
import org.ctcf.api.InputDomain;
import org.ctcf.api.Kernel;
import org.ctcf.api.Target;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;

import com.fasterxml.jackson.databind.ObjectMapper;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ctcf predict}: a classifier's score (and top classes) for a CT volume, preprocessed as its card says. */
@Command(mixinStandardHelpOptions = true, name = "predict", description = {
    "Run a classifier (described by its card) on a CT volume.",
    "Preprocesses as the card says, prints the explained score and, for class outputs, the top classes.",
    "A card with a \"domain\" (lung_fraction_min) also gets the lung fraction of the processed volume (air inside "
            + "the body); below the bound the score is printed with a warning that it is not meaningful (no lungs "
            + "in view), on stdout and stderr; the exit code stays 0."})
final class PredictCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    SeriesOption seriesOption = new SeriesOption();

    @Parameters(index = "0", paramLabel = "VOLUME")
    Path input;

    @Option(names = "--classifier", required = true, paramLabel = "CARD", description = "The classifier's card (JSON).")
    Path card;

    @Option(names = "--target", paramLabel = "NAME", description = "Class name or index (default: the card's).")
    String target;

    @Option(names = "--top", defaultValue = "5", paramLabel = "N", description = "Top classes to list. Default: ${DEFAULT-VALUE}.")
    int top;

    @Option(names = "--preprocessed", description = "The volume is already preprocessed for this classifier.")
    boolean preprocessed;

    @Option(names = "--json", description = {"Print the result as one JSON object (classifier, input, score, "
            + "target, top outputs; with a card's domain: lung_fraction, lung_fraction_min, in_domain)."})
    boolean json;

    @Mixin
    PreprocessCommand.KernelOptions kernel;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        var o = spec.commandLine().getOut();
        ClassifierCard c = ClassifierCard.read(card);
        try (Volume ct = VolumeIO.read(input, seriesOption.readOptions()); Kernel k = kernel.open(); Classifier clf = Classifier.load(c, k);
                Volume x = preprocessed ? ct.copyWithGeometry(ct.geometry()) : k.preprocess(ct, c.preprocessing())) {
            Target t = clf.target(target);
            double score = clf.score(x, t);
            if (ct.geometry().sourceHint() instanceof org.ctcf.io.dicom.DicomSource src) {
                InputDomain.checkModality(c, src.modality(), input.toString());
            }
            InputDomain.checkSlices(c, x.nz(), input.toString());
            InputDomain.Check domain = InputDomain.check(c, x);
            String name = c.classes().isEmpty() ? "output " + t.index() : c.classes().get(t.index());
            Classifier.Outputs out = clf.outputs(x);
            float[] v = out.values();
            List<Integer> topIndices = out.shape().length == 2 && top > 0 ? IntStream.range(0, v.length).boxed()
                    .sorted(Comparator.comparingDouble(i -> -v[i])).limit(top).toList() : List.of();
            if (domain != null && !domain.inDomain()) {
                var err = spec.commandLine().getErr();
                err.println("ctcf: warning: " + input + ": " + domain.describe());
                err.flush();
            }
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("classifier", c.name());
                m.put("input", x.geometry().toString());
                m.put("score", score);
                Map<String, Object> tm = new LinkedHashMap<>();
                tm.put("index", t.index());
                tm.put("name", name);
                m.put("target", tm);
                if (domain != null) {
                    m.put("lung_fraction", domain.lungFraction());
                    m.put("lung_fraction_min", domain.lungFractionMin());
                    m.put("in_domain", domain.inDomain());
                    if (!domain.inDomain()) {
                        m.put("warning", domain.describe());
                    }
                }
                if (!topIndices.isEmpty()) {
                    m.put("top", topIndices.stream().map(i -> {
                        Map<String, Object> r = new LinkedHashMap<>();
                        r.put("index", i);
                        r.put("value", (double) v[i]);
                        r.put("name", c.classes().isEmpty() ? "" : c.classes().get(i));
                        return r;
                    }).toList());
                }
                o.println(new ObjectMapper().writeValueAsString(m));
            } else {
                o.printf(Locale.ROOT, "classifier:   %s (%s)%n", c.name(), c.torchScript() != null ? "TorchScript"
                        : c.architecture());
                o.printf(Locale.ROOT, "input:        %s%n", x.geometry());
                if (domain != null && !domain.inDomain()) {
                    o.println("WARNING:      " + domain.describe());
                }
                o.printf(Locale.ROOT, "score:        %.6f  (%s, index %d, %s)%s%n", score, name, t.index(),
                        describe(t), domain != null && !domain.inDomain() ? "  [out of domain, not meaningful]" : "");
                if (domain != null && domain.inDomain()) {
                    o.println("domain:       " + domain.describe());
                }
                if (!topIndices.isEmpty()) {
                    o.println("top outputs:");
                    topIndices.forEach(i -> o.printf(Locale.ROOT, "  %6d  %12.6f  %s%n", i, v[i],
                            c.classes().isEmpty() ? "" : c.classes().get(i)));
                }
            }
        }
        o.flush();
        return ExitCode.OK.code();
    }

    private static String describe(Target t) {
        StringBuilder sb = new StringBuilder();
        sb.append(t.activation().name().toLowerCase(Locale.ROOT));
        if (t.reducer() != Target.Reducer.NONE) {
            sb.append(", ").append(t.reducer().name().toLowerCase(Locale.ROOT));
        }
        if (t.offset() != 0) {
            sb.append(String.format(Locale.ROOT, ", %+g", t.offset()));
        }
        if (t.sigmoid()) {
            sb.append(", then sigmoid");
        }
        return sb.toString();
    }
}
