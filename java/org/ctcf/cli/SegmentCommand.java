package org.ctcf.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.ctcf.api.Classifier;
import org.ctcf.api.ClassifierCard;
import org.ctcf.api.Kernel;
import org.ctcf.api.LungmaskPipeline;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ctcf segment}: a segmentation classifier's label map for a CT volume, with per-label voxel counts. */
@Command(mixinStandardHelpOptions = true, name = "segment", description = {
    "Label every voxel of a CT volume with lungmask's own pipeline.",
    "Includes its 3-D post-processing (small pieces join their neighbours, one component per label, holes "
            + "filled).",
    "For cards with \"preprocessing\": {\"mode\": \"lungmask\"}; labels come back on the input grid."})
final class SegmentCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    SeriesOption seriesOption = new SeriesOption();

    @Parameters(index = "0", paramLabel = "VOLUME")
    Path input;

    @Option(names = "--classifier", required = true, paramLabel = "CARD")
    Path card;

    @Option(names = {"-o", "--out"}, paramLabel = "FILE", description = "Label map (.nii.gz).")
    Path out;

    @Option(names = "--no-postprocessing", description = "The U-Net's labels as they are (lungmask's "
            + "--nopostprocess).")
    boolean noPostprocessing;

    @Mixin
    PreprocessCommand.KernelOptions kernel;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        ClassifierCard c = ClassifierCard.read(card);
        if (!c.preprocessingMode().equals("lungmask")) {
            throw new IllegalArgumentException(card + ": ctcf segment needs a card with \"preprocessing\": "
                    + "{\"mode\": \"lungmask\"} (labels of other classifiers come back on the processed grid only)");
        }
        var o = spec.commandLine().getOut();
        try (Volume ct = VolumeIO.read(input, seriesOption.readOptions()); Kernel k = kernel.open(); Classifier clf = Classifier.load(c, k);
                Volume labels = LungmaskPipeline.segment(ct, clf, k, !noPostprocessing)) {
            long[] counts = new long[Math.max(2, c.outputCount())];
            for (float v : labels.toArray()) {
                int l = (int) v;
                if (l >= 0 && l < counts.length) {
                    counts[l]++;
                }
            }
            for (int l = 0; l < counts.length; l++) {
                o.printf(Locale.ROOT, "label %d %-16s %,d voxels%n", l, l < c.classes().size() ? c.classes().get(l)
                        : "", counts[l]);
            }
            if (out != null) {
                VolumeIO.write(labels, out);
                o.printf(Locale.ROOT, "wrote %s%n", out);
            }
        }
        o.flush();
        return ExitCode.OK.code();
    }
}
