package org.ctcf.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.ctcf.api.Kernel;
import org.ctcf.api.Metrics;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.SliceWrapper;
import org.ctcf.api.Perceptual;
import org.ctcf.api.Trainer;
import org.ctcf.api.VqConfig;

/**
 * {@code ctcf train ae}: trains a taming-compatible VQ-GAN on the slices of the manifest's {@code train} volumes
 * and validates on its {@code val} volumes. Batches are a pure function of (seed, step), the weights' initialisation
 * of the seed, so a run is reproducible and a resumed run continues exactly where the checkpoint left off.
 */
public final class AutoencoderTraining {

    /**
     * @param downscale 1 or 2: slices are halved before training; the exported wrapper then resizes the
     *     {@code evalSize}² processed slices to half that
     * @param crop crop size in (downscaled) pixels
     * @param perceptual LPIPS term: VGG-16 and linear-layer weights and its weight, or null for none
     */
    public record Options(VqConfig config, PreprocessOptions preprocessing, int downscale, int crop, int batch,
            long steps, long seed, Trainer.Options train, long validateEvery, long checkpointEvery,
            PerceptualLoss perceptual) {
        public Options {
            if (crop < 8 || batch < 1 || steps < 1 || validateEvery < 1 || checkpointEvery < 1) {
                throw new IllegalArgumentException("crop >= 8, batch, steps, validate-every and checkpoint-every >= 1");
            }
            if (crop % config.downsampling() != 0) {
                throw new IllegalArgumentException("crop " + crop + " must be a multiple of the model's downsampling "
                        + config.downsampling());
            }
        }

        public Options(VqConfig config, PreprocessOptions preprocessing, int downscale, int crop, int batch, long steps,
                long seed, Trainer.Options train, long validateEvery, long checkpointEvery) {
            this(config, preprocessing, downscale, crop, batch, steps, seed, train, validateEvery, checkpointEvery,
                    null);
        }

        /** The wrapper the exported model is used with on the {@code preprocessing} grid. */
        public SliceWrapper exportWrapper() {
            int size = Math.max(preprocessing.inPlaneX(), preprocessing.inPlaneY());
            return SliceWrapper.plain().withResize(downscale == 1 ? 0 : size / downscale);
        }
    }

    /**
     * taming's perceptual term: {@code weight} × LPIPS(x, x_rec), with torchvision's VGG-16 weights {@code vgg}
     * and LPIPS's linear layers {@code lin} (null: every channel weighs 1).
     */
    public record PerceptualLoss(Path vgg, Path lin, double weight) {
        public PerceptualLoss {
            if (vgg == null || !(weight > 0) || !Double.isFinite(weight)) {
                throw new IllegalArgumentException("a perceptual loss needs the VGG-16 weights and a weight > 0");
            }
        }

        @Override
        public String toString() {
            return "LPIPS(vgg=" + vgg.getFileName() + ", lin=" + (lin == null ? "none (baseline)" : lin.getFileName())
                    + ", weight=" + weight + ")";
        }
    }

    /** Progress: after each step, and with a validation result every {@code validateEvery} steps. */
    public interface Listener {
        void step(Trainer.Stats stats, long totalSteps, double secondsPerStep);

        void validated(long step, List<Named> results);

        default void checkpointed(long step, Path file) {
        }
    }

    public record Named(String name, Metrics.Quality quality) {
    }

    /** The result: where the model went and its final metrics. */
    public record Result(Path model, Path checkpoint, List<Named> validation, long steps, double seconds) {
    }

    public static final String CHECKPOINT = "checkpoint.safetensors";
    public static final String MODEL = "autoencoder.safetensors";

    private AutoencoderTraining() {
    }

