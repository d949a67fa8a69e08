package org.ctcf.io.checkpoint;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.io.AtomicFiles;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * safetensors: an 8-byte little-endian header length, a JSON header (name → dtype, shape, data_offsets), then the
 * tensor bytes. Read with the reference reader's checks (header size, offsets tiling the buffer exactly,
 * checked sizes); written with tensors sorted by alignment then name and the header padded to 8 bytes.
 */
public final class SafeTensors {
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    private static final long MAX_HEADER = 100_000_000L;

    private SafeTensors() {
    }

    static Checkpoint read(Path file, MemorySegment seg, Arena arena) throws ModelFormatException {
        long size = seg.byteSize();
        if (size < 8) {
            throw new ModelFormatException(file, "truncated safetensors file");
        }
        long n = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (n < 2 || n > MAX_HEADER || n > size - 8) {
            throw new ModelFormatException(file, "safetensors header length " + n + " is invalid for a " + size
                    + "-byte file");
        }
        JsonNode header;
        try {
            header = JSON.readTree(seg.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE));
        } catch (IOException e) {
            throw new ModelFormatException(file, "safetensors header is not valid JSON: " + e.getMessage(), e);
        }
        if (header == null || !header.isObject()) {
            throw new ModelFormatException(file, "safetensors header is not a JSON object");
        }
        long base = 8 + n;
        long buffer = size - base;
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        record Span(String name, long begin, long end) {
        }
        List<Span> spans = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) {
                    throw new ModelFormatException(file, "__metadata__ must be a string map");
                }
                v.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            JsonNode dt = v.get("dtype");
            JsonNode shape = v.get("shape");
            JsonNode offs = v.get("data_offsets");
            if (dt == null || shape == null || offs == null || !shape.isArray() || !offs.isArray() || offs.size() != 2) {
                throw new ModelFormatException(file, "tensor " + name + ": needs dtype, shape and data_offsets");
            }
            DType dtype = DType.fromSafetensors(dt.asText());
            if (dtype == null) {
                throw new ModelFormatException(file, "tensor " + name + ": unsupported dtype " + dt.asText());
            }
            long[] dims = new long[shape.size()];
            long numel = 1;
            try {
                for (int i = 0; i < dims.length; i++) {
                    if (!shape.get(i).canConvertToLong() || shape.get(i).asLong() < 0) {
                        throw new ModelFormatException(file, "tensor " + name + ": bad shape " + shape);
                    }
                    dims[i] = shape.get(i).asLong();
                    numel = Math.multiplyExact(numel, dims[i]);
                }
                long begin = offs.get(0).asLong(-1);
                long end = offs.get(1).asLong(-1);
                long bytes = Math.multiplyExact(numel, dtype.size());
                if (begin < 0 || end < begin || end - begin != bytes) {
                    throw new ModelFormatException(file, "tensor " + name + ": data_offsets " + offs + " do not hold "
                            + Math.multiplyExact(numel, dtype.size()) + " bytes of shape " + shape);
                }
                if (end > buffer) {
                    throw new ModelFormatException(file, "tensor " + name + ": data_offsets " + offs
                            + " reach past the end of the file (buffer of " + buffer + " bytes)");
                }
                spans.add(new Span(name, begin, end));
                tensors.put(name, new TensorData(name, dtype, dims, TensorData.contiguousStrides(dims), 0,
                        seg.asSlice(base + begin, bytes), numel));
            } catch (ArithmeticException ex) {
                throw new ModelFormatException(file, "tensor " + name + ": size overflows");
            }
        }
        spans.sort(Comparator.comparingLong(Span::begin));
        long expect = 0;
        for (Span s : spans) {
            if (s.begin() != expect) {
                throw new ModelFormatException(file, "tensor " + s.name() + " starts at " + s.begin() + " but the"
                        + " previous one ends at " + expect + " (tensors must tile the buffer)");
            }
            expect = s.end();
        }
        if (expect != buffer) {
            throw new ModelFormatException(file, "the tensors cover " + expect + " bytes but the buffer has " + buffer);
        }
        return Checkpoint.of(file, Checkpoint.Format.SAFETENSORS, arena, tensors, metadata);
    }

    /** A tensor to write: float32 values from a source that fills {@code count} floats. */
    public record FloatTensor(String name, long[] shape, float[] values) {
    }

    /** Writes float32 tensors (sorted by name) with optional metadata, atomically (temp file, then rename). */
    public static void writeF32(Path file, List<FloatTensor> tensors, Map<String, String> metadata) throws IOException {
        List<FloatTensor> sorted = new ArrayList<>(tensors);
        sorted.sort(Comparator.comparing(FloatTensor::name));
        ObjectNode header = JSON.createObjectNode();
        long offset = 0;
        for (FloatTensor t : sorted) {
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", "F32");
            var shape = e.putArray("shape");
            long numel = 1;
            for (long s : t.shape()) {
                shape.add(s);
                numel *= s;
            }
            if (numel != t.values().length) {
                throw new IllegalArgumentException(t.name() + ": shape does not match " + t.values().length + " values");
            }
            var offs = e.putArray("data_offsets");
            offs.add(offset);
            offs.add(offset + 4 * numel);
            offset += 4 * numel;
        }
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        byte[] h = JSON.writeValueAsBytes(header);
        int padded = (h.length + 7) / 8 * 8;
        byte[] hp = new byte[padded];
        java.util.Arrays.fill(hp, (byte) ' ');
        System.arraycopy(h, 0, hp, 0, h.length);
        AtomicFiles.write(file, out -> {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
            out.write(hp);
            ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (FloatTensor t : sorted) {
                for (float v : t.values()) {
                    if (buf.remaining() < 4) {
                        out.write(buf.array(), 0, buf.position());
                        buf.clear();
                    }
                    buf.putFloat(v);
                }
            }
            out.write(buf.array(), 0, buf.position());
        });
    }

    static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
