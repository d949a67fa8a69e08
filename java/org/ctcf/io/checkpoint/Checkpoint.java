package org.ctcf.io.checkpoint;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.io.checkpoint.Pickle.StorageRef;
import org.ctcf.io.checkpoint.Pickle.TensorRef;

/**
 * A weights file opened for reading: PyTorch zip checkpoints ({@code torch.save} ≥ 1.6, Lightning {@code .ckpt}),
 * the legacy pre-1.6 format, and safetensors. The file is memory-mapped once; every {@link TensorData} is a view
 * into it, so tensors are copied only when the kernel copies them into a model. Close it when done.
 *
 * <p>Which tensors: a Lightning checkpoint's {@code state_dict} entry, else the top-level object if it maps names
 * to tensors. Nothing in the file is ever executed (see {@link Pickle}).
 */
public final class Checkpoint implements AutoCloseable {
    /** The container formats ctcf reads. */
    public enum Format {
        TORCH_ZIP, TORCH_LEGACY, SAFETENSORS
    }

    private final Path file;
    private final Format format;
    private final Arena arena;
    private final Map<String, TensorData> tensors;
    private final Object root;

    private Checkpoint(Path file, Format format, Arena arena, Map<String, TensorData> tensors, Object root) {
        this.file = file;
        this.format = format;
        this.arena = arena;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.root = root;
    }

    public Path file() {
        return file;
    }

    public Format format() {
        return format;
    }

    /** The state dict's tensors in file order, by key. */
    public Map<String, TensorData> tensors() {
        return tensors;
    }

    /** The whole unpickled object (placeholders for unknown classes); the safetensors metadata map for safetensors. */
    public Object root() {
        return root;
    }

    @Override
    public void close() {
        arena.close();
    }

    private static final byte[] LEGACY_MAGIC = {(byte) 0x80, 0x02, (byte) 0x8a, 0x0a, 0x6c, (byte) 0xfc, (byte) 0x9c,
        0x46, (byte) 0xf9, 0x20, 0x6a, (byte) 0xa8, 0x50, 0x19};

