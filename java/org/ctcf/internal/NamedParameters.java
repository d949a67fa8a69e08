package org.ctcf.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.io.checkpoint.ModelFormatException;
import org.ctcf.io.checkpoint.SafeTensors;
import org.ctcf.io.checkpoint.TensorData;

/**
 * The named tensors of a kernel object by state_dict name (a model's parameters and buffers, a trainer's optimiser
 * state): listing, loading checkpoint tensors with one report of missing / unexpected / mismatched keys, reading
 * values back. It marshals the ABI's one named-tensor view ({@code ctcf_params_*}); {@link Owner} says which
 * object's view to ask for. The view is borrowed from its object: use an instance only while the caller holds a
 * lease on that object (it is created per use and never outlives the call that made it).
 */
public final class NamedParameters {
    /** The kinds of kernel object that have named tensors, each with the entry point that returns its view. */
    public enum Owner {
        AUTOENCODER("autoencoder parameters"),
        CLASSIFIER("classifier parameters"),
        PERCEPTUAL("perceptual model parameters"),
        TRAINER_STATE("trainer state");

        private final String what;

        Owner(String what) {
            this.what = what;
        }

        private MemorySegment view(MemorySegment object) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(ADDRESS);
                MethodHandle getter = switch (this) {
                    case AUTOENCODER -> NativeLib.H.AE_PARAMS;
                    case CLASSIFIER -> NativeLib.H.CLF_PARAMS;
                    case PERCEPTUAL -> NativeLib.H.PERCEPTUAL_PARAMS;
                    case TRAINER_STATE -> NativeLib.H.TRAINER_STATE;
                };
                NativeLib.call(what, err -> (int) getter.invokeExact(object, out, err));
                return out.get(ADDRESS, 0);
            }
        }
    }

    /** One parameter or buffer: name and shape (parameters first, then buffers). */
    public record Parameter(String name, long[] shape) {
        public long numel() {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            return n;
        }
    }

    private final MemorySegment view;

    private NamedParameters(MemorySegment view) {
        this.view = view;
    }

    /** The named tensors of {@code object} (of the given kind, leased by the caller). */
    public static NamedParameters of(Owner owner, NativeObject object) {
        return new NamedParameters(owner.view(object.handle()));
    }

    public List<Parameter> list() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(JAVA_LONG);
            NativeLib.call("parameter count", err -> (int) NativeLib.H.PARAMS_COUNT.invokeExact(view, n, err));
            List<Parameter> out = new ArrayList<>();
            MemorySegment name = arena.allocate(512);
            MemorySegment ndim = arena.allocate(JAVA_INT);
            MemorySegment shape = arena.allocate(JAVA_LONG, NativeLib.MAX_DIMS);
            for (long i = 0; i < n.get(JAVA_LONG, 0); i++) {
                long idx = i;
                NativeLib.call("parameter info", err -> (int) NativeLib.H.PARAMS_INFO.invokeExact(view, idx, name, 512L, ndim,
                        shape, err));
                long[] s = new long[ndim.get(JAVA_INT, 0)];
                for (int d = 0; d < s.length; d++) {
                    s[d] = shape.getAtIndex(JAVA_LONG, d);
                }
                out.add(new Parameter(name.getString(0, StandardCharsets.UTF_8), s));
            }
            return out;
        }
    }

    /**
     * Copies {@code tensors} into the model. Keys in {@code optional} suffixes (e.g. BatchNorm's
     * {@code num_batches_tracked}) may be missing. Every problem is reported in one exception naming the file.
     */
    public void load(Path file, Map<String, TensorData> tensors, String modelDescription, List<String> optionalSuffixes)
            throws ModelFormatException {
        load(file, tensors, modelDescription, optionalSuffixes, name -> true);
    }

    /** As above for the parameters whose names {@code scope} accepts (a file holding part of a model). */
    public void load(Path file, Map<String, TensorData> tensors, String modelDescription, List<String> optionalSuffixes,
            java.util.function.Predicate<String> scope) throws ModelFormatException {
        List<Parameter> params = list().stream().filter(p -> scope.test(p.name())).toList();
        List<String> missing = new ArrayList<>();
        List<String> mismatched = new ArrayList<>();
        Map<String, Parameter> byName = new LinkedHashMap<>();
        for (Parameter p : params) {
            byName.put(p.name(), p);
            TensorData t = tensors.get(p.name());
            if (t == null) {
                if (optionalSuffixes.stream().noneMatch(p.name()::endsWith)) {
                    missing.add(p.name());
                }
            } else if (!Arrays.equals(t.shape(), p.shape())) {
                mismatched.add(p.name() + ": checkpoint " + t.shapeString() + " vs model " + Arrays.toString(p.shape()));
            }
        }
        List<String> unexpected = new ArrayList<>();
        for (String k : tensors.keySet()) {
            if (!byName.containsKey(k)) {
                unexpected.add(k);
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !mismatched.isEmpty()) {
            StringBuilder sb = new StringBuilder("the checkpoint does not fit ").append(modelDescription).append(':');
            appendList(sb, "missing keys", missing);
            appendList(sb, "unexpected keys", unexpected);
            appendList(sb, "shape mismatches", mismatched);
            throw new ModelFormatException(file, sb.toString());
        }
        try (Arena arena = Arena.ofConfined()) {
            for (Parameter p : params) {
                TensorData t = tensors.get(p.name());
                if (t == null) {
                    continue; // an optional key
                }
                MemorySegment name = arena.allocateFrom(p.name(), StandardCharsets.UTF_8);
                MemorySegment data = t.storage().asSlice(t.offset() * t.dtype().size());
                MemorySegment shape = arena.allocateFrom(JAVA_LONG, t.shape().length == 0 ? new long[1] : t.shape());
                MemorySegment strides = arena.allocateFrom(JAVA_LONG,
                        t.strides().length == 0 ? new long[1] : t.strides());
                int nd = t.shape().length;
                int dtype = t.dtype().code();
                NativeLib.call("loading " + p.name() + " from " + file, err -> (int) NativeLib.H.PARAMS_SET.invokeExact(view, name,
                        dtype, data, nd, shape, strides, err));
            }
        }
    }

    private static void appendList(StringBuilder sb, String what, List<String> items) {
        if (items.isEmpty()) {
            return;
        }
        sb.append("\n  ").append(what).append(" (").append(items.size()).append("): ");
        sb.append(String.join(", ", items.subList(0, Math.min(12, items.size()))));
        if (items.size() > 12) {
            sb.append(", …");
        }
    }

    public float[] read(Parameter p) {
        long n = p.numel();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment nm = arena.allocateFrom(p.name(), StandardCharsets.UTF_8);
            MemorySegment dst = arena.allocate(JAVA_FLOAT, Math.max(1, n));
            NativeLib.call("reading " + p.name(), err -> (int) NativeLib.H.PARAMS_GET.invokeExact(view, nm, dst, n, err));
            return dst.asSlice(0, 4 * n).toArray(JAVA_FLOAT);
        }
    }

    public float[] read(String name) {
        return read(list().stream().filter(q -> q.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no parameter " + name)));
    }

    /** Every parameter and buffer as float32 tensors (for saving). */
    public List<SafeTensors.FloatTensor> snapshot(String prefix) {
        List<SafeTensors.FloatTensor> out = new ArrayList<>();
        for (Parameter p : list()) {
            out.add(new SafeTensors.FloatTensor(prefix + p.name(), p.shape(), read(p)));
        }
        return out;
    }
}
