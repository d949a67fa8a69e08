package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.CtcfException;


import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.internal.ModelCalls;
import org.ctcf.internal.NamedParameters;
import org.ctcf.internal.NativeObject;
import org.ctcf.internal.Specs;
import org.ctcf.io.checkpoint.Checkpoint;
import org.ctcf.io.checkpoint.ModelFormatException;
import org.ctcf.io.checkpoint.SafeTensors;
import org.ctcf.io.checkpoint.TensorData;
import org.ctcf.io.checkpoint.TorchZipWriter;

/**
 * A differentiable 3D classifier in the kernel, on the device of its {@link Kernel}: a TorchScript module, or one
 * of the built-in architectures (lungmask's U-Net {@code lungmask-unet}, Merlin's I3D ResNet-152
 * {@code i3resnet152}) whose published weights load by name. A processed volume reaches the model as
 * {@code [B, 1, D, H, W]} or, in the reference layout, {@code [B, 1, H, W, D]}; 2-D models run on every slice.
 * Usually loaded from a {@link ClassifierCard}. Owned by the caller; close it.
 */
public final class Classifier extends NativeHandle {
    /** How a volume is laid out for the model; codes mirror {@code ctcf_layout}. */
    public enum Layout {
        /** {@code [B, 1, slices, y, x]}: ctcf's own order. */
        BCDHW(0),
        /** {@code [B, 1, x, y, slices]}: the reference's {@code [B, 1, H, W, D]} on a RAS volume. */
        BCHWD(1);

        final int code;

        Layout(int code) {
            this.code = code;
        }
    }

    /** The built-in architectures and the prefixes their published checkpoints put before the keys. */
    public static final Map<String, List<String>> ARCHITECTURE_PREFIXES = Map.of(
            "lungmask-unet", List.of(""),
            "i3resnet152", List.of("encode_image.i3_resnet.", ""),
            "ctcf-lungseg", List.of(""),
            "ctcf-nodule3d", List.of(""));

    private final Kernel kernel;
    private final Layout layout;
    private ClassifierCard card;

    private Classifier(NativeObject model, Kernel kernel, Layout layout) {
        super(model);
        this.kernel = kernel;
        this.layout = layout;
    }

