package org.ctcf.io.checkpoint;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import org.ctcf.io.AtomicFiles;

/**
 * Writes a float32 state_dict in PyTorch's zip format (what {@code torch.save(model.state_dict(), f)} writes):
 * {@code <name>/data.pkl} (an OrderedDict of {@code _rebuild_tensor_v2} calls, pickle protocol 2),
 * {@code <name>/data/<i>} (one stored record per tensor) and {@code <name>/version}. Readable by
 * {@code torch.load} and by {@link Checkpoint}.
 */
public final class TorchZipWriter {
    private TorchZipWriter() {
    }

    public static void write(Path file, List<SafeTensors.FloatTensor> tensors) throws IOException {
        String base = file.getFileName().toString();
        int dot = base.indexOf('.');
        String prefix = (dot > 0 ? base.substring(0, dot) : base) + "/";
        AtomicFiles.write(file, raw -> {
            try (ZipOutputStream zip = new ZipOutputStream(raw)) {
                stored(zip, prefix + "data.pkl", pickle(tensors));
                for (int i = 0; i < tensors.size(); i++) {
                    float[] v = tensors.get(i).values();
                    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                    b.asFloatBuffer().put(v);
                    stored(zip, prefix + "data/" + i, b.array());
                }
                stored(zip, prefix + "version", "3\n".getBytes(StandardCharsets.US_ASCII));
            }
        });
    }

    private static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        e.setCompressedSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }

    /** The pickle of an OrderedDict name -> _rebuild_tensor_v2(storage i, 0, shape, strides, False, OrderedDict()). */
    static byte[] pickle(List<SafeTensors.FloatTensor> tensors) throws IOException {
        Out o = new Out();
        o.op(0x80).op(2); // PROTO 2
        o.global("collections", "OrderedDict").op(')').op('R');
        for (int start = 0; start < tensors.size(); start += 1000) {
            o.op('(');
            for (int i = start; i < Math.min(tensors.size(), start + 1000); i++) {
                SafeTensors.FloatTensor t = tensors.get(i);
                o.unicode(t.name());
                o.global("torch._utils", "_rebuild_tensor_v2");
                o.op('(');
                // persistent id: ('storage', torch.FloatStorage, key, 'cpu', numel)
                o.op('(').unicode("storage").global("torch", "FloatStorage").unicode(String.valueOf(i)).unicode("cpu")
                        .integer(t.values().length).op('t').op('Q');
                o.integer(0);
                long[] shape = t.shape();
                o.op('(');
                for (long s : shape) {
                    o.integer(s);
                }
                o.op('t');
                o.op('(');
                long stride = 1;
                long[] strides = new long[shape.length];
                for (int d = shape.length - 1; d >= 0; d--) {
                    strides[d] = stride;
                    stride *= Math.max(1, shape[d]);
                }
                for (long s : strides) {
                    o.integer(s);
                }
                o.op('t');
                o.op(0x89); // requires_grad False
                o.global("collections", "OrderedDict").op(')').op('R');
                o.op('t').op('R');
            }
            o.op('u'); // SETITEMS
        }
        o.op('.');
        return o.bytes();
    }

    private static final class Out {
        private final ByteArrayOutputStream b = new ByteArrayOutputStream();

        Out op(int c) {
            b.write(c);
            return this;
        }

        Out global(String module, String name) throws IOException {
            op('c');
            b.write((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
            return this;
        }

        Out unicode(String s) throws IOException {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            op('X');
            b.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(u.length).array());
            b.write(u);
            return this;
        }

        Out integer(long v) throws IOException {
            if (v >= 0 && v < 256) {
                op('K').op((int) v);
            } else if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
                op('J');
                b.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
            } else {
                op(0x8a).op(8);
                b.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
            }
            return this;
        }

        byte[] bytes() {
            return b.toByteArray();
        }
    }
}