    public static Result run(Kernel k, Manifest manifest, Options o, Path out, boolean resume, Listener listener)
            throws IOException {
        Files.createDirectories(out);
        Path ckptFile = out.resolve(CHECKPOINT);
        PreprocessOptions slicePre = o.preprocessing().withInPlaneSize(0, 0);
        SliceSet data = SliceSet.load(k, manifest.train(), slicePre, o.downscale());
        long t0 = System.nanoTime();
        boolean resuming = resume && Files.isRegularFile(ckptFile);
        SliceAutoencoder ae;
        if (resuming) {
            ae = SliceAutoencoder.load(ckptFile, o.config(), k);
        } else {
            Trainer.manualSeed(o.seed());
            ae = SliceAutoencoder.create(o.config(), k);
        }
        List<Named> last = List.of();
        Perceptual lpips = null;
        try {
            lpips = o.perceptual() == null ? null : Perceptual.load(o.perceptual().vgg(), o.perceptual().lin(), k);
        } catch (IOException | RuntimeException e) {
            ae.close();
            throw e;
        }
        try (ae; var lp = lpips; Trainer t = Trainer.forAutoencoder(ae, SliceWrapper.plain(), o.train())) {
            if (lp != null) {
                t.setPerceptual(lp, o.perceptual().weight());
            }
            if (resuming) {
                t.loadState(ckptFile);
            }
            long start = t.steps();
            long tl = System.nanoTime();
            for (long s = start; s < o.steps(); s++) {
                SplittableRandom rnd = new SplittableRandom(o.seed() ^ (0x9E3779B97F4A7C15L * (s + 1)));
                float[] batch = data.batch(rnd, o.batch(), o.crop());
                Trainer.Stats st = t.stepAutoencoder(batch, o.batch(), o.crop(), o.crop());
                long now = System.nanoTime();
                listener.step(st, o.steps(), (now - tl) / 1e9);
                tl = now;
                boolean end = s + 1 == o.steps();
                if ((s + 1) % o.validateEvery() == 0 || end) {
                    last = validate(k, ae, manifest.validation(), o);
                    listener.validated(s + 1, last);
                }
                if ((s + 1) % o.checkpointEvery() == 0 || end) {
                    saveCheckpoint(ae, t, o, ckptFile);
                    listener.checkpointed(s + 1, ckptFile);
                }
            }
            if (start >= o.steps()) {
                last = validate(k, ae, manifest.validation(), o);
            }
            ae.withWrapper(o.exportWrapper());
            Path model = out.resolve(MODEL);
            ae.save(model, List.of(), meta(o, t.steps()));
            return new Result(model, ckptFile, last, t.steps(), (System.nanoTime() - t0) / 1e9);
        }
    }

    static List<Named> validate(Kernel k, SliceAutoencoder ae, List<Manifest.Entry> entries, Options o)
            throws IOException {
        SliceWrapper before = ae.wrapper();
        ae.withWrapper(o.exportWrapper());
        try {
            List<Named> out = new ArrayList<>();
            for (Manifest.Entry e : entries) {
                out.add(new Named(e.volume().getFileName().toString(),
                        AutoencoderEvaluation.roundtrip(k, ae, e.volume(), o.preprocessing())));
            }
            return out;
        } finally {
            ae.withWrapper(before);
        }
    }

    private static Map<String, String> meta(Options o, long steps) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("ctcf.train.seed", Long.toString(o.seed()));
        m.put("ctcf.train.steps", Long.toString(steps));
        m.put("ctcf.train.batch", Integer.toString(o.batch()));
        m.put("ctcf.train.crop", Integer.toString(o.crop()));
        m.put("ctcf.train.downscale", Integer.toString(o.downscale()));
        m.put("ctcf.train.options", o.train().toString());
        if (o.perceptual() != null) {
            m.put("ctcf.train.perceptual", o.perceptual().toString());
        }
        return m;
    }

    private static void saveCheckpoint(SliceAutoencoder ae, Trainer t, Options o, Path file) throws IOException {
        SliceWrapper before = ae.wrapper();
        ae.withWrapper(o.exportWrapper());
        try {
            ae.save(file, t.stateTensors(SliceAutoencoder.TRAINER_PREFIX), meta(o, t.steps()));  // atomic
        } finally {
            ae.withWrapper(before);
        }
    }
}
