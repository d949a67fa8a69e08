package org.ctcf.api;

import org.ctcf.internal.ShiftCalls;
import org.ctcf.internal.Specs;

import org.ctcf.core.Volume;
import org.ctcf.core.CtcfException;
import org.ctcf.core.ErrorCode;


import java.util.Arrays;
import java.util.Locale;


/**
 * Classic attribution maps of a classifier's explained score, computed in the kernel: the baselines the paper
 * compares Latent Shift with (its Fig. 4). Gradient, gradient × input, integrated gradients and occlusion need
 * nothing but the score, so they work for every classifier. Guided backprop needs the model's ReLUs: built-in
 * architectures have them natively; a TorchScript classifier's forward graph is copied with every {@code relu},
 * {@code relu_}, {@code leaky_relu} and {@code leaky_relu_} replaced by the guided rule (an error says so when there
 * is none). Grad-CAM reads a named layer: a built-in's module ({@code features}, {@code layer4}, ...; each built-in
 * has a default) or a TorchScript classifier's submodule, whose calls the forward graph is rewritten to record.
 */
public final class Saliency {
    /** A method and its kernel code. */
    public enum Method {
        /** ∂score/∂x. */
        GRADIENT(0, "gradient"),
        /** x · ∂score/∂x. */
        GRADIENT_X_INPUT(1, "gradient-x-input"),
        /** Integrated gradients from a constant baseline (midpoint rule, {@link Options#steps()} points). */
        INTEGRATED_GRADIENTS(2, "integrated-gradients"),
        /** Occlusion: the mean score drop of the windows covering a voxel (slow; a reference). */
        OCCLUSION(3, "occlusion"),
        /**
         * Guided backprop (Springenberg et al. 2015): ∂score/∂x where each ReLU passes back only positive gradients
         * where its input was positive (a leaky ReLU keeps its slope there).
         */
        GUIDED_BACKPROP(4, "guided-backprop"),
        /**
         * Grad-CAM (Selvaraju et al. 2017) on {@link Options#layer()}: ReLU(Σ_c α_c A_c) with α_c the spatial mean
         * of ∂score/∂A_c, resized (trilinear; bilinear per slice for 2-D models) to the volume's grid.
         */
        GRAD_CAM(5, "grad-cam");

        final int code;
        private final String label;

        Method(int code, String label) {
            this.code = code;
            this.label = label;
        }

        public String label() {
            return label;
        }

        public static Method parse(String s) {
            for (Method m : values()) {
                if (m.label.equals(s.strip().toLowerCase(Locale.ROOT))) {
                    return m;
                }
            }
            throw new IllegalArgumentException("unknown saliency method '" + s
                    + "' (gradient, gradient-x-input, integrated-gradients, guided-backprop, grad-cam, occlusion)");
        }
    }

    /**
     * @param steps integrated gradients: path points
     * @param baseline integrated gradients: the constant baseline volume (0 = −1000 HU in the processed units)
     * @param window occlusion window in slices, rows, columns
     * @param stride occlusion stride in slices, rows, columns
     * @param fill occlusion: the value inside the window
     * @param batch volumes per classifier call
     * @param layer Grad-CAM: a dotted submodule path ({@code features}, {@code layer4}); null = the built-in's default
     */
    public record Options(int steps, double baseline, int[] window, int[] stride, double fill, int batch,
            String layer) {
        public Options {
            if (steps < 1 || batch < 1 || window.length != 3 || stride.length != 3) {
                throw new IllegalArgumentException("steps and batch >= 1; window and stride have 3 sizes");
            }
            for (int a = 0; a < 3; a++) {
                if (window[a] < 1 || stride[a] < 1) {
                    throw new IllegalArgumentException("occlusion window and stride must be >= 1");
                }
            }
            window = window.clone();
            stride = stride.clone();
            if (layer != null && layer.isBlank()) {
                layer = null;
            }
        }

        public Options(int steps, double baseline, int[] window, int[] stride, double fill, int batch) {
            this(steps, baseline, window, stride, fill, batch, null);
        }

        public static Options defaults() {
            return new Options(32, 0.0, new int[] {8, 8, 8}, new int[] {8, 8, 8}, 0.0, 4, null);
        }

        public Options withSteps(int s) {
            return new Options(s, baseline, window, stride, fill, batch, layer);
        }

        public Options withBaseline(double b) {
            return new Options(steps, b, window, stride, fill, batch, layer);
        }

        public Options withOcclusion(int[] w, int[] st, double f) {
            return new Options(steps, baseline, w, st, f, batch, layer);
        }

        public Options withLayer(String l) {
            return new Options(steps, baseline, window, stride, fill, batch, l);
        }
    }

    /** A map on the volume's grid and the classifier's score of the volume. */
    public record Map(Volume values, double score, Method method) implements AutoCloseable {
        @Override
        public void close() {
            values.close();
        }
    }

    private Saliency() {
    }

    /** The map of {@code method} for {@code target} on a processed volume {@code x}. */
    public static Map compute(Volume x, Classifier clf, Target target, Method method, Options o,
            Progress.Listener listener) {
        Kernel kernel = clf.kernel();
        Volume out = Volume.allocate(x.geometry());
        try (var kl = kernel.lease(); var cl = clf.lease(); var vl = x.lease(); var ol = out.lease()) {
            Specs.Saliency spec = new Specs.Saliency(o.steps(), o.baseline(), Arrays.stream(o.window()).asLongStream().toArray(),
                    Arrays.stream(o.stride()).asLongStream().toArray(),
                    o.fill(), o.batch(), o.layer());
            double score = ShiftCalls.saliency(kernel.object(), clf.object(), target.spec(), x, method.code, spec,
                    method.label() + " saliency", LatentShift.sink(listener), out);
            return new Map(out, score, method);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }
}
