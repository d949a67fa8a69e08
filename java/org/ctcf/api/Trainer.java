package org.ctcf.api;


import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.ctcf.internal.NamedParameters;
import org.ctcf.internal.NativeObject;
import org.ctcf.internal.Specs;
import org.ctcf.internal.TrainCalls;
import org.ctcf.core.RefCounted;
import org.ctcf.io.checkpoint.ModelFormatException;
import org.ctcf.io.checkpoint.SafeTensors;
import org.ctcf.io.checkpoint.TensorData;

/**
 * Training in the kernel: Adam over a model's parameters, one step per call. For the slice autoencoder the
 * objective is taming's VQ-GAN loss (L1 + codebook/commitment, optionally a hinge PatchGAN with the adaptive weight);
 * for a built-in classifier binary cross-entropy on its logits. The trainer keeps its model alive until closed. Its
 * optimiser state (step, Adam moments, discriminator) is readable and writable by name, for checkpoints that
 * resume exactly.
 */
public final class Trainer extends NativeHandle {
    /** Options of {@code ctcf_train_options}; {@link #defaults()} are taming's. */
    public record Options(double learningRate, double beta1, double beta2, double weightDecay, double codebookWeight,
            double commitment, double discWeight, double discLearningRate, long discStart, long discChannels,
            int discLayers, long codeRestartEvery, double labelSmoothing) {
        public static Options defaults() {
            return new Options(1e-4, 0.5, 0.9, 0.0, 1.0, 0.25, 0.8, 1e-4, -1, 64, 3, 0, 0.0);
        }

        /** Every {@code n} steps, unused codebook entries move onto random encoder outputs (0: never). */
        public Options withCodeRestart(long n) {
            return new Options(learningRate, beta1, beta2, weightDecay, codebookWeight, commitment, discWeight,
                    discLearningRate, discStart, discChannels, discLayers, n, labelSmoothing);
        }

        public Options withLearningRate(double lr) {
            return new Options(lr, beta1, beta2, weightDecay, codebookWeight, commitment, discWeight, discLearningRate,
                    discStart, discChannels, discLayers, codeRestartEvery, labelSmoothing);
        }

        public Options withBetas(double b1, double b2) {
            return new Options(learningRate, b1, b2, weightDecay, codebookWeight, commitment, discWeight,
                    discLearningRate, discStart, discChannels, discLayers, codeRestartEvery, labelSmoothing);
        }

        /** Switches the PatchGAN on from step {@code start} (negative: never). */
        public Options withDiscriminator(long start, long channels, int layers, double weight) {
            return new Options(learningRate, beta1, beta2, weightDecay, codebookWeight, commitment, weight,
                    discLearningRate, start, channels, layers, codeRestartEvery, labelSmoothing);
        }

        /**
         * Classifier training: BCE against {@code y (1 − e) + e / 2} (for a pooled detector, its logit map's and
         * pooled logit's targets), which keeps the logits bounded; 0 (the default) is plain BCE.
         */
        public Options withLabelSmoothing(double e) {
            return new Options(learningRate, beta1, beta2, weightDecay, codebookWeight, commitment, discWeight,
                    discLearningRate, discStart, discChannels, discLayers, codeRestartEvery, e);
        }

        Specs.Train spec() {
            return new Specs.Train(learningRate, beta1, beta2, weightDecay, codebookWeight, commitment, discWeight,
                    discLearningRate, discStart, discChannels, discLayers, codeRestartEvery, labelSmoothing);
        }
    }

    /** What one step measured (autoencoder terms are 0 for a classifier). */
    public record Stats(long step, double loss, double reconstruction, double codebook, double generator,
            double discriminator, double adaptiveWeight, long codesUsed, double perceptual) {
    }

    private final Kernel kernel;
    private final RefCounted.Lease modelLease;
    private final NativeHandle model;
    private RefCounted.Lease perceptualLease;

    private Trainer(NativeObject trainer, Kernel kernel, NativeHandle model, RefCounted.Lease modelLease) {
        super(trainer);
        this.kernel = kernel;
        this.model = model;
        this.modelLease = modelLease;
    }

    /** Seeds LibTorch's generator; models created afterwards get reproducible initial weights. */
    public static void manualSeed(long seed) {
        TrainCalls.manualSeed(seed);
    }

    /** A trainer for the slice autoencoder; slices pass through {@code wrapper} as in encoding. */
    public static Trainer forAutoencoder(SliceAutoencoder ae, SliceWrapper wrapper, Options options) {
        Kernel k = ae.kernel();
        RefCounted.Lease ml = ae.lease();
        try (var kl = k.lease()) {
            return new Trainer(TrainCalls.autoencoderTrainer(k.object(), ae.object(), wrapper.spec(), options.spec()), k,
                    ae, ml);
        } catch (RuntimeException e) {
            ml.close();
            throw e;
        }
    }

