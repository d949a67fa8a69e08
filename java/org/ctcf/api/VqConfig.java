package org.ctcf.api;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.ctcf.io.checkpoint.ModelFormatException;
import org.ctcf.io.checkpoint.TensorData;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The architecture of a taming-transformers VQModel: {@code model.params.ddconfig} plus {@code embed_dim} and
 * {@code n_embed}. Read from a taming YAML (or the same keys as JSON), or inferred from a checkpoint's shapes.
 */
public record VqConfig(int ch, int outCh, int inChannels, int resolution, int zChannels, int numResBlocks,
        int embedDim, int nEmbed, boolean doubleZ, boolean resampWithConv, List<Integer> chMult,
        List<Integer> attnResolutions, double dropout) {

    public VqConfig {
        chMult = List.copyOf(chMult);
        attnResolutions = List.copyOf(attnResolutions);
        if (chMult.isEmpty() || chMult.size() > 16 || attnResolutions.size() > 16) {
            throw new IllegalArgumentException("ch_mult needs 1..16 levels and attn_resolutions at most 16 entries");
        }
    }

    /** taming's standard ddconfig (ch 128, ch_mult [1,1,2,2,4], 2 res blocks, attention at 16) for 1-channel CT. */
    public static VqConfig tamingStandard(int channels) {
        return new VqConfig(128, channels, channels, 256, 256, 2, 256, 1024, false, true, List.of(1, 1, 2, 2, 4),
                List.of(16), 0.0);
    }

    /** Downsampling factor 2^(levels-1). */
    public int downsampling() {
        return 1 << (chMult.size() - 1);
    }

    /** Latent side for a square slice of {@code size} pixels. */
    public int latentSize(int size) {
        return size / downsampling();
    }

    public VqConfig withResolution(int r) {
        return new VqConfig(ch, outCh, inChannels, r, zChannels, numResBlocks, embedDim, nEmbed, doubleZ,
                resampWithConv, chMult, attnResolutions, dropout);
    }

    /** Reads a taming YAML (model.params..., also under first_stage_config) or a JSON with the same keys. */
    public static VqConfig read(Path file) throws IOException {
        Object doc;
        try (Reader r = Files.newBufferedReader(file)) {
            doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(r);
        } catch (RuntimeException e) {
            throw new ModelFormatException(file, "not valid YAML/JSON: " + e.getMessage(), e);
        }
        Map<?, ?> params = findParams(doc);
        if (params == null) {
            throw new ModelFormatException(file, "no VQModel parameters (model.params.ddconfig, embed_dim, n_embed)");
        }
        try {
            return fromMap(params);
        } catch (IllegalArgumentException | ClassCastException e) {
            throw new ModelFormatException(file, "bad VQModel config: " + e.getMessage(), e);
        }
    }

    private static Map<?, ?> findParams(Object node) {
        if (!(node instanceof Map<?, ?> m)) {
            return null;
        }
        if (m.get("ddconfig") instanceof Map<?, ?>) {
            return m;
        }
        for (String k : new String[] {"model", "params", "first_stage_config"}) {
            Map<?, ?> found = findParams(m.get(k));
            if (found != null) {
                return found;
            }
        }
        return null;
    }

    static VqConfig fromMap(Map<?, ?> params) {
        Map<?, ?> dd = (Map<?, ?>) params.get("ddconfig");
        return new VqConfig(integer(dd, "ch", null), integer(dd, "out_ch", null), integer(dd, "in_channels", null),
                integer(dd, "resolution", null), integer(dd, "z_channels", null), integer(dd, "num_res_blocks", null),
                integer(params, "embed_dim", null), integer(params, "n_embed", null), bool(dd, "double_z", false),
                bool(dd, "resamp_with_conv", true), ints(dd, "ch_mult"), ints(dd, "attn_resolutions"),
                dd.get("dropout") instanceof Number n ? n.doubleValue() : 0.0);
    }

    private static int integer(Map<?, ?> m, String key, Integer dflt) {
        Object v = m.get(key);
        if (v instanceof Number n) {
            return n.intValue();
        }
        if (v == null && dflt != null) {
            return dflt;
        }
        throw new IllegalArgumentException(key + " is " + (v == null ? "missing" : "not a number: " + v));
    }

    private static boolean bool(Map<?, ?> m, String key, boolean dflt) {
        Object v = m.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        return Boolean.parseBoolean(String.valueOf(v));
    }

    private static List<Integer> ints(Map<?, ?> m, String key) {
        Object v = m.get(key);
        if (!(v instanceof List<?> l)) {
            throw new IllegalArgumentException(key + " must be a list");
        }
        List<Integer> out = new ArrayList<>();
        for (Object o : l) {
            out.add(((Number) o).intValue());
        }
        return out;
    }

    private static final Pattern DOWN = Pattern.compile("^encoder\\.down\\.(\\d+)\\.(block|attn)\\.(\\d+)\\.");

    /**
     * Recovers the config from a checkpoint's shapes (architectures.md §1.8): channel widths from conv shapes,
     * levels and blocks from key names, attention per level. {@code resolution} is set so that attention levels
     * map to resolutions; it does not restrict the slice size the model accepts.
     */
    public static VqConfig infer(Map<String, TensorData> t, Path file) throws ModelFormatException {
        try {
            long[] convIn = shape(t, "encoder.conv_in.weight");
            int ch = (int) convIn[0];
            int in = (int) convIn[1];
            int levels = 0;
            int blocks = 0;
            TreeSet<Integer> attnLevels = new TreeSet<>();
            for (String k : t.keySet()) {
                Matcher m = DOWN.matcher(k);
                if (m.find()) {
                    int level = Integer.parseInt(m.group(1));
                    levels = Math.max(levels, level + 1);
                    if (m.group(2).equals("block") && level == 0) {
                        blocks = Math.max(blocks, Integer.parseInt(m.group(3)) + 1);
                    }
                    if (m.group(2).equals("attn")) {
                        attnLevels.add(level);
                    }
                }
            }
            List<Integer> mult = new ArrayList<>();
            for (int i = 0; i < levels; i++) {
                mult.add((int) (shape(t, "encoder.down." + i + ".block.0.conv1.weight")[0] / ch));
            }
            long[] quantConv = shape(t, "quant_conv.weight");
            long[] emb = shape(t, "quantize.embedding.weight");
            int z = (int) quantConv[1];
            boolean doubleZ = shape(t, "encoder.conv_out.weight")[0] == 2L * z;
            int out = (int) shape(t, "decoder.conv_out.weight")[0];
            int resolution = 256;
            List<Integer> attn = new ArrayList<>();
            for (int level : attnLevels) {
                attn.add(resolution >> level);
            }
            boolean resamp = levels < 2 || t.containsKey("encoder.down.0.downsample.conv.weight");
            return new VqConfig(ch, out, in, resolution, z, blocks, (int) emb[1], (int) emb[0], doubleZ, resamp, mult,
                    attn, 0.0);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file, "cannot infer the VQ-GAN config from the checkpoint: "
                    + e.getMessage() + " (pass the taming YAML with --config)");
        }
    }

    private static long[] shape(Map<String, TensorData> t, String key) {
        TensorData d = t.get(key);
        if (d == null) {
            throw new IllegalArgumentException("key " + key + " is missing");
        }
        return d.shape();
    }

    /** The config as the JSON object ctcf stores in safetensors metadata (taming's key names). */
    public String toJson() {
        return String.format(java.util.Locale.ROOT, "{\"embed_dim\":%d,\"n_embed\":%d,\"ddconfig\":{\"ch\":%d,"
                + "\"out_ch\":%d,\"in_channels\":%d,\"resolution\":%d,\"z_channels\":%d,\"num_res_blocks\":%d,"
                + "\"double_z\":%s,\"resamp_with_conv\":%s,\"ch_mult\":%s,\"attn_resolutions\":%s,\"dropout\":%s}}",
                embedDim, nEmbed, ch, outCh, inChannels, resolution, zChannels, numResBlocks, doubleZ, resampWithConv,
                chMult, attnResolutions, Double.toString(dropout));
    }

    /** Parses {@link #toJson()} output. */
    public static VqConfig fromJson(String json) {
        Object doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(json);
        Map<?, ?> params = findParams(doc);
        if (params == null) {
            throw new IllegalArgumentException("no ddconfig in " + json);
        }
        return fromMap(params);
    }
}
