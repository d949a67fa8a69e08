package org.ctcf.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.ctcf.api.Kernel;
import org.ctcf.api.Trainer;
import org.ctcf.train.ClassifierTraining;
import org.ctcf.train.Manifest;
import org.ctcf.train.ModelCards;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ctcf train classifier}: the demo lung-size segmenter and nodule detector. */
@Command(mixinStandardHelpOptions = true, name = "classifier", description = {
    "Train one of ctcf's demo classifiers in the kernel and write its card with the held-out metrics.",
    "  lung-size: per-slice lung segmenter (score = mean lung probability); test: Dice on the val volumes' masks.",
    "  nodule:    3-D detector of synthetic 5-20 mm nodules inside the lungs, hard negatives mined from whole",
    "             nodule-free volumes, its volume score calibrated on whole volumes (the calib split, else the",
    "             train volumes); test: whole val volumes with seeded insertions against the nodule-free scans",
    "             and their augmentations (OUT/volume-test-set.json), and AUC on seeded crops (OUT/test-set.json)."})
final class ClassifierTrainCommand implements Callable<Integer> {
    @Option(names = "--task", required = true, paramLabel = "TASK", description = "lung-size or nodule.")
    String task;

    @Option(names = "--manifest", required = true, paramLabel = "FILE", description = "Training manifest.")
    Path manifest;

    @Option(names = "--data-root", paramLabel = "DIR", description = "Base of relative manifest paths.")
    Path dataRoot;

    @Option(names = {"-o", "--out"}, paramLabel = "DIR", description = "Output folder (default: ctcf-train-TASK).")
    Path out;

    @Option(names = "--steps", description = "Optimiser steps (default: 1200 lung-size, 3000 nodule).")
    Long steps;

    @Option(names = "--batch", description = "Slabs (lung-size) or crops (nodule) per step (default: 2 / 8).")
    Integer batch;

    @Option(names = "--lr", defaultValue = "1e-3", description = "Adam learning rate. Default: ${DEFAULT-VALUE}.")
    double lr;

    @Option(names = "--seed", defaultValue = "0", description = "Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--test-crops", defaultValue = "200", description = "Nodule test crops. Default: ${DEFAULT-VALUE}.")
    int testCrops;

    @Option(names = "--test-volumes", defaultValue = "48", description = "Nodule detector: seeded insertions into"
            + " whole held-out (and calibration) volumes, half as many nodule-free volumes. Default: ${DEFAULT-VALUE}.")
    int testVolumes;

    @Option(names = "--width", defaultValue = "16", description = "Nodule detector: base channels of its 3-D CNN"
            + " (N, 2N, 2N, 4N; 8 is ctcf-nodule3d, others ctcf-nodule3d-wN). Default: ${DEFAULT-VALUE}.")
    int width;

    @Option(names = "--label-smoothing", paramLabel = "E", description = "BCE targets y (1 - E) + E / 2, which"
            + " keeps the logits bounded (a saturated sigmoid leaves Latent Shift no gradient). Default: 0.1 nodule,"
            + " 0 lung-size.")
    Double labelSmoothing;

    @Option(names = "--noise", paramLabel = "HU", defaultValue = "0", description = "Nodule detector:"
            + " Gaussian noise on every training crop at the model's resolution, sigma uniform in [0, HU] per crop"
            + " (0: none); it keeps the detector off detail finer than its voxels. Default: ${DEFAULT-VALUE}.")
    double noiseHu;

    @Option(names = "--vessels", paramLabel = "P", defaultValue = "0", description = "Nodule detector: the"
            + " probability that a training crop gets a synthetic vessel (a positive's touches its nodule; labels"
            + " unchanged), so that joining a nodule to a vessel does not explain it away. Default: ${DEFAULT-VALUE}.")
    double vessels;

    @Option(names = "--checkpoint-every", defaultValue = "100", description = "Default: ${DEFAULT-VALUE}.")
    long checkpointEvery;

