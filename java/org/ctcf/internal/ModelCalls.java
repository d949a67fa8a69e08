package org.ctcf.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import org.ctcf.core.Volume;

/**
 * The kernel's models: the slice autoencoder (ctcf_autoencoder_*), tensors (ctcf_tensor_*), classifiers
 * (ctcf_classifier_*) and the LPIPS model (ctcf_perceptual_*). Every method takes the objects it uses as
 * {@link NativeObject}s the caller holds leases on, and volumes the caller holds leases on.
 */
public final class ModelCalls {
    private ModelCalls() {
    }

    /** Raw outputs of a classifier: shape and values. */
    public record Outputs(long[] shape, float[] values) {
    }

    /** A tensor's shape. */
    public static long[] tensorShape(NativeObject t) {
        MemorySegment h = t.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ndim = arena.allocate(JAVA_INT);
            MemorySegment dims = arena.allocate(JAVA_LONG, NativeLib.MAX_DIMS);
            NativeLib.call("tensor info", err -> (int) NativeLib.H.TENSOR_INFO.invokeExact(h, ndim, dims, err));
            return dims.asSlice(0, 8L * ndim.get(JAVA_INT, 0)).toArray(JAVA_LONG);
        }
    }

    public static NativeObject tensorCreate(float[] values, long[] shape) {
        NativeLib.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocateFrom(JAVA_FLOAT, values);
            MemorySegment dims = arena.allocateFrom(JAVA_LONG, shape.length == 0 ? new long[1] : shape);
            MemorySegment out = arena.allocate(ADDRESS);
            int nd = shape.length;
            NativeLib.call("tensor create",
                    err -> (int) NativeLib.H.TENSOR_CREATE.invokeExact(data, nd, dims, out, err));
            return tensor(out);
        }
    }

    public static float[] tensorRead(NativeObject t, long numel) {
        MemorySegment h = t.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(JAVA_FLOAT, Math.max(1, numel));
            NativeLib.call("tensor read", err -> (int) NativeLib.H.TENSOR_READ.invokeExact(h, dst, numel, err));
            return dst.asSlice(0, 4 * numel).toArray(JAVA_FLOAT);
        }
    }

    private static NativeObject tensor(MemorySegment out) {
        return new NativeObject("latents", NativeObject.Kind.TENSOR, out.get(ADDRESS, 0));
    }

    // ---- the slice autoencoder -------------------------------------------------------------------------------

    public static NativeObject autoencoderCreate(Specs.Vq config) {
        NativeLib.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = Structs.vq(arena, config);
            MemorySegment out = arena.allocate(ADDRESS);
            NativeLib.call("building the VQ-GAN", err -> (int) NativeLib.H.AE_CREATE.invokeExact(c, out, err));
            return new NativeObject("autoencoder", NativeObject.Kind.AUTOENCODER, out.get(ADDRESS, 0));
        }
    }

    public static void autoencoderTo(NativeObject ae, NativeObject ctx, String device) {
        MemorySegment a = ae.handle();
        MemorySegment c = ctx.handle();
        NativeLib.call("moving the VQ-GAN to " + device, err -> (int) NativeLib.H.AE_TO.invokeExact(a, c, err));
    }

    /** Quantized latents of every slice of {@code volume}, as a new tensor. */
    public static NativeObject encode(NativeObject ctx, NativeObject ae, Specs.Wrapper wrapper, Volume volume,
            long batch) {
        MemorySegment c = ctx.handle();
        MemorySegment a = ae.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = Structs.volume(arena, volume);
            MemorySegment w = Structs.wrapper(arena, wrapper);
            MemorySegment out = arena.allocate(ADDRESS);
            NativeLib.call("encoding " + volume.geometry(),
                    err -> (int) NativeLib.H.AE_ENCODE_VOLUME.invokeExact(c, a, w, in, batch, out, err));
            return tensor(out);
        }
    }

    /** Decodes latents into {@code out}. */
    public static void decode(NativeObject ctx, NativeObject ae, Specs.Wrapper wrapper, NativeObject latents,
            long batch, Volume out) {
        MemorySegment c = ctx.handle();
        MemorySegment a = ae.handle();
        MemorySegment z = latents.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment desc = Structs.volume(arena, out);
            MemorySegment w = Structs.wrapper(arena, wrapper);
            NativeLib.call("decoding onto " + out.geometry(),
                    err -> (int) NativeLib.H.AE_DECODE_VOLUME.invokeExact(c, a, w, z, batch, desc, err));
        }
    }

    /** A raw VQModel operation ({@code op}: the kernel's code) on a [n, c, h, w] batch, as a new tensor. */
    public static NativeObject autoencoderRun(NativeObject ctx, NativeObject ae, int op, float[] input, long n, long ch,
            long h, long w) {
        MemorySegment c = ctx.handle();
        MemorySegment a = ae.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocateFrom(JAVA_FLOAT, input);
            MemorySegment shape = arena.allocateFrom(JAVA_LONG, n, ch, h, w);
            MemorySegment out = arena.allocate(ADDRESS);
            NativeLib.call("VQ-GAN op " + op,
                    err -> (int) NativeLib.H.AE_RUN.invokeExact(c, a, op, in, shape, out, err));
            return tensor(out);
        }
    }

    // ---- classifiers -----------------------------------------------------------------------------------------

    /** Loads a TorchScript file; {@code layout} is a ctcf_layout value. */
    public static NativeObject classifierLoad(String path, int layout, long maxBatch) {
        NativeLib.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocateFrom(path, StandardCharsets.UTF_8);
            MemorySegment out = arena.allocate(ADDRESS);
            NativeLib.call("loading " + path,
                    err -> (int) NativeLib.H.CLF_LOAD.invokeExact(p, layout, maxBatch, out, err));
            return classifier(out);
        }
    }

    /** A TorchScript classifier from source with named submodules (names in iteration order). */
    public static NativeObject classifierDefine(String source, Map<String, String> submodules, int layout,
            long maxBatch) {
        NativeLib.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocateFrom(source, StandardCharsets.UTF_8);
            int n = submodules.size();
            MemorySegment names = arena.allocate(ADDRESS, Math.max(1, n));
            MemorySegment sources = arena.allocate(ADDRESS, Math.max(1, n));
            int i = 0;
            for (var e : submodules.entrySet()) {
                names.setAtIndex(ADDRESS, i, arena.allocateFrom(e.getKey(), StandardCharsets.UTF_8));
                sources.setAtIndex(ADDRESS, i, arena.allocateFrom(e.getValue(), StandardCharsets.UTF_8));
                i++;
            }
            MemorySegment out = arena.allocate(ADDRESS);
            NativeLib.call("defining a TorchScript classifier", err -> (int) NativeLib.H.CLF_DEFINE_NESTED
                    .invokeExact(src, names, sources, n, layout, maxBatch, out, err));
            return classifier(out);
        }
    }

    public static NativeObject classifierBuiltin(String architecture, long classes, int layout, long maxBatch) {
        NativeLib.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocateFrom(architecture, StandardCharsets.UTF_8);
            MemorySegment out = arena.allocate(ADDRESS);
            NativeLib.call("building " + architecture,
                    err -> (int) NativeLib.H.CLF_BUILTIN.invokeExact(a, classes, layout, maxBatch, out, err));
            return classifier(out);
        }
    }

    private static NativeObject classifier(MemorySegment out) {
        return new NativeObject("classifier", NativeObject.Kind.CLASSIFIER, out.get(ADDRESS, 0));
    }

    public static void classifierTo(NativeObject clf, NativeObject ctx, String device) {
        MemorySegment h = clf.handle();
        MemorySegment c = ctx.handle();
        NativeLib.call("moving the classifier to " + device, err -> (int) NativeLib.H.CLF_TO.invokeExact(h, c, err));
    }

    public static void setInputSize(NativeObject clf, long nx, long ny) {
        MemorySegment h = clf.handle();
        NativeLib.call("setting the input size",
                err -> (int) NativeLib.H.CLF_SET_INPUT_SIZE.invokeExact(h, nx, ny, err));
    }

    public static void setOrientation(NativeObject clf, Specs.Orientation orientation) {
        MemorySegment h = clf.handle();
        int o = orientation.code;
        NativeLib.call("setting the orientation", err -> (int) NativeLib.H.CLF_SET_ORIENTATION.invokeExact(h, o, err));
    }

    /** The slices [a, b) fast mode scores when slices [s, e) of a depth-{@code depth} volume change. */
    public static long[] scoreSpan(NativeObject clf, Specs.Score score, long s, long e, long depth) {
        MemorySegment h = clf.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment spec = Structs.score(arena, score);
            MemorySegment a = arena.allocate(JAVA_LONG);
            MemorySegment b = arena.allocate(JAVA_LONG);
            NativeLib.call("score span",
                    err -> (int) NativeLib.H.CLF_SCORE_SPAN.invokeExact(h, spec, s, e, depth, a, b, err));
            return new long[] {a.get(JAVA_LONG, 0), b.get(JAVA_LONG, 0)};
        }
    }

    public static void classifierSave(NativeObject clf, String path) {
        MemorySegment h = clf.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocateFrom(path, StandardCharsets.UTF_8);
            NativeLib.call("saving " + path, err -> (int) NativeLib.H.CLF_SAVE.invokeExact(h, p, err));
        }
    }

    /** Per-voxel argmax over a segmentation classifier's classes, into {@code labels}. */
    public static void argmax(NativeObject ctx, NativeObject clf, Volume volume, Volume labels, String what) {
        MemorySegment c = ctx.handle();
        MemorySegment h = clf.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = Structs.volume(arena, volume);
            MemorySegment out = Structs.volume(arena, labels);
            NativeLib.call(what, err -> (int) NativeLib.H.CLF_ARGMAX.invokeExact(c, h, in, out, err));
        }
    }

    /** The model's raw outputs for one volume (two calls: the shape, then the values). */
    public static Outputs outputs(NativeObject ctx, NativeObject clf, Volume volume) {
        MemorySegment c = ctx.handle();
        MemorySegment h = clf.handle();
        String what = "classifying " + volume.geometry();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = Structs.volume(arena, volume);
            MemorySegment ndim = arena.allocate(JAVA_INT);
            MemorySegment shape = arena.allocate(JAVA_LONG, NativeLib.MAX_DIMS);
            NativeLib.call(what, err -> (int) NativeLib.H.CLF_OUTPUTS.invokeExact(c, h, in, MemorySegment.NULL, 0L,
                    ndim, shape, err));
            long[] s = shape.asSlice(0, 8L * ndim.get(JAVA_INT, 0)).toArray(JAVA_LONG);
            long n = 1;
            for (long d : s) {
                n *= d;
            }
            if (n > Integer.MAX_VALUE) {
                throw new IllegalStateException("classifier output too large to copy: " + n);
            }
            long count = n;
            MemorySegment out = arena.allocate(JAVA_FLOAT, Math.max(1, count));
            NativeLib.call(what, err -> (int) NativeLib.H.CLF_OUTPUTS.invokeExact(c, h, in, out, count, ndim, shape,
                    err));
            return new Outputs(s, out.asSlice(0, 4 * count).toArray(JAVA_FLOAT));
        }
    }

    /** The explained score of one volume. */
    public static double score(NativeObject ctx, NativeObject clf, Specs.Score score, Volume volume) {
        MemorySegment c = ctx.handle();
        MemorySegment h = clf.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = Structs.volume(arena, volume);
            MemorySegment spec = Structs.score(arena, score);
            MemorySegment v = arena.allocate(JAVA_DOUBLE);
            NativeLib.call("scoring " + volume.geometry(),
                    err -> (int) NativeLib.H.CLF_SCORE.invokeExact(c, h, spec, in, v, err));
            return v.get(JAVA_DOUBLE, 0);
        }
    }

    // ---- LPIPS -----------------------------------------------------------------------------------------------

    public static NativeObject perceptualCreate(NativeObject ctx) {
        MemorySegment c = ctx.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            NativeLib.call("creating the LPIPS network",
                    err -> (int) NativeLib.H.PERCEPTUAL_CREATE.invokeExact(c, out, err));
            return new NativeObject("perceptual model", NativeObject.Kind.PERCEPTUAL, out.get(ADDRESS, 0));
        }
    }

    /** LPIPS distances between n image pairs [n, channels, ny, nx]. */
    public static double[] perceptualDistance(NativeObject ctx, NativeObject p, float[] a, float[] b, long n,
            long channels, long ny, long nx) {
        MemorySegment c = ctx.handle();
        MemorySegment h = p.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment as = arena.allocateFrom(JAVA_FLOAT, a);
            MemorySegment bs = arena.allocateFrom(JAVA_FLOAT, b);
            MemorySegment out = arena.allocate(JAVA_DOUBLE, n);
            NativeLib.call("LPIPS distance", err -> (int) NativeLib.H.PERCEPTUAL_DISTANCE.invokeExact(c, h, as, bs, n,
                    channels, ny, nx, out, err));
            return out.toArray(JAVA_DOUBLE);
        }
    }
}
