package org.ctcf.io.checkpoint;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The central directory of a zip archive over a memory-mapped file (ZIP64 aware). Stored entries — all that
 * {@code torch.save} writes — are returned as slices of the mapping, no copy; deflated ones are inflated.
 */
final class ZipIndex {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private record Entry(String name, int method, long compressedSize, long size, long localHeader) {
    }

    private final Path file;
    private final MemorySegment seg;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    private ZipIndex(Path file, MemorySegment seg) {
        this.file = file;
        this.seg = seg;
    }

    static ZipIndex read(Path file, MemorySegment seg) throws ModelFormatException {
        ZipIndex z = new ZipIndex(file, seg);
        z.parse();
        return z;
    }

    private long u16(long at) throws ModelFormatException {
        check(at, 2);
        return Short.toUnsignedInt(seg.get(U16, at));
    }

    private long u32(long at) throws ModelFormatException {
        check(at, 4);
        return Integer.toUnsignedLong(seg.get(U32, at));
    }

    private long u64(long at) throws ModelFormatException {
        check(at, 8);
        long v = seg.get(U64, at);
        if (v < 0) {
            throw new ModelFormatException(file, "corrupt zip: a 64-bit field is negative");
        }
        return v;
    }

    private void check(long at, long n) throws ModelFormatException {
        if (at < 0 || n < 0 || at > seg.byteSize() - n) {
            throw new ModelFormatException(file, "corrupt or truncated zip: reads past the end of the file at " + at);
        }
    }

    private void parse() throws ModelFormatException {
        long size = seg.byteSize();
        long eocd = -1;
        for (long p = size - 22; p >= Math.max(0, size - 22 - 65535); p--) {
            if (seg.get(U32, p) == 0x06054b50) {
                eocd = p;
                break;
            }
        }
        if (eocd < 0) {
            throw new ModelFormatException(file, "truncated or corrupt zip: no end-of-central-directory record");
        }
        long count = u16(eocd + 10);
        long cdSize = u32(eocd + 12);
        long cdOffset = u32(eocd + 16);
        if (count == 0xffff || cdSize == 0xffffffffL || cdOffset == 0xffffffffL) {
            long loc = eocd - 20;
            if (loc < 0 || u32(loc) != 0x07064b50) {
                throw new ModelFormatException(file, "corrupt zip: ZIP64 locator missing");
            }
            long z64 = u64(loc + 8);
            if (u32(z64) != 0x06064b50) {
                throw new ModelFormatException(file, "corrupt zip: ZIP64 end record missing");
            }
            count = u64(z64 + 32);
            cdSize = u64(z64 + 40);
            cdOffset = u64(z64 + 48);
        }
        check(cdOffset, cdSize);
        long p = cdOffset;
        for (long i = 0; i < count; i++) {
            if (u32(p) != 0x02014b50) {
                throw new ModelFormatException(file, "corrupt zip: bad central directory entry " + i);
            }
            int method = (int) u16(p + 10);
            long csize = u32(p + 20);
            long usize = u32(p + 24);
            int nameLen = (int) u16(p + 28);
            int extraLen = (int) u16(p + 30);
            int commentLen = (int) u16(p + 32);
            long local = u32(p + 42);
            check(p + 46, nameLen + (long) extraLen);
            String name = new String(seg.asSlice(p + 46, nameLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            long e = p + 46 + nameLen;
            long end = e + extraLen;
            while (e + 4 <= end) {
                int id = (int) u16(e);
                int len = (int) u16(e + 2);
                if (id == 0x0001) {
                    long q = e + 4;
                    if (usize == 0xffffffffL) {
                        usize = u64(q);
                        q += 8;
                    }
                    if (csize == 0xffffffffL) {
                        csize = u64(q);
                        q += 8;
                    }
                    if (local == 0xffffffffL) {
                        local = u64(q);
                    }
                }
                e += 4 + len;
            }
            entries.put(name, new Entry(name, method, csize, usize, local));
            p = end + commentLen;
        }
        if (entries.isEmpty()) {
            throw new ModelFormatException(file, "empty zip archive");
        }
    }

    /** The common top folder ("archive/", "last/", ...), read from the first entry. */
    String prefix() {
        String first = entries.keySet().iterator().next();
        int slash = first.indexOf('/');
        return slash < 0 ? "" : first.substring(0, slash + 1);
    }

    boolean has(String name) {
        if (entries.containsKey(name)) {
            return true;
        }
        if (name.endsWith("/")) {
            for (String k : entries.keySet()) {
                if (k.startsWith(name)) {
                    return true;
                }
            }
        }
        return false;
    }

    MemorySegment data(String name) throws ModelFormatException {
        Entry e = entries.get(name);
        if (e == null) {
            throw new ModelFormatException(file, "zip entry " + name + " missing");
        }
        if (u32(e.localHeader()) != 0x04034b50) {
            throw new ModelFormatException(file, "corrupt zip: local header of " + name + " not found at "
                    + e.localHeader());
        }
        long start = e.localHeader() + 30 + u16(e.localHeader() + 26) + u16(e.localHeader() + 28);
        if (e.method() == 0) {
            if (e.size() != e.compressedSize()) {
                throw new ModelFormatException(file, "corrupt zip: stored entry " + name + " with differing sizes");
            }
            check(start, e.size());
            return seg.asSlice(start, e.size());
        }
        if (e.method() == 8) {
            check(start, e.compressedSize());
            if (e.size() > Integer.MAX_VALUE || e.size() / 1032 > e.compressedSize()) {
                throw new ModelFormatException(file, "zip entry " + name + " claims an impossible size " + e.size());
            }
            byte[] in = seg.asSlice(start, e.compressedSize()).toArray(ValueLayout.JAVA_BYTE);
            byte[] out = new byte[(int) e.size()];
            Inflater inf = new Inflater(true);
            try {
                inf.setInput(in);
                int n = inf.inflate(out);
                if (n != out.length) {
                    throw new ModelFormatException(file, "zip entry " + name + " inflates to " + n + " of "
                            + out.length + " bytes");
                }
            } catch (DataFormatException ex) {
                throw new ModelFormatException(file, "zip entry " + name + " is corrupt: " + ex.getMessage(), ex);
            } finally {
                inf.end();
            }
            MemorySegment m = Arena.ofAuto().allocate(out.length);
            m.copyFrom(MemorySegment.ofArray(out));
            return m;
        }
        throw new ModelFormatException(file, "zip entry " + name + " uses unsupported compression method " + e.method());
    }
}
