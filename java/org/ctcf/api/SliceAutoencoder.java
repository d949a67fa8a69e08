package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;
import org.ctcf.core.CtcfException;


import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.internal.NamedParameters;
import org.ctcf.internal.ModelCalls;
import org.ctcf.internal.NativeObject;
import org.ctcf.internal.Specs;
import org.ctcf.io.checkpoint.Checkpoint;
import org.ctcf.io.checkpoint.ModelFormatException;
import org.ctcf.io.checkpoint.SafeTensors;
import org.ctcf.io.checkpoint.TensorData;

/**
 * A slice-wise VQ-GAN autoencoder (taming-transformers VQModel) in the kernel, on the device of the
 * {@link Kernel} it was loaded with. Loads published checkpoints directly — Lightning {@code .ckpt}, bare
 * {@code .pth} (zip or legacy), safetensors — by parameter name, without Python and without executing anything
 * in the file. Encodes a volume's slices to quantized latents and decodes latents back.
 *
 * <p>Owned by the caller; close it (idempotent). The {@code Kernel} must stay open while it is used.
 */
public final class SliceAutoencoder extends NativeHandle {
    /** Key prefixes dropped on purpose: the training losses (LPIPS, discriminator). */
    public static final String IGNORED_PREFIX = "loss.";
    /** Prefix of a VQGAN embedded in a taming transformer checkpoint; stripped when present. */
    public static final String FIRST_STAGE_PREFIX = "first_stage_model.";
    /** Keys of a ctcf training checkpoint that hold the optimiser state, not the model. */
    public static final String TRAINER_PREFIX = "trainer.";
    /** Metadata key of the slice wrapper a ctcf-trained model was trained with (JSON). */
    public static final String WRAPPER_METADATA = "ctcf.slice_wrapper";

    private final VqConfig config;
    private final Kernel kernel;
    private SliceWrapper wrapper = SliceWrapper.plain();
    private int batchSize = 16;

    private SliceAutoencoder(NativeObject model, VqConfig config, Kernel kernel) {
        super(model);
        this.config = config;
        this.kernel = kernel;
    }

    /** A model with random weights (taming's initialisation) on {@code kernel}'s device. */
    public static SliceAutoencoder create(VqConfig config, Kernel kernel) {
        SliceAutoencoder ae = new SliceAutoencoder(ModelCalls.autoencoderCreate(spec(config)), config, kernel);
        try {
            ae.moveToKernelDevice();
        } catch (RuntimeException e) {
            ae.close();
            throw e;
        }
        return ae;
    }

    /**
     * Loads weights from {@code weights}. {@code config} may be null: then it comes from the file's ctcf metadata
     * (safetensors written by {@link #save}) or is inferred from the tensor shapes. Missing, unexpected and
     * shape-mismatched keys are reported together in one {@link ModelFormatException}; {@code loss.*} keys are
     * ignored and a {@code first_stage_model.} prefix is stripped.
     */
    public static SliceAutoencoder load(Path weights, VqConfig config, Kernel kernel) throws IOException {
        try (Checkpoint ckpt = Checkpoint.open(weights)) {
            Map<String, TensorData> tensors = modelTensors(ckpt.tensors());
            VqConfig cfg = config;
            if (cfg == null && ckpt.root() instanceof Map<?, ?> meta && meta.get("ctcf.vq_config") instanceof String s) {
                cfg = VqConfig.fromJson(s);
            }
            if (cfg == null) {
                cfg = VqConfig.infer(tensors, weights);
            }
            SliceAutoencoder ae;
            try {
                ae = create(cfg, kernel);
            } catch (CtcfException.InvalidArgumentException e) {
                throw new ModelFormatException(weights, e.getMessage(), e);
            }
            try {
                ae.loadTensors(weights, tensors, cfg);
                if (ckpt.root() instanceof Map<?, ?> meta && meta.get(WRAPPER_METADATA) instanceof String w) {
                    try {
                        ae.wrapper = SliceWrapper.fromJson(w);
                    } catch (IllegalArgumentException e) {
                        throw new ModelFormatException(weights, "bad " + WRAPPER_METADATA + ": " + e.getMessage(), e);
                    }
                }
                return ae;
            } catch (IOException | RuntimeException e) {
                ae.close();
                throw e;
            }
        }
    }

    private static Map<String, TensorData> modelTensors(Map<String, TensorData> all) {
        boolean prefixed = all.keySet().stream().anyMatch(k -> k.startsWith(FIRST_STAGE_PREFIX + "encoder."));
        Map<String, TensorData> out = new LinkedHashMap<>();
        for (Map.Entry<String, TensorData> e : all.entrySet()) {
            String k = e.getKey();
            if (prefixed) {
                if (!k.startsWith(FIRST_STAGE_PREFIX)) {
                    continue;
                }
                k = k.substring(FIRST_STAGE_PREFIX.length());
            }
            if (k.startsWith(IGNORED_PREFIX) || k.startsWith(TRAINER_PREFIX)) {
                continue;
            }
            out.put(k, e.getValue());
        }
        return out;
    }

    /** One parameter or buffer of the model: name and shape (parameters first, then buffers). */
    public record Parameter(String name, long[] shape) {
        public long numel() {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            return n;
        }
    }