    /** Loads a TorchScript file. {@code maxBatch} is the largest batch it accepts (0 = any). */
    public static Classifier loadTorchScript(Path file, Layout layout, int maxBatch, Kernel kernel) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such TorchScript classifier");
        }
        NativeObject model;
        try {
            model = ModelCalls.classifierLoad(file.toString(), layout.code, maxBatch);
        } catch (CtcfException.InvalidArgumentException e) {
            var v = org.ctcf.io.checkpoint.TorchScriptFiles.fileFormatVersion(file);
            throw new ModelFormatException(file, (v.isPresent() ? "TorchScript file format version "
                    + v.getAsLong() + " (as written by the PyTorch that saved it) cannot be read by the kernel's "
                    + "LibTorch " + Kernel.buildInfo() + ": " : "") + e.getMessage(), e);
        }
        return bind(model, kernel, layout);
    }

    /**
     * A classifier from TorchScript source defining {@code forward(self, x)} — how tests and tools make models
     * without Python.
     */
    public static Classifier define(String source, Layout layout, int maxBatch, Kernel kernel) {
        return define(source, java.util.Map.of(), layout, maxBatch, kernel);
    }

    /**
     * A classifier from TorchScript source with named submodules, each from its own source (keys: {@code features},
     * or dotted {@code features.conv} whose parent is also a key); the classifier's source calls them as
     * {@code self.features(x)}. A model with layers, for Grad-CAM on a named submodule, without Python.
     */
    public static Classifier define(String source, java.util.Map<String, String> submodules, Layout layout,
            int maxBatch, Kernel kernel) {
        return bind(ModelCalls.classifierDefine(source, submodules, layout.code, maxBatch), kernel, layout);
    }

    /**
     * A built-in architecture with random weights: {@code lungmask-unet}, {@code i3resnet152}, or ctcf's demo nets
     * {@code ctcf-lungseg} (2-D U-Net, one lung logit per pixel) and {@code ctcf-nodule3d} (3-D CNN, one logit).
     */
    public static Classifier builtin(String architecture, int classes, Layout layout, int maxBatch, Kernel kernel) {
        return bind(ModelCalls.classifierBuiltin(architecture, classes, layout.code, maxBatch), kernel, layout);
    }

    /** Loads the classifier a card describes (model, weights, layout, input size). */
    public static Classifier load(ClassifierCard card, Kernel kernel) throws IOException {
        Classifier c;
        if (card.torchScript() != null) {
            c = loadTorchScript(card.torchScript(), card.layout(), card.maxBatch(), kernel);
        } else {
            try {
                c = builtin(card.architecture(), card.outputCount(), card.layout(), card.maxBatch(), kernel);
            } catch (CtcfException.InvalidArgumentException e) {
                throw new ModelFormatException(card.file(), e.getMessage(), e);
            }
            try {
                c.loadWeights(card.weights(), card.keyPrefix());
            } catch (IOException | RuntimeException e) {
                c.close();
                throw e;
            }
        }
        c.card = card;
        try {
            if (card.inputNx() > 0) {
                c.setInputSize(card.inputNx(), card.inputNy());
            }
            if (card.orientation() != Orientation.RAS) {
                c.setOrientation(card.orientation());
            }
        } catch (CtcfException.InvalidArgumentException e) {
            c.close();
            throw new ModelFormatException(card.file(), e.getMessage(), e);
        }
        return c;
    }

    public static Classifier load(Path cardFile, Kernel kernel) throws IOException {
        return load(ClassifierCard.read(cardFile), kernel);
    }

    private static Classifier bind(NativeObject model, Kernel kernel, Layout layout) {
        Classifier c = new Classifier(model, kernel, layout);
        try (var lease = c.lease(); var kl = kernel.lease()) {
            ModelCalls.classifierTo(model, kernel.object(), kernel.device().toString());
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    private NamedParameters named() {
        return NamedParameters.of(NamedParameters.Owner.CLASSIFIER, object());
    }

    /**
     * Loads weights into a built-in architecture. {@code keyPrefix} "auto" tries the architecture's known prefixes
     * (Merlin: {@code encode_image.i3_resnet.} or none); keys outside the prefix (e.g. Merlin's text encoder) are
     * ignored; BatchNorm's {@code num_batches_tracked} may be absent.
     */
    public void loadWeights(Path weights, String keyPrefix) throws IOException {
        try (Checkpoint ckpt = Checkpoint.open(weights); var lease = lease()) {
            Map<String, TensorData> all = ckpt.tensors();
            String prefix = keyPrefix == null || keyPrefix.equals("auto") ? detectPrefix(all) : keyPrefix;
            Map<String, TensorData> selected = new LinkedHashMap<>();
            for (var e : all.entrySet()) {
                if (e.getKey().startsWith(prefix) && !e.getKey().startsWith(SliceAutoencoder.TRAINER_PREFIX)) {
                    selected.put(e.getKey().substring(prefix.length()), e.getValue());
                }
            }
            named().load(weights, selected, "the classifier" + (prefix.isEmpty() ? "" : " (key prefix '" + prefix
                    + "')"), List.of(".num_batches_tracked"));
        }
    }

    private String detectPrefix(Map<String, TensorData> all) {
        List<String> names = named().list().stream().map(NamedParameters.Parameter::name).toList();
        String probe = names.isEmpty() ? "" : names.get(0);
        for (List<String> prefixes : ARCHITECTURE_PREFIXES.values()) {
            for (String p : prefixes) {
                if (!p.isEmpty() && all.containsKey(p + probe)) {
                    return p;
                }
            }
        }
        return "";
    }

    /** Parameters and buffers of a built-in architecture (none for TorchScript). */
    public List<SliceAutoencoder.Parameter> parameters() {
        try (var lease = lease()) {
            return named().list().stream().map(p -> new SliceAutoencoder.Parameter(p.name(), p.shape())).toList();
        }
    }

    /** Number of values in parameters and buffers. */
    public long parameterCount() {
        return parameters().stream().mapToLong(SliceAutoencoder.Parameter::numel).sum();
    }

    public float[] parameter(String name) {
        try (var lease = lease()) {
            return named().read(name);
        }
    }

    /** A built-in's parameters and buffers as float32 tensors named {@code prefix + name}. */
    public List<SafeTensors.FloatTensor> parameterTensors(String prefix) {
        try (var lease = lease()) {
            return named().snapshot(prefix);
        }
    }

    /** Saves a built-in's weights as safetensors, keys prefixed with {@code prefix}. */
    public void saveSafetensors(Path file, String prefix) throws IOException {
        List<SafeTensors.FloatTensor> ts;
        try (var lease = lease()) {
            ts = named().snapshot(prefix);
        }
        SafeTensors.writeF32(file, ts, Map.of("format", "pt"));
    }

    /** Saves a built-in's weights in PyTorch's zip format (as torch.save(state_dict)). */
    public void saveTorch(Path file, String prefix) throws IOException {
        List<SafeTensors.FloatTensor> ts;
        try (var lease = lease()) {
            ts = named().snapshot(prefix);
        }
        TorchZipWriter.write(file, ts);
    }

    /** Volumes are resized in-plane to nx × ny before the model sees them (0 × 0: off). */
    public void setInputSize(int nx, int ny) {
        try (var lease = lease()) {
            ModelCalls.setInputSize(object(), nx, ny);
        }
    }

    /**
     * The in-plane orientation of the slices the model sees. {@link Orientation#DISPLAY} is ct-counterfactuals'
     * display view (its dataset's rot90 + flip of the RAS slice: anterior up, the patient's right on the left), which
     * lungmask's weights expect; output maps come back in the volume's orientation either way.
     */
    public void setOrientation(Orientation orientation) {
        try (var lease = lease()) {
            ModelCalls.setOrientation(object(), orientation.kernel);
        }
    }

    /**
     * The slices {@code [a, b)} of a {@code depth}-slice volume that fast mode runs this classifier on when slices
     * {@code [start, end)} change (a max-pooled detector's slab, a per-slice classifier's changed slices, else the
     * whole volume): what a λ step must at least score. For benchmarks.
     */
    public int[] scoreSpan(Target target, int start, int end, int depth) {
        try (var lease = lease()) {
            long[] span = ModelCalls.scoreSpan(object(), target.spec(), start, end, depth);
            return new int[] {(int) span[0], (int) span[1]};
        }
    }

    /** In-plane orientations a classifier may expect (ctcf_orientation). */
    public enum Orientation {
        RAS(Specs.Orientation.RAS), DISPLAY(Specs.Orientation.DISPLAY);

        private final Specs.Orientation kernel;

        Orientation(Specs.Orientation kernel) {
            this.kernel = kernel;
        }

        /** By card name: "ras" or "display". */
        public static Orientation parse(String name) {
            return switch (name) {
                case "ras" -> RAS;
                case "display" -> DISPLAY;
                default -> throw new IllegalArgumentException("input.orientation must be ras or display, not '"
                        + name + "'");
            };
        }
    }

    public Layout layout() {
        return layout;
    }

    /** The card it was loaded from, or null. */
    public ClassifierCard card() {
        return card;
    }

    Kernel kernel() {
        return kernel;
    }

    /** Saves a TorchScript classifier as a TorchScript file. */
    public void save(Path file) {
        try (var lease = lease()) {
            ModelCalls.classifierSave(object(), file.toString());
        }
    }

    /**
     * The label map of a segmentation model on the grid of a processed volume {@code volume}, in the kernel: per voxel
     * the index of the largest class, or for a one-channel map 1 where its logit is ≥ 0 (sigmoid ≥ 0.5); a map of
     * another size is read nearest-neighbour. Caller owns the result.
     */
    public Volume segmentation(Volume volume) {
        checkDepth(volume);
        Volume labels = Volume.allocate(volume.geometry());
        try (var lease = lease(); var kl = kernel.lease(); var vl = volume.lease(); var ll = labels.lease()) {
            ModelCalls.argmax(kernel.object(), object(), volume, labels, "segmenting " + volume.geometry());
        } catch (RuntimeException e) {
            labels.close();
            throw e;
        }
        return labels;
    }

    /** The model's raw outputs for one processed volume, with their shape ({@code [1, classes]} or maps). */
    public record Outputs(long[] shape, float[] values) {
    }

    public Outputs outputs(Volume volume) {
        checkDepth(volume);
        try (var lease = lease(); var kl = kernel.lease(); var vl = volume.lease()) {
            ModelCalls.Outputs o = ModelCalls.outputs(kernel.object(), object(), volume);
            return new Outputs(o.shape(), o.values());
        }
    }

    /** The raw outputs of a classifier that returns {@code [1, classes]}. */
    public float[] predict(Volume volume) {
        return outputs(volume).values();
    }

    /** The explained score for one processed volume. */
    public double score(Volume volume, Target target) {
        checkDepth(volume);
        try (var lease = lease(); var kl = kernel.lease(); var vl = volume.lease()) {
            return ModelCalls.score(kernel.object(), object(), target.spec(), volume);
        }
    }

    /** The target a card names (by class name or index), or {@code name} when given. */
    public Target target(String name) throws ModelFormatException {
        if (card == null) {
            throw new IllegalStateException("this classifier has no card; build a Target directly");
        }
        ClassifierCard.Score s = card.score();
        int index = card.classIndex(name != null ? name : s.target());
        return new Target(index, Target.Activation.parse(s.activation()), Target.Reducer.parse(s.reducer()),
                s.offset(), s.applySigmoid());
    }

    void checkDepth(Volume v) {
        if (card != null && card.depth() > 0 && v.nz() != card.depth()) {
            throw new CtcfException.InvalidArgumentException(card.file() + ": the classifier takes exactly "
                    + card.depth() + " slices, the volume has " + v.nz());
        }
    }



}
