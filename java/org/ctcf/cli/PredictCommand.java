package org.ctcf.cli;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;

import org.ctcf.api.Classifier;
import org.ctcf.api.ClassifierCard;
import org.ctcf.api.Kernel;
import org.ctcf.api.Target;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ctcf predict}: a classifier's score (and top classes) for a CT volume, preprocessed as its card says. */
@Command(mixinStandardHelpOptions = true, name = "predict", description = {
    "Run a classifier (described by its card) on a CT volume.",
    "Preprocesses as the card says, prints the explained score and, for class outputs, the top classes."})
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
            String name = c.classes().isEmpty() ? "output " + t.index() : c.classes().get(t.index());
            o.printf(Locale.ROOT, "classifier:   %s (%s)%n", c.name(), c.torchScript() != null ? "TorchScript"
                    : c.architecture());
            o.printf(Locale.ROOT, "input:        %s%n", x.geometry());
            o.printf(Locale.ROOT, "score:        %.6f  (%s, index %d, %s)%n", score, name, t.index(), describe(t));
            Classifier.Outputs out = clf.outputs(x);
            if (out.shape().length == 2 && top > 0) {
                float[] v = out.values();
                o.println("top outputs:");
                IntStream.range(0, v.length).boxed().sorted(Comparator.comparingDouble(i -> -v[i])).limit(top)
                        .forEach(i -> o.printf(Locale.ROOT, "  %6d  %12.6f  %s%n", i, v[i],
                                c.classes().isEmpty() ? "" : c.classes().get(i)));
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
