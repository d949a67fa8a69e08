package org.ctcf.api;


import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.ctcf.internal.ModelCalls;
import org.ctcf.internal.NamedParameters;
import org.ctcf.internal.NativeObject;
import org.ctcf.io.checkpoint.Checkpoint;
import org.ctcf.io.checkpoint.ModelFormatException;
import org.ctcf.io.checkpoint.SafeTensors;
import org.ctcf.io.checkpoint.TensorData;

/**
 * The LPIPS perceptual distance (Zhang et al. 2018) over VGG-16 features, in the kernel: the perceptual term of
 * taming's VQ-GAN objective ({@link Trainer#setPerceptual}). ctcf ships no VGG weights; users load
 * torchvision's {@code vgg16} state dict ({@code features.N.weight/bias}; its {@code classifier.*} keys are
 * ignored) and, optionally, LPIPS's linear layers ({@code linK.model.1.weight}, the {@code vgg.pth} of LPIPS v0.1).
 * Without linear layers every channel weighs 1, LPIPS's "baseline" variant.
 */
public final class Perceptual extends NativeHandle {
    private static final Pattern LIN_KEY = Pattern.compile("(?:.*\\.)?(lin[0-4])\\.(?:model\\.1\\.)?weight");
    private final Kernel kernel;
    private String description;

    private Perceptual(NativeObject model, Kernel kernel, String description) {
        super(model);
        this.kernel = kernel;
        this.description = description;
    }

    /** VGG-16 with LibTorch's random initialisation and linear weights 1 (for tests and for loading into). */
    public static Perceptual create(Kernel kernel) {
        try (var kl = kernel.lease()) {
            return new Perceptual(ModelCalls.perceptualCreate(kernel.object()), kernel, "LPIPS (random VGG-16)");
        }
    }

    /**
     * LPIPS with torchvision VGG-16 weights from {@code vgg} and LPIPS's linear layers from {@code lin} (null: every
     * channel weighs 1). Any file the checkpoint loader reads (safetensors, PyTorch zip or legacy pickle).
     */
    public static Perceptual load(Path vgg, Path lin, Kernel kernel) throws IOException {
        Perceptual p = create(kernel);
        try {
            p.loadVgg(vgg);
            if (lin != null) {
                p.loadLin(lin);
            }
            p.description = "LPIPS (VGG-16 " + vgg.getFileName()
                    + (lin == null ? ", baseline channel weights)" : ", linear layers " + lin.getFileName() + ")");
            return p;
        } catch (IOException | RuntimeException e) {
            p.close();
            throw e;
        }
    }

    private void loadVgg(Path file) throws IOException {
        try (Checkpoint ck = Checkpoint.open(file); var lease = lease()) {
            Map<String, TensorData> selected = new LinkedHashMap<>();
            for (var e : ck.tensors().entrySet()) {
                String k = e.getKey();
                int at = k.indexOf("features.");
                if (at >= 0 && (at == 0 || k.charAt(at - 1) == '.')) {  // "features.N", "module.features.N", ...
                    selected.put(k.substring(at), e.getValue());
                }
            }
            if (selected.isEmpty()) {
                throw new ModelFormatException(file, "no VGG-16 'features.N.weight' tensors (a torchvision vgg16 "
                        + "state dict is expected)");
            }
            named().load(file, selected, "torchvision's VGG-16 features", List.of(), n -> n.startsWith("features."));
        }
    }

    private void loadLin(Path file) throws IOException {
        try (Checkpoint ck = Checkpoint.open(file); var lease = lease()) {
            Map<String, TensorData> selected = new LinkedHashMap<>();
            for (var e : ck.tensors().entrySet()) {
                Matcher m = LIN_KEY.matcher(e.getKey());
                if (m.matches()) {
                    selected.put(m.group(1) + ".model.1.weight", e.getValue());
                }
            }
            if (selected.isEmpty()) {
                throw new ModelFormatException(file, "no LPIPS linear layers 'linK.model.1.weight' (K = 0..4)");
            }
            named().load(file, selected, "LPIPS's linear layers", List.of(), n -> n.startsWith("lin"));
            for (var e : selected.entrySet()) {
                for (float v : named().read(e.getKey())) {
                    if (v < 0 || !Float.isFinite(v)) {
                        throw new ModelFormatException(file, e.getKey() + " has a negative or non-finite weight; "
                                + "LPIPS's linear layers are non-negative");
                    }
                }
            }
        }
    }

    private NamedParameters named() {
        return NamedParameters.of(NamedParameters.Owner.PERCEPTUAL, object());
    }

    /** LPIPS distances between {@code n} image pairs [n, channels (1 or 3), ny, nx] in [-1, 1], C order. */
    public double[] distance(float[] a, float[] b, int n, int channels, int ny, int nx) {
        long count = (long) n * channels * ny * nx;
        if (a.length != count || b.length != count) {
            throw new IllegalArgumentException("images must hold n x channels x ny x nx = " + count + " values");
        }
        try (var lease = lease(); var kl = kernel.lease()) {
            return ModelCalls.perceptualDistance(kernel.object(), object(), a, b, n, channels, ny, nx);
        }
    }

    /** Parameter names (torchvision's and LPIPS's) and shapes. */
    public List<SliceAutoencoder.Parameter> parameters() {
        try (var lease = lease()) {
            return named().list().stream().map(q -> new SliceAutoencoder.Parameter(q.name(), q.shape())).toList();
        }
    }

    /** Number of values in the network's parameters (VGG-16 features: 14,714,688; linear layers: 1,472). */
    public long parameterCount() {
        try (var lease = lease()) {
            return named().list().stream().mapToLong(NamedParameters.Parameter::numel).sum();
        }
    }

    public float[] parameter(String name) {
        try (var lease = lease()) {
            return named().read(name);
        }
    }

    /** Writes the VGG-16 features (torchvision names) or the linear layers (LPIPS names) as safetensors. */
    public void save(Path file, boolean linear) throws IOException {
        List<SafeTensors.FloatTensor> ts;
        try (var lease = lease()) {
            ts = named().snapshot("").stream().filter(t -> t.name().startsWith("lin") == linear).toList();
        }
        SafeTensors.writeF32(file, ts, Map.of("format", "pt"));
    }

    Kernel kernel() {
        return kernel;
    }

    @Override
    public String toString() {
        return description;
    }
}
