package org.ctcf.io.dicom;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

import org.ctcf.io.VolumeFormatException;

/**
 * One DICOM file, parsed defensively: the Part 10 preamble and meta group (or a bare data set whose first element
 * is plausible), then the data set in its transfer syntax (implicit or explicit VR little endian, explicit VR big
 * endian, deflated explicit VR little endian). Every length is checked against the bytes left, every loop advances
 * or stops, sequences nest at most {@link #MAX_DEPTH} deep, and the pixel data is located, not copied: native pixel
 * data as an offset and a length, encapsulated pixel data as its basic offset table and fragments. The file is
 * memory-mapped while open (the voxels are decoded from the mapping); close it to unmap.
 */
final class DicomFile implements AutoCloseable {
    static final String IMPLICIT_LE = "1.2.840.10008.1.2";
    static final String EXPLICIT_LE = "1.2.840.10008.1.2.1";
    static final String DEFLATED_LE = "1.2.840.10008.1.2.1.99";
    static final String EXPLICIT_BE = "1.2.840.10008.1.2.2";
    static final int MAX_DEPTH = 12;
    static final int MAX_ELEMENTS = 1_000_000;
    static final long MAX_VALUE_BYTES = 64L << 20;
    static final int MAX_COPIED_VALUE = 8 << 20;
    static final int UNDEFINED = -1;

    /** Where the pixel data lies in {@link #data()}: native (offset, length) or encapsulated (fragments). */
    record PixelData(long offset, long length, long[] basicOffsets, List<long[]> fragments) {
        boolean encapsulated() {
            return fragments != null;
        }
    }

    private final Path path;
    private final Arena arena;
    private MemorySegment data;
    private final String transferSyntax;
    private final boolean hasMeta;
    private final DicomObject dataset;
    private final PixelData pixels;

    private ByteOrder order;
    private boolean explicit;
    private int elementCount;
    private long copied;

    private DicomFile(Path path, Arena arena, MemorySegment file, long inflateCap) throws VolumeFormatException {
        this.path = path;
        this.arena = arena;
        long size = file.byteSize();
        this.data = file;
        long pos;
        DicomObject meta = new DicomObject();
        if (size >= 132 && magicAt(file, 128)) {
            pos = parseMeta(file, 132, meta);
            hasMeta = true;
        } else if (size >= 4 && magicAt(file, 0)) {
            pos = parseMeta(file, 4, meta);
            hasMeta = true;
        } else {
            pos = 0;
            hasMeta = false;
        }
        String ts = meta.string(Tags.TRANSFER_SYNTAX);
        if (hasMeta && (ts == null || ts.isEmpty())) {
            throw fail("the file meta group has no Transfer Syntax UID (0002,0010)");
        }
        if (!hasMeta) {
            ts = guessBareSyntax(file);
        }
        this.transferSyntax = ts;
        this.order = EXPLICIT_BE.equals(ts) ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        this.explicit = !IMPLICIT_LE.equals(ts);
        MemorySegment body = file;
        if (DEFLATED_LE.equals(ts)) {
            body = MemorySegment.ofArray(inflate(file.asSlice(pos), inflateCap));
            pos = 0;
        }
        this.data = body;
        DicomObject ds = new DicomObject();
        PixelData[] px = new PixelData[1];
        parseDataset(pos, body.byteSize(), 0, ds, px, true);
        for (DicomObject.Element e : meta.elements()) {
            ds.put(e);
        }
        this.dataset = ds;
        this.pixels = px[0];
    }

