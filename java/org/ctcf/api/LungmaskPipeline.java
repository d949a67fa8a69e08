package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;



import org.ctcf.internal.ContextCalls;
import org.ctcf.internal.ModelCalls;

/**
 * lungmask's own pipeline around its U-Net, as an alternative to the ct-counterfactuals wrapper: the volume is
 * reoriented to LPS (exactly, no resampling), each slice is cropped to its body mask's box and resized to
 * 256 × 256, HU are mapped {@code (HU + 1024) / 1624}, the U-Net labels every pixel (argmax), and the labels go
 * back into their boxes (nearest), lungmask's 3-D label post-processing runs ({@link LabelPostprocessing}: small
 * pieces join their neighbours, one component per label, holes filled; on by default, as in lungmask) and the
 * labels go onto the input's grid.
 */
public final class LungmaskPipeline {
    /** The slice size the U-Net sees. */
    public static final int SIZE = 256;

    private LungmaskPipeline() {
    }

    /** Per-slice crops and boxes (row0, col0, row1, col1 in the LPS slice, half-open). */
    public record Prepared(Volume slices, long[] boxes, Geometry lpsGeometry) implements AutoCloseable {
        @Override
        public void close() {
            slices.close();
        }
    }

    /** The preprocessing alone: reorient to LPS, body-mask crop, resize, normalise. */
    public static Prepared prepare(Volume ct, Kernel kernel) {
        PreprocessOptions lps = PreprocessOptions.reorientOnly("LPS");
        try (Volume v = kernel.preprocess(ct, lps)) {
            Volume out = Volume.allocate(Geometry.of(SIZE, SIZE, v.nz(), 1, 1, 1, 0, 0, 0));
            long[] boxes;
            try (var vl = v.lease(); var ol = out.lease()) {
                boxes = ContextCalls.lungmaskPreprocess(v, SIZE, out, 4 * v.nz());
            } catch (RuntimeException e) {
                out.close();
                throw e;
            }
            return new Prepared(out, boxes, v.geometry());
        }
    }

    /**
     * Labels every voxel of {@code ct} with the U-Net (a {@code lungmask-unet} classifier in the BCDHW layout):
     * 0 background, then the model's classes (R231: 1 right lung, 2 left lung). The result is on ct's grid.
     */
    public static Volume segment(Volume ct, Classifier unet, Kernel kernel) {
        return segment(ct, unet, kernel, true);
    }

    /** As {@link #segment(Volume, Classifier, Kernel)}, with or without the 3-D post-processing. */
    public static Volume segment(Volume ct, Classifier unet, Kernel kernel, boolean postprocess) {
        try (Prepared p = prepare(ct, kernel); Volume labels = Volume.allocate(p.slices().geometry());
                Volume lpsLabels = Volume.allocate(p.lpsGeometry())) {
            try (var cl = unet.lease(); var kl = kernel.lease(); var sl = p.slices().lease(); var ll = labels.lease()) {
                ModelCalls.argmax(kernel.object(), unet.object(), p.slices(), labels, "lungmask U-Net");
            }
            try (var ll = labels.lease(); var ol = lpsLabels.lease()) {
                ContextCalls.lungmaskRestore(labels, SIZE, p.boxes(), lpsLabels);
            }
            // No resampling happened, so going back is the exact inverse permutation/flip.
            if (!postprocess) {
                return kernel.restore(lpsLabels, ct.geometry(), PreprocessOptions.reorientOnly("LPS"), false);
            }
            try (Volume post = LabelPostprocessing.lungmask(lpsLabels)) {  // on the LPS grid, as lungmask does
                return kernel.restore(post, ct.geometry(), PreprocessOptions.reorientOnly("LPS"), false);
            }
        }
    }
}