    /** A trainer for a built-in classifier (binary cross-entropy on its logits). */
    public static Trainer forClassifier(Classifier clf, Options options) {
        Kernel k = clf.kernel();
        RefCounted.Lease ml = clf.lease();
        try (var kl = k.lease()) {
            return new Trainer(TrainCalls.classifierTrainer(k.object(), clf.object(), options.spec()), k, clf, ml);
        } catch (RuntimeException e) {
            ml.close();
            throw e;
        }
    }

    /**
     * Adds {@code weight} × LPIPS(x, x_rec) to the autoencoder's reconstruction term, as taming's objective does
     * (it also enters the adaptive GAN weight). The trainer keeps {@code p} alive until it is replaced or the
     * trainer is closed; null removes the term.
     */
    public void setPerceptual(Perceptual p, double weight) {
        if (!(weight >= 0) || !Double.isFinite(weight)) {
            throw new IllegalArgumentException("the perceptual weight must be >= 0");
        }
        if (p != null && p.kernel() != kernel) {
            throw new IllegalArgumentException("the perceptual model and the trainer must share a Kernel");
        }
        RefCounted.Lease pl = p == null ? null : p.lease();
        try (var lease = lease()) {
            TrainCalls.setPerceptual(object(), p == null ? null : p.object(), weight);
        } catch (RuntimeException e) {
            if (pl != null) {
                pl.close();
            }
            throw e;
        }
        if (perceptualLease != null) {
            perceptualLease.close();
        }
        perceptualLease = pl;
    }

    /** One autoencoder step on {@code n} slices of {@code ny × nx} (C order, processed units). */
    public Stats stepAutoencoder(float[] slices, int n, int ny, int nx) {
        return step(slices, new long[] {n, ny, nx}, null, null);
    }

    /** One classifier step: {@code volumes} [B, D, ny, nx]; targets [B, classes] or maps [B, D, ny, nx]. */
    public Stats stepClassifier(float[] volumes, long[] shape, float[] targets, long[] targetShape) {
        return step(volumes, shape, targets, targetShape);
    }

    private Stats step(float[] x, long[] shape, float[] y, long[] yShape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        if (n != x.length) {
            throw new IllegalArgumentException("input holds " + x.length + " values, shape needs " + n);
        }
        try (var lease = lease(); var ml = model.lease(); var kl = kernel.lease()) {
            Specs.TrainStats st = TrainCalls.step(kernel.object(), object(), x, shape, y, yShape);
            return new Stats(st.step(), st.loss(), st.reconstruction(), st.codebook(), st.generator(),
                    st.discriminator(), st.adaptiveWeight(), st.codesUsed(), st.perceptual());
        }
    }

    private NamedParameters state() {
        return NamedParameters.of(NamedParameters.Owner.TRAINER_STATE, object());
    }

    /** Steps done so far (restored by {@link #loadState}). */
    public long steps() {
        try (var lease = lease()) {
            return (long) state().read("step")[0];
        }
    }

    /** The optimiser state as float32 tensors named {@code prefix + name}. */
    public List<SafeTensors.FloatTensor> stateTensors(String prefix) {
        try (var lease = lease()) {
            return state().snapshot(prefix);
        }
    }

    /** Restores the optimiser state written by {@link #stateTensors}; every key must be present and fit. */
    public void loadState(Path file, Map<String, TensorData> tensors) throws ModelFormatException {
        try (var lease = lease()) {
            state().load(file, tensors, "the trainer state", List.of());
        }
    }

    /**
     * Restores the optimiser state stored under {@link SliceAutoencoder#TRAINER_PREFIX} in a checkpoint written with
     * {@link #stateTensors}{@code (TRAINER_PREFIX)} next to the model's weights.
     */
    public void loadState(Path checkpoint) throws java.io.IOException {
        try (org.ctcf.io.checkpoint.Checkpoint ck = org.ctcf.io.checkpoint.Checkpoint.open(checkpoint)) {
            Map<String, TensorData> state = new java.util.LinkedHashMap<>();
            String prefix = SliceAutoencoder.TRAINER_PREFIX;
            ck.tensors().forEach((k, v) -> {
                if (k.startsWith(prefix)) {
                    state.put(k.substring(prefix.length()), v);
                }
            });
            loadState(checkpoint, state);
        }
    }

    @Override
    public void close() {
        boolean wasOpen = !isClosed();
        super.close();
        if (wasOpen) {
            modelLease.close();
            if (perceptualLease != null) {
                perceptualLease.close();
            }
        }
    }

    NativeHandle model() {
        return model;
    }
}