    /**
     * Opens and parses {@code path}; {@code inflateCap} bounds the bytes a deflated data set may inflate to.
     * The caller closes it.
     */
    static DicomFile open(Path path, long inflateCap) throws IOException {
        Arena arena = Arena.ofConfined();
        try {
            MemorySegment seg;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                long size = ch.size();
                if (size == 0) {
                    throw new VolumeFormatException(path, "empty file, not DICOM");
                }
                seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            }
            return new DicomFile(path, arena, seg, inflateCap);
        } catch (IOException | RuntimeException e) {
            arena.close();
            if (e instanceof IndexOutOfBoundsException) {
                throw new VolumeFormatException(path, "truncated or inconsistent DICOM data (" + e.getMessage() + ")", e);
            }
            throw e;
        }
    }

    /** Whether {@code file} looks like DICOM: 'DICM' at 128, or a plausible bare data set. Never throws. */
    static boolean looksLikeDicom(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(132);
            while (b.hasRemaining() && ch.read(b) > 0) {
                // reads up to 132 bytes
            }
            byte[] h = b.array();
            int n = b.position();
            if (n >= 132 && h[128] == 'D' && h[129] == 'I' && h[130] == 'C' && h[131] == 'M') {
                return true;
            }
            return n >= 8 && plausibleBareStart(MemorySegment.ofArray(java.util.Arrays.copyOf(h, n)));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    Path path() {
        return path;
    }

    MemorySegment data() {
        return data;
    }

    String transferSyntax() {
        return transferSyntax;
    }

    DicomObject dataset() {
        return dataset;
    }

    /** The pixel data, or null when the file has none. */
    PixelData pixels() {
        return pixels;
    }

    ByteOrder order() {
        return order;
    }

    @Override
    public void close() {
        arena.close();
    }

    VolumeFormatException fail(String problem) {
        return new VolumeFormatException(path, problem);
    }

    private static boolean magicAt(MemorySegment s, long at) {
        return s.get(ValueLayout.JAVA_BYTE, at) == 'D' && s.get(ValueLayout.JAVA_BYTE, at + 1) == 'I'
                && s.get(ValueLayout.JAVA_BYTE, at + 2) == 'C' && s.get(ValueLayout.JAVA_BYTE, at + 3) == 'M';
    }

    private static boolean plausibleBareStart(MemorySegment s) {
        if (s.byteSize() < 8) {
            return false;
        }
        int group = Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0));
        int elem = Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2));
        return (group == 0x0008 || group == 0x0002) && elem < 0x0100;
    }

    private String guessBareSyntax(MemorySegment s) throws VolumeFormatException {
        if (!plausibleBareStart(s)) {
            throw fail("not a DICOM file (no 'DICM' at byte 128 and no plausible first element)");
        }
        byte a = s.get(ValueLayout.JAVA_BYTE, 4);
        byte b = s.get(ValueLayout.JAVA_BYTE, 5);
        return Character.isUpperCase(a) && Character.isUpperCase(b) && knownVr("" + (char) a + (char) b) ? EXPLICIT_LE
                : IMPLICIT_LE;
    }

    private long parseMeta(MemorySegment s, long pos, DicomObject meta) throws VolumeFormatException {
        order = ByteOrder.LITTLE_ENDIAN;
        explicit = true;
        long end = s.byteSize();
        int guard = 0;
        while (pos + 8 <= end && guard++ < 1000) {
            int group = u16(s, pos);
            if (group != 0x0002) {
                break;
            }
            long next = parseElement(s, pos, end, 0, meta, null, false);
            pos = next;
        }
        return pos;
    }

    private byte[] inflate(MemorySegment compressed, long cap) throws VolumeFormatException {
        byte[] in = compressed.toArray(ValueLayout.JAVA_BYTE);
        for (boolean nowrap : new boolean[] {true, false}) {
            Inflater inf = new Inflater(nowrap);
            try {
                inf.setInput(in);
                byte[] out = new byte[(int) Math.min(cap, Math.max(1024, Math.min(in.length * 4L, 64L << 20)))];
                int n = 0;
                int stalls = 0;
                while (!inf.finished()) {
                    if (n == out.length) {
                        if (out.length >= cap) {
                            throw fail("deflated data set inflates beyond " + cap + " bytes (a deflate bomb?)");
                        }
                        out = java.util.Arrays.copyOf(out, (int) Math.min(cap, out.length * 2L));
                    }
                    int got = inf.inflate(out, n, out.length - n);
                    n += got;
                    if (got == 0) {
                        if (inf.needsInput() || inf.needsDictionary()) {
                            break; // truncated stream: parse what came out
                        }
                        if (++stalls > 4) {
                            break;
                        }
                    }
                }
                if (n == 0 && nowrap) {
                    continue;
                }
                return java.util.Arrays.copyOf(out, n);
            } catch (DataFormatException e) {
                if (!nowrap) {
                    throw new VolumeFormatException(path, "corrupt deflated data set: " + e.getMessage(), e);
                }
            } finally {
                inf.end();
            }
        }
        throw fail("corrupt deflated data set");
    }

    private int u16(MemorySegment s, long at) {
        return Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(order), at));
    }

    private long u32(MemorySegment s, long at) {
        return Integer.toUnsignedLong(s.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(order), at));
    }

    private static boolean knownVr(String vr) {
        return switch (vr) {
            case "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV",
                    "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT",
                    "UV" -> true;
            default -> false;
        };
    }

    private static boolean longLength(String vr) {
        return DicomDataset.LONG_VRS.contains(vr);
    }

    private static String tag(int t) {
        return DicomDataset.tagString(t);
    }

    /** Parses elements from {@code pos} until {@code end} or an item delimiter; returns the position after it. */
    private long parseDataset(long pos, long end, int depth, DicomObject into, PixelData[] px, boolean top)
            throws VolumeFormatException {
        while (pos < end) {
            if (pos + 8 > end) {
                if (top && isPadding(pos, end)) {
                    return end;
                }
                throw fail("truncated element header at byte " + pos);
            }
            int group = u16(data, pos);
            int elem = u16(data, pos + 2);
            int t = group << 16 | elem;
            if (t == Tags.ITEM_DELIMITATION) {
                if (top) {
                    throw fail("item delimiter outside a sequence at byte " + pos);
                }
                return -(pos + 8) - 1; // signals the item's end to parseItems
            }
            if (t == Tags.SEQUENCE_DELIMITATION || t == Tags.ITEM) {
                throw fail("unexpected " + tag(t) + " at byte " + pos);
            }
            pos = parseElement(data, pos, end, depth, into, px, top);
        }
        return pos;
    }

    private boolean isPadding(long pos, long end) {
        for (long p = pos; p < end; p++) {
            if (data.get(ValueLayout.JAVA_BYTE, p) != 0) {
                return false;
            }
        }
        return true;
    }

    /** Parses one element at {@code pos} into {@code into}; returns the position after it. */
    private long parseElement(MemorySegment s, long pos, long end, int depth, DicomObject into, PixelData[] px,
            boolean top) throws VolumeFormatException {
        if (++elementCount > MAX_ELEMENTS) {
            throw fail("more than " + MAX_ELEMENTS + " data elements");
        }
        int group = u16(s, pos);
        int elem = u16(s, pos + 2);
        int t = group << 16 | elem;
        String vr;
        long length;
        long valuePos;
        boolean explicitHere = explicit && group != 0xFFFE;
        if (explicitHere) {
            byte a = s.get(ValueLayout.JAVA_BYTE, pos + 4);
            byte b = s.get(ValueLayout.JAVA_BYTE, pos + 5);
            vr = "" + (char) (a & 0xff) + (char) (b & 0xff);
            if (!knownVr(vr)) {
                if (a == 0 && b == 0 || !Character.isLetter(a & 0xff)) {
                    // some writers fall back to implicit VR inside explicit data sets; not allowed, but seen
                    throw fail("invalid VR " + printable(a, b) + " for " + tag(t) + " at byte " + pos);
                }
                throw fail("unknown VR " + printable(a, b) + " for " + tag(t) + " at byte " + pos);
            }
            if (longLength(vr)) {
                if (pos + 12 > end) {
                    throw fail("truncated element header of " + tag(t) + " at byte " + pos);
                }
                length = u32(s, pos + 8);
                valuePos = pos + 12;
            } else {
                length = u16(s, pos + 6);
                valuePos = pos + 8;
            }
        } else {
            vr = Tags.implicitVr(t);
            length = u32(s, pos + 4);
            valuePos = pos + 8;
        }
        boolean undefined = length == 0xFFFFFFFFL;
        if (t == Tags.PIXEL_DATA && top && px != null) {
            if (undefined) {
                return parseEncapsulated(valuePos, end, px);
            }
            if (length > end - valuePos) {
                throw fail("pixel data of " + length + " bytes, but only " + (end - valuePos) + " left in the file");
            }
            if (px[0] == null) {
                px[0] = new PixelData(valuePos, length, null, null);
            }
            into.put(new DicomObject.Element(t, vr, null, null));
            return valuePos + length;
        }
        if ("SQ".equals(vr) || undefined) {
            if (depth + 1 > MAX_DEPTH) {
                throw fail("sequences nested deeper than " + MAX_DEPTH + " at " + tag(t) + ", byte " + pos);
            }
            boolean saveExplicit = explicit;
            ByteOrder saveOrder = order;
            if ("UN".equals(vr) && undefined && explicitHere) {
                explicit = false; // UN with undefined length: contents are implicit VR little endian
                order = ByteOrder.LITTLE_ENDIAN;
            }
            List<DicomObject> items = DicomObject.newItems();
            long after;
            try {
                after = parseItems(valuePos, undefined ? end : checkedEnd(valuePos, length, end, t), undefined,
                        depth + 1, items, t);
            } finally {
                explicit = saveExplicit;
                order = saveOrder;
            }
            into.put(new DicomObject.Element(t, "SQ", null, items));
            return after;
        }
        long valueEnd = checkedEnd(valuePos, length, end, t);
        byte[] value = null;
        if (length <= MAX_COPIED_VALUE && copied + length <= MAX_VALUE_BYTES) {
            value = s.asSlice(valuePos, length).toArray(ValueLayout.JAVA_BYTE);
            copied += length;
            if (order == ByteOrder.BIG_ENDIAN) {
                swap(value, vr);
            }
        }
        into.put(new DicomObject.Element(t, vr, value, null));
        return valueEnd;
    }

    private static String printable(byte a, byte b) {
        return String.format(Locale.ROOT, "0x%02X%02X", a & 0xff, b & 0xff);
    }

    private long checkedEnd(long valuePos, long length, long end, int t) throws VolumeFormatException {
        if (length > end - valuePos) {
            throw fail("element " + tag(t) + " claims " + length + " bytes at byte " + valuePos + ", but only "
                    + Math.max(0, end - valuePos) + " are left");
        }
        return valuePos + length;
    }

    private long parseItems(long pos, long end, boolean undefined, int depth, List<DicomObject> items, int seqTag)
            throws VolumeFormatException {
        while (true) {
            if (pos >= end) {
                if (undefined) {
                    throw fail("sequence " + tag(seqTag) + " of undefined length never ends");
                }
                return pos;
            }
            if (pos + 8 > end) {
                throw fail("truncated item header in sequence " + tag(seqTag) + " at byte " + pos);
            }
            int t = u16(data, pos) << 16 | u16(data, pos + 2);
            long len = u32(data, pos + 4);
            if (t == Tags.SEQUENCE_DELIMITATION) {
                if (!undefined) {
                    throw fail("sequence delimiter inside defined-length sequence " + tag(seqTag));
                }
                return pos + 8;
            }
            if (t != Tags.ITEM) {
                throw fail("expected an item in sequence " + tag(seqTag) + " at byte " + pos + ", found " + tag(t));
            }
            if (items.size() >= MAX_ELEMENTS) {
                throw fail("too many items in sequence " + tag(seqTag));
            }
            DicomObject item = new DicomObject();
            long start = pos + 8;
            if (len == 0xFFFFFFFFL) {
                long r = parseDataset(start, end, depth, item, null, false);
                if (r >= 0) {
                    throw fail("item of undefined length in " + tag(seqTag) + " never ends");
                }
                pos = -(r + 1);
            } else {
                long itemEnd = checkedEnd(start, len, end, seqTag);
                long r = parseDataset(start, itemEnd, depth, item, null, false);
                if (r < 0) {
                    throw fail("item delimiter inside a defined-length item of " + tag(seqTag));
                }
                pos = itemEnd;
            }
            items.add(item);
        }
    }

    private long parseEncapsulated(long pos, long end, PixelData[] px) throws VolumeFormatException {
        long[] bot = null;
        List<long[]> fragments = new ArrayList<>();
        boolean first = true;
        while (true) {
            if (pos + 8 > end) {
                throw fail("encapsulated pixel data never ends (no sequence delimiter)");
            }
            int t = u16(data, pos) << 16 | u16(data, pos + 2);
            long len = u32(data, pos + 4);
            if (t == Tags.SEQUENCE_DELIMITATION) {
                pos += 8;
                break;
            }
            if (t != Tags.ITEM) {
                throw fail("expected a pixel data fragment at byte " + pos + ", found " + tag(t));
            }
            if (len == 0xFFFFFFFFL) {
                throw fail("pixel data fragment of undefined length at byte " + pos);
            }
            long start = pos + 8;
            checkedEnd(start, len, end, Tags.PIXEL_DATA);
            if (first) {
                if (len % 4 != 0) {
                    throw fail("basic offset table length " + len + " is not a multiple of 4");
                }
                bot = new long[(int) (len / 4)];
                for (int i = 0; i < bot.length; i++) {
                    bot[i] = Integer.toUnsignedLong(
                            data.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), start + 4L * i));
                }
                first = false;
            } else {
                fragments.add(new long[] {pos, start, len});
            }
            pos = start + len;
        }
        if (px[0] == null) {
            px[0] = new PixelData(-1, -1, bot, fragments);
        }
        return pos;
    }

    private static void swap(byte[] v, String vr) {
        int unit = switch (vr) {
            case "US", "SS", "OW", "AT" -> 2;
            case "UL", "SL", "FL", "OF", "OL" -> 4;
            case "FD", "OD", "SV", "UV", "OV" -> 8;
            default -> 1;
        };
        for (int i = 0; i + unit <= v.length && unit > 1; i += unit) {
            for (int a = i, b = i + unit - 1; a < b; a++, b--) {
                byte x = v[a];
                v[a] = v[b];
                v[b] = x;
            }
        }
    }
}