    private NamedParameters named() {
        return NamedParameters.of(NamedParameters.Owner.AUTOENCODER, object());
    }

    public List<Parameter> parameters() {
        try (var lease = lease()) {
            return named().list().stream().map(p -> new Parameter(p.name(), p.shape())).toList();
        }
    }

    public long parameterCount() {
        return parameters().stream().mapToLong(Parameter::numel).sum();
    }

    private void loadTensors(Path file, Map<String, TensorData> tensors, VqConfig cfg) throws ModelFormatException {
        try (var lease = lease()) {
            named().load(file, tensors, "the VQ-GAN config " + describe(cfg), List.of());
        }
    }

    private static String describe(VqConfig c) {
        return "(ch " + c.ch() + ", ch_mult " + c.chMult() + ", num_res_blocks " + c.numResBlocks() + ", attention at "
                + c.attnResolutions() + ", z_channels " + c.zChannels() + ", embed_dim " + c.embedDim() + ", n_embed "
                + c.nEmbed() + ", in/out " + c.inChannels() + "/" + c.outCh() + ")";
    }

    private void moveToKernelDevice() {
        try (var lease = lease(); var kl = kernel.lease()) {
            ModelCalls.autoencoderTo(object(), kernel.object(), kernel.device().toString());
        }
    }

    public VqConfig config() {
        return config;
    }

    public SliceWrapper wrapper() {
        return wrapper;
    }

    /** Sets how slices are mapped to the model (default {@link SliceWrapper#plain()}). */
    public SliceAutoencoder withWrapper(SliceWrapper w) {
        this.wrapper = w;
        return this;
    }

    public int batchSize() {
        return batchSize;
    }

    /** Slices per encoder/decoder batch (default 16, as the reference). */
    public SliceAutoencoder withBatchSize(int b) {
        if (b < 1) {
            throw new IllegalArgumentException("batch size must be >= 1");
        }
        this.batchSize = b;
        return this;
    }

    /** Quantized latents {@code [nz, embed_dim, h, w]} of every slice of {@code volume} (no autograd). */
    public Latents encode(Volume volume) {
        try (var lease = lease(); var kl = kernel.lease(); var vl = volume.lease()) {
            return new Latents(ModelCalls.encode(kernel.object(), object(), wrapper.spec(), volume, batchSize));
        }
    }

    /** Decodes latents into a new volume on {@code geometry} (the geometry of the encoded volume). */
    public Volume decode(Latents latents, Geometry geometry) {
        Volume out = Volume.allocate(geometry);
        boolean ok = false;
        try (var lease = lease(); var kl = kernel.lease(); var ll = latents.lease(); var ol = out.lease()) {
            ModelCalls.decode(kernel.object(), object(), wrapper.spec(), latents.object(), batchSize, out);
            ok = true;
            return out;
        } finally {
            if (!ok) {
                out.close();
            }
        }
    }

    /** The raw VQModel operations on a [N, C, H, W] batch, for cross-checks against other implementations. */
    public enum RawOp {
        ENCODE(0), DECODE(1), ENCODE_CONTINUOUS(2), INDICES(3);

        final int code;

        RawOp(int code) {
            this.code = code;
        }
    }

    public Latents run(RawOp op, float[] input, long n, long c, long h, long w) {
        try (var lease = lease(); var kl = kernel.lease()) {
            return new Latents(ModelCalls.autoencoderRun(kernel.object(), object(), op.code, input, n, c, h, w));
        }
    }

    /** A heap copy of one parameter's values (float32). */
    public float[] parameter(String name) {
        try (var lease = lease()) {
            return named().read(name);
        }
    }

    /**
     * Saves the weights as safetensors (float32, state_dict names) with the config and the slice wrapper in the
     * metadata; loading such a file restores both.
     */
    public void save(Path file) throws IOException {
        save(file, List.of(), Map.of());
    }

    /** As {@link #save(Path)}, with more tensors (e.g. an optimiser state) and metadata entries. */
    public void save(Path file, List<SafeTensors.FloatTensor> extra, Map<String, String> metadata) throws IOException {
        List<SafeTensors.FloatTensor> ts;
        try (var lease = lease()) {
            ts = new java.util.ArrayList<>(named().snapshot(""));
        }
        ts.addAll(extra);
        Map<String, String> meta = new java.util.LinkedHashMap<>(metadata);
        meta.put("format", "pt");
        meta.put("ctcf.vq_config", config.toJson());
        meta.put(WRAPPER_METADATA, wrapper.toJson());
        SafeTensors.writeF32(file, ts, meta);
    }

    Kernel kernel() {
        return kernel;
    }




    private static Specs.Vq spec(VqConfig c) {
        return new Specs.Vq(c.ch(), c.outCh(), c.inChannels(), c.resolution(), c.zChannels(), c.numResBlocks(),
                c.embedDim(), c.nEmbed(), c.doubleZ(), c.resampWithConv(),
                c.chMult().stream().mapToLong(Number::longValue).toArray(),
                c.attnResolutions().stream().mapToLong(Number::longValue).toArray(), c.dropout());
    }
}