    @Option(names = "--resume", description = "Continue from OUT/checkpoint.safetensors if it exists.")
    boolean resume;

    @Mixin
    PreprocessCommand.KernelOptions kernel;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        ClassifierTraining.Task t = ClassifierTraining.Task.parse(task);
        boolean lungs = t == ClassifierTraining.Task.LUNG_SIZE;
        Path dir = out != null ? out : Path.of("ctcf-train-" + t.fileName);
        var opts = new ClassifierTraining.Options(t, steps != null ? steps : lungs ? 1200 : 3000,
                batch != null ? batch : lungs ? 2 : 8, lr, seed, testCrops, testVolumes, checkpointEvery, width,
                labelSmoothing != null ? labelSmoothing : lungs ? 0 : 0.1, noiseHu, vessels);
        Manifest m = Manifest.read(manifest, dataRoot);
        ProgressPrinter line = ProgressPrinter.of(spec, "train " + t.fileName);
        line.println(String.format(Locale.ROOT, "training %s (%s) on %d volumes, testing on %d; %d steps, seed %d",
                t.fileName, opts.architecture(), m.train().size(), m.validation().size(), opts.steps(), seed));
        try (line; Kernel k = kernel.open(); CancelOnExit exit = new CancelOnExit(k)) {
            var r = ClassifierTraining.run(k, m, opts, dir, resume, new ClassifierTraining.Listener() {
                double avg = Double.NaN;

                @Override
                public void step(Trainer.Stats s, long total, double sec) {
                    avg = Double.isNaN(avg) ? s.loss() : 0.95 * avg + 0.05 * s.loss();
                    Map<String, Object> fields = new LinkedHashMap<>();
                    fields.put("bce", s.loss());
                    fields.put("bce_avg", avg);
                    fields.put("s_per_step", sec);
                    line.step(s.step(), total, String.format(Locale.ROOT, "BCE %.4f (avg %.4f) %.2f s/step",
                            s.loss(), avg, sec), 50, fields);
                }

                @Override
                public void mined(long step, int windows, double sec) {
                    line.println(String.format(Locale.ROOT, "step %d: mined %d hard-negative windows (%.1f s)",
                            step, windows, sec));
                }
            });
            line.close();
            Map<String, Object> training = new LinkedHashMap<>();
            training.put("command", "ctcf train classifier --task " + task + " --manifest " + manifest
                    + (dataRoot != null ? " --data-root " + dataRoot : "") + " --steps " + opts.steps() + " --batch "
                    + opts.batch() + " --lr " + lr + " --seed " + seed
                    + (lungs ? (opts.labelSmoothing() != 0 ? " --label-smoothing " + opts.labelSmoothing() : "")
                            : " --test-volumes " + testVolumes + " --width " + width + " --label-smoothing "
                                    + opts.labelSmoothing() + (noiseHu != 0 ? " --noise " + noiseHu : "")
                                    + (vessels != 0 ? " --vessels " + vessels : "")));
            training.put("manifest", manifest.getFileName().toString());
            training.put("train_volumes", r.trainVolumes());
            training.put("held_out_volumes", m.validation().stream().map(e -> e.volume().getFileName().toString())
                    .toList());
            training.put("seed", seed);
            training.put("steps", r.steps());
            training.put("seconds", Math.round(r.seconds()));
            training.put("threads", kernel.threads);
            Path card = ModelCards.writeClassifierCard(dir, t, opts.architecture(), r.weights(), training, r.metrics(),
                    r.lungFractionMin());
            line.println("metrics: " + ModelCards.json(r.metrics()));
            line.println(String.format(Locale.ROOT, "wrote %s and %s (%.0f s)", r.weights(), card, r.seconds()));
        }
        return ExitCode.OK.code();
    }

    static List<String> names(List<Manifest.Entry> l) {
        return l.stream().map(e -> e.volume().getFileName().toString()).toList();
    }
}
