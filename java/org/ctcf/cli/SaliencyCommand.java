package org.ctcf.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.ctcf.api.Classifier;
import org.ctcf.api.Kernel;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.Saliency;
import org.ctcf.api.Target;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;
import org.ctcf.report.Images;
import org.ctcf.report.SaliencyPanel;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ctcf saliency}: classic attribution maps of the explained score, as NIfTI and a comparison panel. */
@Command(mixinStandardHelpOptions = true, name = "saliency", description = {
    "Compute attribution maps of a classifier's explained score (the paper's saliency baselines).",
    "Methods (the baselines of the paper's Fig. 4): the input gradient, gradient x input, integrated gradients, "
            + "guided backprop, Grad-CAM (on --layer) and occlusion.",
    "Writes <method>.nii.gz on the input's grid (values per processed voxel, 0 outside the processed field of "
            + "view) and saliency.png: one axial slice, one column per method."})
final class SaliencyCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    SeriesOption seriesOption = new SeriesOption();

    @Parameters(index = "0", paramLabel = "VOLUME", description = "CT volume (NIfTI or MetaImage).")
    Path input;

    @Mixin
    ClassifierOptions classifier;

    @Option(names = "--methods", split = ",",
            defaultValue = "gradient,gradient-x-input,integrated-gradients,guided-backprop,grad-cam",
            description = "gradient, gradient-x-input, integrated-gradients, guided-backprop, grad-cam, occlusion "
                    + "(slow). Default: ${DEFAULT-VALUE}.")
    List<String> methods;

    @Option(names = "--layer", paramLabel = "NAME",
            description = "Grad-CAM layer: a submodule path (features, layer4, up_path.3, ...). Default: the built-in "
                    + "architecture's (TorchScript classifiers must name one).")
    String layer;

    @Option(names = "--steps", defaultValue = "32", description = "Integrated gradients: path points. Default: "
            + "${DEFAULT-VALUE}.")
    int steps;

    @Option(names = "--baseline", defaultValue = "0", description = "Integrated gradients: constant baseline in "
            + "processed units (0 = -1000 HU). Default: ${DEFAULT-VALUE}.")
    double baseline;

    @Option(names = "--window", split = ",", defaultValue = "16,32,32", paramLabel = "D,H,W",
            description = "Occlusion window (slices, rows, columns). Default: ${DEFAULT-VALUE}.")
    int[] window;

    @Option(names = "--stride", split = ",", paramLabel = "D,H,W",
            description = "Occlusion stride. Default: the window.")
    int[] stride;

    @Option(names = "--show-slice", paramLabel = "Z",
            description = "Processed slice of the panel. Default: where the first map is largest.")
    Integer showSlice;

    @Option(names = {"-o", "--out"}, defaultValue = "ctcf-saliency", paramLabel = "DIR",
            description = "Output folder. Default: ${DEFAULT-VALUE}.")
    Path out;

    @Mixin
    DisplayOption display;

    @Mixin
    PreprocessCommand.KernelOptions kernel;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        var o = spec.commandLine().getOut();
        boolean quiet = spec.root().userObject() instanceof Main m && m.global.quiet;
        List<Saliency.Method> ms = methods.stream().map(Saliency.Method::parse).distinct().toList();
        if (window.length != 3 || (stride != null && stride.length != 3)) {
            throw new IllegalArgumentException("--window and --stride take three sizes D,H,W");
        }
        Saliency.Options so = new Saliency.Options(steps, baseline, window, stride != null ? stride : window, 0.0, 4,
                layer);
        Files.createDirectories(out);
        try (Volume ct = VolumeIO.read(input, seriesOption.readOptions()); Kernel k = kernel.open(); CancelOnExit exit = new CancelOnExit(k);
                Classifier clf = classifier.load(k)) {
            Target t = classifier.target(clf);
            PreprocessOptions pre = clf.card().preprocessing();
            List<SaliencyPanel.Column> cols = new ArrayList<>();
            List<Saliency.Map> maps = new ArrayList<>();
            try (Volume x = k.preprocess(ct, pre)) {
                for (Saliency.Method m : ms) {
                    long t0 = System.nanoTime();
                    Saliency.Map map;
                    try (ProgressPrinter progress = ProgressPrinter.of(spec, m.label())) {
                        map = Saliency.compute(x, clf, t, m, so, progress);
                    }
                    maps.add(map);
                    cols.add(new SaliencyPanel.Column(m.label(), map.values()));
                    try (Volume onInput = k.restore(map.values(), ct.geometry(), pre.withPadValue(0), false)) {
                        VolumeIO.write(onInput, out.resolve(m.label() + ".nii.gz"));
                    }
                    if (!quiet) {
                        o.printf(Locale.ROOT, "%-22s score %.4f, %.1f s -> %s%n", m.label(), map.score(),
                                (System.nanoTime() - t0) / 1e9, out.resolve(m.label() + ".nii.gz"));
                    }
                }
                int z = showSlice != null ? showSlice : Images.hottestSlice(maps.get(0).values());
                var notDrawable = Images.notDrawable(x.geometry());
                if (notDrawable.isPresent()) {  // the maps are written; only the picture cannot be
                    spec.commandLine().getErr().printf("ctcf saliency: %s not written: the processed volume of %s "
                            + "(%s) %s%n", out.resolve("saliency.png"), input, x.geometry(), notDrawable.get());
                } else {
                    SaliencyPanel.write(x, cols, z, display.display, out.resolve("saliency.png"));
                    if (!org.ctcf.report.PlotWriter.available()) {
                        spec.commandLine().getErr().printf("ctcf saliency: %s is written without its column titles: "
                                + "this machine cannot draw text (Java needs fontconfig and a font, e.g. %s)%n",
                                out.resolve("saliency.png"), org.ctcf.report.PlotWriter.FONT_FIX);
                    }
                    if (!quiet) {
                        o.printf(Locale.ROOT, "panel (slice %d) -> %s%n", z, out.resolve("saliency.png"));
                    }
                }
            } finally {
                maps.forEach(Saliency.Map::close);
            }
        }
        o.flush();
        return ExitCode.OK.code();
    }
}