    /** Opens a weights file, telling the format from its first bytes. */
    public static Checkpoint open(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new java.nio.file.NoSuchFileException(file.toString(), null, "no such weights file");
        }
        Arena arena = Arena.ofShared();
        boolean ok = false;
        try {
            MemorySegment seg;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                seg = ch.size() == 0 ? MemorySegment.NULL.reinterpret(0)
                        : ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            }
            Checkpoint c;
            if (seg.byteSize() >= 4 && seg.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 0)
                    == 0x504b0304) {
                c = readZip(file, seg, arena);
            } else if (startsWith(seg, LEGACY_MAGIC)) {
                c = readLegacy(file, seg, arena);
            } else if (seg.byteSize() >= 9 && seg.get(ValueLayout.JAVA_BYTE, 8) == '{') {
                c = SafeTensors.read(file, seg, arena);
            } else {
                throw new ModelFormatException(file, "not a PyTorch checkpoint (zip or legacy) or safetensors file");
            }
            ok = true;
            return c;
        } finally {
            if (!ok) {
                arena.close();
            }
        }
    }

    static Checkpoint of(Path file, Format format, Arena arena, Map<String, TensorData> tensors, Object root) {
        return new Checkpoint(file, format, arena, tensors, root);
    }

    private static boolean startsWith(MemorySegment seg, byte[] prefix) {
        if (seg.byteSize() < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (seg.get(ValueLayout.JAVA_BYTE, i) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    // ---- zip ---------------------------------------------------------------------------------------------------

    private static Checkpoint readZip(Path file, MemorySegment seg, Arena arena) throws IOException {
        ZipIndex zip = ZipIndex.read(file, seg);
        String prefix = zip.prefix();
        if (zip.has(prefix + "constants.pkl") || zip.has(prefix + "code/")) {
            throw new ModelFormatException(file, "this is a TorchScript archive, not a checkpoint of weights");
        }
        if (!zip.has(prefix + "data.pkl")) {
            throw new ModelFormatException(file, "zip archive without " + prefix + "data.pkl (not a torch.save file)");
        }
        ByteOrder order = ByteOrder.LITTLE_ENDIAN;
        if (zip.has(prefix + "byteorder")) {
            String bo = new String(zip.data(prefix + "byteorder").toArray(ValueLayout.JAVA_BYTE),
                    StandardCharsets.US_ASCII).trim();
            if (bo.equals("big")) {
                order = ByteOrder.BIG_ENDIAN;
            } else if (!bo.equals("little")) {
                throw new ModelFormatException(file, "unknown byteorder record '" + bo + "'");
            }
        }
        Map<String, MemorySegment> storages = new HashMap<>();
        MemorySegment pkl = zip.data(prefix + "data.pkl");
        Pickle.Result r = Pickle.load(file, pkl, 0, pkl.byteSize(), pid -> {
            StorageRef s = storageRef(file, pid, false);
            if (!storages.containsKey(s.key())) {
                String name = prefix + "data/" + s.key();
                if (!zip.has(name)) {
                    throw new ModelFormatException(file, "storage record " + name + " is missing");
                }
                storages.put(s.key(), zip.data(name));
            }
            return s;
        });
        ByteOrder bo = order;
        return new Checkpoint(file, Format.TORCH_ZIP, arena,
                collect(file, r.value(), key -> storages.get(key), bo, arena), r.value());
    }

    // ---- legacy ------------------------------------------------------------------------------------------------

    private static Checkpoint readLegacy(Path file, MemorySegment seg, Arena arena) throws IOException {
        long size = seg.byteSize();
        Pickle.PersistentLoader none = pid -> {
            throw new ModelFormatException(file, "unexpected persistent id in a legacy header pickle");
        };
        Pickle.Result magic = Pickle.load(file, seg, 0, size, none);
        Pickle.Result proto = Pickle.load(file, seg, magic.end(), size, none);
        if (!(proto.value() instanceof Long p) || p != 1001L) {
            throw new ModelFormatException(file, "legacy checkpoint with protocol version " + (proto.value()
                    instanceof Long || proto.value() instanceof String ? proto.value() : "a "
                            + (proto.value() == null ? "None" : proto.value().getClass().getSimpleName()))
                    + " (expected 1001)");
        }
        Pickle.Result sysInfo = Pickle.load(file, seg, proto.end(), size, none);
        if (!(sysInfo.value() instanceof Map<?, ?>)) {
            throw new ModelFormatException(file, "legacy checkpoint without its sys_info record");
        }
        Map<String, StorageRef> refs = new LinkedHashMap<>();
        Pickle.Result main = Pickle.load(file, seg, sysInfo.end(), size, pid -> {
            if (pid instanceof Pickle.Tuple t && t.size() > 0 && "module".equals(t.get(0))) {
                return new Pickle.Placeholder(new Pickle.Global("torch.nn", "Module"), List.of());
            }
            StorageRef s = storageRef(file, pid, true);
            StorageRef prev = refs.putIfAbsent(s.key(), s);
            if (prev != null && prev.numel() != s.numel()) {
                throw new ModelFormatException(file, "storage " + s.key() + " declared with " + prev.numel() + " and "
                        + s.numel() + " elements");
            }
            return s;
        });
        Pickle.Result keys = Pickle.load(file, seg, main.end(), size, none);
        if (!(keys.value() instanceof List<?> keyList)) {
            throw new ModelFormatException(file, "legacy checkpoint without a storage key list");
        }
        Map<String, MemorySegment> storages = new HashMap<>();
        long pos = keys.end();
        for (Object k : keyList) {
            String key = String.valueOf(k);
            if (pos + 8 > size) {
                throw new ModelFormatException(file, "truncated: storage " + key + " record header past the end");
            }
            long count = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), pos);
            pos += 8;
            StorageRef ref = refs.get(key);
            if (ref == null) {
                throw new ModelFormatException(file, "storage " + key + " is stored but never referenced");
            }
            if (count != ref.numel()) {
                throw new ModelFormatException(file, "storage " + key + " holds " + count + " elements but is declared"
                        + " with " + ref.numel());
            }
            long bytes;
            try {
                bytes = Math.multiplyExact(count, ref.dtype().size());
            } catch (ArithmeticException e) {
                throw new ModelFormatException(file, "storage " + key + " size overflows");
            }
            if (count < 0 || bytes > size - pos) {
                throw new ModelFormatException(file, "truncated: storage " + key + " needs " + bytes
                        + " bytes at offset " + pos + " but the file ends at " + size);
            }
            storages.put(key, seg.asSlice(pos, bytes));
            pos += bytes;
        }
        for (String key : refs.keySet()) {
            if (!storages.containsKey(key)) {
                throw new ModelFormatException(file, "storage " + key + " is referenced but its data are missing");
            }
        }
        // The legacy writer converts storages to little-endian on big-endian hosts, so sys_info's byte order
        // describes the writer only.
        return new Checkpoint(file, Format.TORCH_LEGACY, arena,
                collect(file, main.value(), storages::get, ByteOrder.LITTLE_ENDIAN, arena), main.value());
    }

    /** ('storage', type, key, location, numel[, view_metadata]) -> StorageRef. */
    private static StorageRef storageRef(Path file, Object pid, boolean legacy) throws ModelFormatException {
        if (!(pid instanceof Pickle.Tuple t) || t.size() < 5 || !"storage".equals(t.get(0))) {
            throw new ModelFormatException(file, "unexpected persistent id " + pid);
        }
        if (!(t.get(1) instanceof Pickle.Global type)) {
            throw new ModelFormatException(file, "storage type is not a torch class: " + t.get(1));
        }
        boolean untyped = type.name().equals("UntypedStorage");
        DType dtype = untyped ? DType.U8 : DType.fromStorageClass(type.name());
        if (dtype == null || !type.module().equals("torch")) {
            throw new ModelFormatException(file, "unsupported storage type " + type.dotted());
        }
        String key = String.valueOf(t.get(2));
        if (!(t.get(4) instanceof Long numel) || numel < 0) {
            throw new ModelFormatException(file, "storage " + key + " has a bad element count " + t.get(4));
        }
        long viewOffset = 0;
        long viewSize = -1;
        if (legacy && t.size() > 5 && t.get(5) instanceof Pickle.Tuple view && view.size() == 3
                && view.get(1) instanceof Long off && view.get(2) instanceof Long vs) {
            viewOffset = off;
            viewSize = vs;
        }
        return new StorageRef(dtype, key, numel, untyped, viewOffset, viewSize);
    }

    /** The tensors of a state dict (Lightning's under "state_dict"), as views of their storages. */
    private static Map<String, TensorData> collect(Path file, Object root,
            java.util.function.Function<String, MemorySegment> storage, ByteOrder order, Arena arena)
            throws ModelFormatException {
        Object sd = root;
        if (root instanceof Map<?, ?> m && m.get("state_dict") instanceof Map<?, ?> inner) {
            sd = inner;
        }
        if (!(sd instanceof Map<?, ?> map)) {
            throw new ModelFormatException(file, "the checkpoint holds a " + (root == null ? "None"
                    : root.getClass().getSimpleName()) + ", not a state_dict");
        }
        Map<String, TensorData> out = new LinkedHashMap<>();
        List<String> nonTensor = new ArrayList<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getKey() instanceof String key)) {
                continue;
            }
            if (!(e.getValue() instanceof TensorRef t)) {
                nonTensor.add(key);
                continue;
            }
            MemorySegment seg = storage.apply(t.storage().key());
            if (seg == null) {
                throw new ModelFormatException(file, "tensor " + key + ": storage " + t.storage().key() + " missing");
            }
            DType dtype = t.dtype();
            long elements;
            if (t.storage().untyped()) {
                elements = seg.byteSize() / dtype.size();
            } else {
                long bytes = t.storage().numel() * dtype.size();
                if (seg.byteSize() < bytes) {
                    throw new ModelFormatException(file, "tensor " + key + ": storage " + t.storage().key() + " has "
                            + seg.byteSize() + " bytes, " + bytes + " declared");
                }
                elements = t.storage().numel();
            }
            long offset = t.offset();
            if (t.storage().viewSize() >= 0) { // very old legacy views into a root storage
                offset += t.storage().viewOffset();
            }
            if (order == ByteOrder.BIG_ENDIAN && dtype.size() > 1) {
                seg = swapped(seg, dtype.size(), arena);
            }
            TensorData td = new TensorData(key, dtype, t.size(), t.stride(), offset, seg, elements);
            if (!td.inBounds()) {
                throw new ModelFormatException(file, "tensor " + key + " (shape " + td.shapeString() + ", offset "
                        + offset + ") reaches past the end of its storage of " + elements + " elements");
            }
            out.put(key, td);
        }
        if (out.isEmpty()) {
            throw new ModelFormatException(file, "no tensors found in the state_dict" + (nonTensor.isEmpty() ? ""
                    : " (entries: " + nonTensor.subList(0, Math.min(5, nonTensor.size())) + ")"));
        }
        return out;
    }

    private static MemorySegment swapped(MemorySegment src, int size, Arena arena) {
        MemorySegment dst = arena.allocate(src.byteSize());
        long n = src.byteSize() / size;
        for (long i = 0; i < n; i++) {
            for (int b = 0; b < size; b++) {
                dst.set(ValueLayout.JAVA_BYTE, i * size + b, src.get(ValueLayout.JAVA_BYTE, i * size + size - 1 - b));
            }
        }
        return dst;
    }
}
