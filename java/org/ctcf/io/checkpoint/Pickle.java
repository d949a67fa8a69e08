package org.ctcf.io.checkpoint;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.ctcf.io.checkpoint.ModelFormatException.UnsafePickleException;

/**
 * A restricted pickle reader (protocols 0–5) for PyTorch checkpoints. It interprets the opcode stream as data
 * and <b>never executes anything</b>: a {@code GLOBAL} becomes a {@link Global} name; calling one
 * ({@code REDUCE}, {@code NEWOBJ}, {@code INST}, {@code OBJ}) is honoured only for the tensor-rebuild and
 * container functions PyTorch's own weights-only loader allows, turns into an inert {@link Placeholder} for the
 * classes that checkpoints commonly carry (Lightning callbacks, argparse/omegaconf configs, numpy scalars, ...),
 * and is refused for anything else. Names that could run code ({@code os.system}, {@code builtins.eval},
 * {@code subprocess.*}, ...) are refused as soon as they are named.
 */
public final class Pickle {
    /** A module-level name the stream referred to; never imported. */
    public record Global(String module, String name) implements Comparable<Global> {
        public String dotted() {
            return module + "." + name;
        }

        /** Ordered, so that many keys of equal hash in one dict cost log n each (a HashMap's tree bins). */
        @Override
        public int compareTo(Global o) {
            int c = module.compareTo(o.module);
            return c != 0 ? c : name.compareTo(o.name);
        }
    }

    /** An inert stand-in for an object of a class ctcf does not model: remembers its arguments and state. */
    public static final class Placeholder {
        private final Global type;
        private final List<Object> args;
        private Object state;

        Placeholder(Global type, List<Object> args) {
            this.type = type;
            this.args = args;
        }

        public Global type() {
            return type;
        }

        public List<Object> args() {
            return args;
        }

        public Object state() {
            return state;
        }

        @Override
        public String toString() {
            return "<" + type.dotted() + " placeholder>";
        }
    }

    /**
     * A Python tuple. A tuple of hashable items is hashable, with a hash computed once, when the reader makes it,
     * from its items' (so {@code t = (t', t')} a hundred times over hashes in linear time), keyed by a random
     * number of this JVM's (so a crafted file cannot make keys collide), and interned by the reader: two equal
     * hashable tuples of one pickle are the same object, and equality between them is identity.
     */
    public static final class Tuple {
        private final List<Object> items;
        private final boolean hashable;
        private final long hash;
        private final int depth;
        /** Whether the reader interned it (then it is the only tuple of its pickle equal to it). */
        private boolean interned;

        private Tuple(List<Object> items, long[] itemHashes) {
            this.items = java.util.Collections.unmodifiableList(new ArrayList<>(items));
            boolean h = true;
            long code = SEED;
            int d = 0;
            for (int i = 0; i < this.items.size(); i++) {
                Object o = this.items.get(i);
                long ih;
                if (o instanceof Tuple t) {
                    h &= t.hashable;
                    d = Math.max(d, t.depth);
                    ih = t.hash;
                } else if (isHashableLeaf(o)) {
                    ih = itemHashes[i];
                } else {
                    h = false;
                    ih = 0;
                }
                code = mix(code * 31 + ih);
            }
            this.hashable = h;
            this.hash = code;
            this.depth = d + 1;
        }

        public List<Object> items() {
            return items;
        }

        public Object get(int i) {
            return items.get(i);
        }

        public int size() {
            return items.size();
        }

        /** Whether Python could hash it: every item is hashable (no list, dict or set inside). */
        public boolean hashable() {
            return hashable;
        }

        @Override
        public int hashCode() {
            if (!hashable) {
                throw new IllegalStateException("unhashable type: 'tuple' holding a list, dict or set");
            }
            return (int) (hash ^ (hash >>> 32));
        }

        @Override
        public boolean equals(Object o) {
            if (this == o) {
                return true;
            }
            if (!(o instanceof Tuple t) || t.hash != hash || t.items.size() != items.size()) {
                return false;
            }
            if (interned && t.interned) {
                return false;  // both interned and not the same object
            }
            for (int i = 0; i < items.size(); i++) {
                Object a = items.get(i);
                Object b = t.items.get(i);
                boolean same = a instanceof Tuple x && b instanceof Tuple y && x.interned && y.interned ? x == y
                        : java.util.Objects.equals(a, b);
                if (!same) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public String toString() {
            return "(" + items.size() + "-tuple)";
        }
    }

    /** This JVM's key of the tuples' hashes. */
    private static final long SEED = new java.security.SecureRandom().nextLong();

    /** A 64-bit finaliser (MurmurHash3's fmix64). */
    private static long mix(long h) {
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        return h ^ (h >>> 33);
    }

    /** The keyed hash of a hashable leaf (what a tuple's hash is made of): its characters' or bytes' with the key. */
    private long leafHash(Object o) throws ModelFormatException {
        if (o instanceof String str) {
            return keyed(0x9e3779b97f4a7c15L, str.getBytes(StandardCharsets.UTF_8));
        }
        if (o instanceof Bytes b) {
            return keyed(0x632be59bd9b4e019L, b.data());
        }
        if (o instanceof Long l) {
            return mix(l ^ SEED);
        }
        if (o instanceof Double d) {
            return mix(Double.doubleToLongBits(d) ^ SEED ^ 0x5851f42d4c957f2dL);
        }
        if (o instanceof BigInteger big) {
            return keyed(0x2545f4914f6cdd1dL, big.toByteArray());
        }
        if (o instanceof Global g) {
            return leafHash(g.dotted());
        }
        return mix(java.util.Objects.hashCode(o) ^ SEED);
    }

    /** Values Python hashes by value or identity that hold nothing unhashable. */
    /** FNV-1a over {@code data} from this JVM's key and a type's salt, finalised; its work charged. */
    private long keyed(long salt, byte[] data) throws ModelFormatException {
        spend(data.length / 8 + 1);
        long h = SEED ^ salt;
        for (byte x : data) {
            h = (h ^ x) * 0x100000001b3L;
        }
        return mix(h);
    }

    private static boolean isHashableLeaf(Object o) {
        return o == null || o instanceof Boolean || o instanceof Long || o instanceof BigInteger || o instanceof Double
                || o instanceof String || o instanceof Bytes || o instanceof Global || o instanceof Placeholder
                || o instanceof StorageRef || o instanceof TensorRef;
    }

    /** Decimal integers longer than this are refused, as Python's int() refuses them (sys.int_info). */
    static final int MAX_INT_DIGITS = 4300;

    /** Nesting of tuples beyond this is refused (Python's own recursion limit is 1000). */
    static final int MAX_DEPTH = 10_000;

    /** Python bytes (hashed and compared by value, as Python does). */
    public record Bytes(byte[] data) implements Comparable<Bytes> {
        /** Ordered, so that many keys of equal hash in one dict cost log n each (a HashMap's tree bins). */
        @Override
        public int compareTo(Bytes o) {
            return java.util.Arrays.compare(data, o.data);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Bytes b && java.util.Arrays.equals(data, b.data);
        }

        @Override
        public int hashCode() {
            return java.util.Arrays.hashCode(data);
        }
    }

    /** A storage referenced through a persistent id: element type, key, element count. */
    public record StorageRef(DType dtype, String key, long numel, boolean untyped, long viewOffset, long viewSize) {
    }

    /** A tensor view of a storage ({@code _rebuild_tensor*}). */
    public record TensorRef(StorageRef storage, DType dtype, long offset, long[] size, long[] stride) {
    }

    /** Resolves a persistent id (the storage tuple PyTorch writes) to an object, usually a {@link StorageRef}. */
    @FunctionalInterface
    public interface PersistentLoader {
        Object load(Object pid) throws ModelFormatException;
    }

    /** The result of one pickle: the object and the position just after its STOP opcode. */
    public record Result(Object value, long end) {
    }

    private static final Object MARK = new Object() {
        @Override
        public String toString() {
            return "MARK";
        }
    };

    /** Names refused the moment the stream mentions them: they exist to run code or touch the system. */
    private static final Set<String> DENIED_MODULES = Set.of("os", "posix", "nt", "posixpath", "ntpath", "subprocess",
            "sys", "shutil", "importlib", "runpy", "socket", "pty", "ctypes", "multiprocessing", "pickle", "_pickle",
            "marshal", "code", "codeop", "webbrowser", "signal", "asyncio", "threading", "_thread", "commands",
            "platform", "tempfile", "glob", "io", "_io", "builtins.eval", "zipimport", "pdb", "timeit", "trace",
            "inspect", "types", "operator", "functools.reduce");
    private static final Set<String> DENIED_BUILTINS = Set.of("eval", "exec", "execfile", "compile", "__import__",
            "open", "input", "breakpoint", "globals", "locals", "vars", "setattr", "delattr", "apply", "exit", "quit",
            "help", "memoryview", "__loader__", "__build_class__", "classmethod", "staticmethod", "property", "super",
            "type");

    /** Objects honoured by name (containers, tensor rebuilds). */
    private static final Set<String> TOLERATED_EXACT = Set.of("argparse.Namespace", "typing.Any",
            "functools.partial", "copyreg._reconstructor", "copyreg.__newobj__", "builtins.object", "builtins.getattr",
            "builtins.int", "builtins.float", "builtins.str", "builtins.complex", "builtins.slice", "builtins.range",
            "builtins.bytearray", "builtins.bool", "collections.deque", "datetime.datetime", "datetime.date",
            "datetime.timedelta", "datetime.timezone", "decimal.Decimal", "uuid.UUID", "torch.device",
            "torch.nn.parameter.Parameter", "torch.serialization._get_layout", "torch.layout", "torch.memory_format");
    private static final List<String> TOLERATED_PREFIXES = List.of("pytorch_lightning.", "lightning_fabric.",
            "lightning.", "omegaconf.", "pathlib.", "numpy.", "torch.optim.", "torch.cuda.amp.", "torch.amp.",
            "enum.", "typing.", "yaml.");

    private final Path file;
    private final MemorySegment data;
    private final long limit;
    private final PersistentLoader persistent;
    private long pos;
    private final List<Object> stack = new ArrayList<>();
    private final Deque<Integer> marks = new ArrayDeque<>();
    private final Map<Long, Object> memo = new HashMap<>();
    private final Map<Tuple, Tuple> interned = new HashMap<>();
    private long work;
    private final long budget;

    private Pickle(Path file, MemorySegment data, long start, long limit, PersistentLoader persistent) {
        this.file = file;
        this.data = data;
        this.pos = start;
        this.limit = limit;
        this.persistent = persistent;
        this.budget = 16 * Math.max(0, limit - start) + 1_000_000;
    }

    /** Reads one pickle from {@code data[start, limit)}. */
    public static Result load(Path file, MemorySegment data, long start, long limit, PersistentLoader persistent)
            throws ModelFormatException {
        Pickle p = new Pickle(file, data, start, limit, persistent);
        try {
            Object v = p.run();
            return new Result(v, p.pos);
        } catch (IndexOutOfBoundsException | ClassCastException | NumberFormatException | ArithmeticException
                | IllegalStateException e) {
            throw new ModelFormatException(file, "corrupt pickle near byte " + p.pos + ": " + e.getMessage(), e);
        } catch (StackOverflowError e) {
            throw new ModelFormatException(file, "corrupt pickle near byte " + p.pos + ": nested too deeply", null);
        }
    }

    private ModelFormatException corrupt(String what) {
        return new ModelFormatException(file, "corrupt pickle at byte " + pos + ": " + what);
    }

    private int u8() throws ModelFormatException {
        if (pos >= limit) {
            throw new ModelFormatException(file, "truncated pickle (ends at byte " + pos + " without STOP)");
        }
        return Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, pos++));
    }

    private void need(long n) throws ModelFormatException {
        if (n < 0 || n > limit - pos) {
            throw new ModelFormatException(file, "truncated pickle: " + n + " bytes wanted at byte " + pos + ", "
                    + (limit - pos) + " left");
        }
    }

    private long le(int bytes) throws ModelFormatException {
        need(bytes);
        long v = 0;
        for (int i = 0; i < bytes; i++) {
            v |= (long) Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, pos + i)) << (8 * i);
        }
        pos += bytes;
        return v;
    }

    private byte[] bytes(long n) throws ModelFormatException {
        need(n);
        if (n > Integer.MAX_VALUE - 16) {
            throw corrupt("a " + n + "-byte string");
        }
        byte[] b = data.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE);
        pos += n;
        return b;
    }

    private String line() throws ModelFormatException {
        long start = pos;
        while (true) {
            if (u8() == '\n') {
                break;
            }
            if (pos - start > 1 << 20) {
                throw corrupt("text line longer than 1 MiB");
            }
        }
        return new String(data.asSlice(start, pos - 1 - start).toArray(ValueLayout.JAVA_BYTE),
                StandardCharsets.UTF_8);
    }

    /** The text of an INT or LONG opcode; more than {@link #MAX_INT_DIGITS} digits are refused, as Python does. */
    private String intLine() throws ModelFormatException {
        String s = line().trim();
        if (s.length() > MAX_INT_DIGITS) {
            throw corrupt("an integer of " + s.length() + " digits (Python itself refuses more than " + MAX_INT_DIGITS
                    + ")");
        }
        return s;
    }

    private Object pop() throws ModelFormatException {
        if (stack.isEmpty()) {
            throw corrupt("stack underflow");
        }
        Object o = stack.remove(stack.size() - 1);
        if (o == MARK) {
            throw corrupt("unexpected MARK");
        }
        return o;
    }

    private Object peek() throws ModelFormatException {
        if (stack.isEmpty() || stack.get(stack.size() - 1) == MARK) {
            throw corrupt("stack underflow");
        }
        return stack.get(stack.size() - 1);
    }

    private List<Object> popToMark() throws ModelFormatException {
        if (marks.isEmpty()) {
            throw corrupt("no MARK on the stack");
        }
        int m = marks.pop();
        if (m > stack.size()) {
            throw corrupt("MARK beyond the stack");
        }
        spend(stack.size() - m);
        List<Object> items = new ArrayList<>(stack.subList(m + 1, stack.size()));
        stack.subList(m, stack.size()).clear();
        for (Object o : items) {
            if (o == MARK) {
                throw corrupt("nested MARK");
            }
        }
        return items;
    }

    private void push(Object o) {
        stack.add(o);
    }

    /** Counts {@code n} units of work (items copied, hashed); a pickle that asks for too many is refused. */
    private void spend(long n) throws ModelFormatException {
        work += n;
        if (work > budget) {
            throw corrupt("more work than a pickle of " + (limit) + " bytes can need (" + work + " items copied or "
                    + "hashed): refused as a decompression or hash bomb");
        }
    }

    /** {@code o} as a dict key or set member: Python refuses lists, dicts and sets (and tuples holding them). */
    private Object key(Object o, String where) throws ModelFormatException {
        spend(1);
        if (o instanceof Tuple t) {
            if (!t.hashable()) {
                throw corrupt("unhashable type: 'tuple' holding a list, dict or set, used as " + where
                        + " (Python refuses it too)");
            }
            return t;
        }
        if (isHashableLeaf(o)) {
            return o;
        }
        String type = o instanceof List<?> ? "list" : o instanceof Map<?, ?> ? "dict" : o instanceof Set<?> ? "set"
                : typeName(o);
        throw corrupt("unhashable type: '" + type + "' used as " + where + " (Python refuses it too)");
    }

    /** A new tuple of {@code items}, interned when hashable; nesting deeper than {@link #MAX_DEPTH} is refused. */
    private Tuple newTuple(List<Object> items) throws ModelFormatException {
        spend(items.size() + 1);
        long[] hashes = new long[items.size()];
        for (int i = 0; i < hashes.length; i++) {
            Object o = items.get(i);
            hashes[i] = o instanceof Tuple || !isHashableLeaf(o) ? 0 : leafHash(o);
        }
        Tuple t = new Tuple(items, hashes);
        if (t.depth > MAX_DEPTH) {
            throw corrupt("tuples nested " + t.depth + " deep (more than " + MAX_DEPTH + ")");
        }
        if (!t.hashable()) {
            return t;
        }
        Tuple known = interned.get(t);
        if (known != null) {
            return known;
        }
        t.interned = true;
        interned.put(t, t);
        return t;
    }

    private Object run() throws ModelFormatException {
        while (true) {
            int op = u8();
            switch (op) {
                case 0x80 -> u8(); // PROTO
                case 0x95 -> le(8); // FRAME
                case '.' -> {
                    return pop();
                }
                case '(' -> {
                    marks.push(stack.size());
                    stack.add(MARK);
                }
                case '0' -> pop();
                case '1' -> popToMark();
                case '2' -> push(peek());
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'I' -> {
                    String s = intLine();
                    push(s.equals("01") ? Boolean.TRUE : s.equals("00") ? Boolean.FALSE : Long.parseLong(s));
                }
                case 'L' -> {
                    String s = intLine();
                    push(normalize(new BigInteger(s.endsWith("L") ? s.substring(0, s.length() - 1) : s)));
                }
                case 'J' -> push((long) (int) le(4));
                case 'K' -> push((long) u8());
                case 'M' -> push(le(2));
                case 0x8a -> push(longBytes(u8()));
                case 0x8b -> {
                    long n = (int) le(4);
                    if (n < 0) {
                        throw corrupt("negative LONG4 length");
                    }
                    push(longBytes(n));
                }
                case 'G' -> {
                    need(8);
                    double d = data.get(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), pos);
                    pos += 8;
                    push(d);
                }
                case 'F' -> push(Double.parseDouble(line().trim()));
                case 'X' -> push(new String(bytes(le(4)), StandardCharsets.UTF_8));
                case 0x8c -> push(new String(bytes(u8()), StandardCharsets.UTF_8));
                case 0x8d -> push(new String(bytes(le(8)), StandardCharsets.UTF_8));
                case 'T' -> push(new String(bytes((int) le(4)), StandardCharsets.ISO_8859_1));
                case 'U' -> push(new String(bytes(u8()), StandardCharsets.ISO_8859_1));
                case 'S' -> push(pythonStringLiteral(line().trim()));
                case 'V' -> push(unicodeEscape(line()));
                case 'B' -> push(new Bytes(bytes(le(4))));
                case 'C' -> push(new Bytes(bytes(u8())));
                case 0x8e, 0x96 -> push(new Bytes(bytes(le(8))));
                case ')' -> push(newTuple(List.of()));
                case 't' -> push(newTuple(popToMark()));
                case 0x85 -> push(newTuple(java.util.Collections.singletonList(pop())));
                case 0x86 -> {
                    Object b = pop();
                    Object a = pop();
                    push(newTuple(java.util.Arrays.asList(a, b)));
                }
                case 0x87 -> {
                    Object c = pop();
                    Object b = pop();
                    Object a = pop();
                    push(newTuple(java.util.Arrays.asList(a, b, c)));
                }
                case ']' -> push(new ArrayList<>());
                case 'l' -> push(new ArrayList<>(popToMark()));
                case 'a' -> {
                    Object v = pop();
                    asList(peek()).add(v);
                }
                case 'e' -> {
                    List<Object> items = popToMark();
                    asList(peek()).addAll(items);
                }
                case '}' -> push(new LinkedHashMap<>());
                case 'd' -> {
                    List<Object> items = popToMark();
                    Map<Object, Object> m = new LinkedHashMap<>();
                    putPairs(m, items);
                    push(m);
                }
                case 's' -> {
                    Object v = pop();
                    Object k = key(pop(), "a dict key");
                    asMap(peek()).put(k, v);
                }
                case 'u' -> {
                    List<Object> items = popToMark();
                    putPairs(asMap(peek()), items);
                }
                case 0x8f -> push(new LinkedHashSet<>());
                case 0x90 -> {
                    List<Object> items = popToMark();
                    Object s = peek();
                    if (!(s instanceof Set<?>)) {
                        throw corrupt("ADDITEMS on a non-set");
                    }
                    @SuppressWarnings("unchecked")
                    Set<Object> set = (Set<Object>) s;
                    for (Object o : items) {
                        set.add(key(o, "a set member"));
                    }
                }
                case 0x91 -> push(newSet(popToMark()));
                case 'c' -> {
                    String module = line().trim();
                    String name = line().trim();
                    push(global(module, name));
                }
                case 0x93 -> {
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw corrupt("STACK_GLOBAL needs two strings");
                    }
                    push(global(m, n));
                }
                case 'R' -> {
                    Object args = pop();
                    Object callable = pop();
                    push(call(callable, argsOf(args), "REDUCE"));
                }
                case 0x81 -> {
                    Object args = pop();
                    Object cls = pop();
                    push(construct(cls, argsOf(args)));
                }
                case 0x92 -> {
                    pop(); // kwargs
                    Object args = pop();
                    Object cls = pop();
                    push(construct(cls, argsOf(args)));
                }
                case 'i' -> {
                    String module = line().trim();
                    String name = line().trim();
                    List<Object> args = popToMark();
                    push(call(global(module, name), args, "INST"));
                }
                case 'o' -> {
                    List<Object> items = popToMark();
                    if (items.isEmpty()) {
                        throw corrupt("OBJ without a class");
                    }
                    push(call(items.get(0), items.subList(1, items.size()), "OBJ"));
                }
                case 'b' -> {
                    Object state = pop();
                    build(peek(), state);
                }
                case 'p' -> memo.put(Long.parseLong(line().trim()), peek());
                case 'q' -> memo.put((long) u8(), peek());
                case 'r' -> memo.put(le(4), peek());
                case 0x94 -> memo.put((long) memo.size(), peek());
                case 'g' -> push(memoGet(Long.parseLong(line().trim())));
                case 'h' -> push(memoGet(u8()));
                case 'j' -> push(memoGet(le(4)));
                case 'P' -> push(persistent.load(line()));
                case 'Q' -> push(persistent.load(pop()));
                case 0x82, 0x83, 0x84 -> throw new UnsafePickleException(file,
                        "the pickle uses the extension registry (EXT opcodes); refused, nothing was executed");
                default -> throw corrupt(String.format("unknown opcode 0x%02x", op));
            }
        }
    }

    private Set<Object> newSet(List<?> items) throws ModelFormatException {
        Set<Object> set = new LinkedHashSet<>();
        for (Object o : items) {
            set.add(key(o, "a set member"));
        }
        return set;
    }

    private Object memoGet(long key) throws ModelFormatException {
        if (!memo.containsKey(key)) {
            throw corrupt("memo key " + key + " was never stored");
        }
        return memo.get(key);
    }

    @SuppressWarnings("unchecked")
    private List<Object> asList(Object o) throws ModelFormatException {
        if (o instanceof List<?> l) {
            return (List<Object>) l;
        }
        if (o instanceof Placeholder) {
            return new ArrayList<>(); // appends to an inert object are dropped
        }
        throw corrupt("APPEND to a " + typeName(o));
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> asMap(Object o) throws ModelFormatException {
        if (o instanceof Map<?, ?> m) {
            return (Map<Object, Object>) m;
        }
        if (o instanceof Placeholder) {
            return new LinkedHashMap<>(); // items set on an inert object are dropped
        }
        throw corrupt("SETITEM on a " + typeName(o));
    }

    private void putPairs(Map<Object, Object> m, List<Object> items) throws ModelFormatException {
        if (items.size() % 2 != 0) {
            throw corrupt("odd number of items for a dict");
        }
        for (int i = 0; i < items.size(); i += 2) {
            m.put(key(items.get(i), "a dict key"), items.get(i + 1));
        }
    }

    private List<Object> argsOf(Object args) throws ModelFormatException {
        if (args instanceof Tuple t) {
            return t.items();
        }
        if (args instanceof List<?> l) {
            spend(l.size());
            return new ArrayList<>(l);
        }
        throw corrupt("call arguments are a " + typeName(args) + ", not a tuple");
    }

    private static String typeName(Object o) {
        return o == null ? "None" : o.getClass().getSimpleName();
    }

    private Global global(String module, String name) throws UnsafePickleException {
        if (module.equals("__builtin__")) {
            module = "builtins";
        } else if (module.equals("copy_reg")) {
            module = "copyreg";
        }
        String root = module.contains(".") ? module.substring(0, module.indexOf('.')) : module;
        boolean denied = DENIED_MODULES.contains(module) || DENIED_MODULES.contains(root)
                || DENIED_MODULES.contains(module + "." + name)
                || (module.equals("builtins") && DENIED_BUILTINS.contains(name));
        if (denied) {
            throw new UnsafePickleException(file, "the pickle refers to " + module + "." + name
                    + ", which can run code or touch the system; refused, nothing was executed");
        }
        return new Global(module, name);
    }

    private static boolean tolerated(Global g) {
        String d = g.dotted();
        if (TOLERATED_EXACT.contains(d)) {
            return true;
        }
        for (String p : TOLERATED_PREFIXES) {
            if (d.startsWith(p)) {
                return true;
            }
        }
        return false;
    }

    /** REDUCE / INST / OBJ: a call. Only allow-listed functions do anything; tolerated classes become inert. */
    private Object call(Object callable, List<Object> args, String how) throws ModelFormatException {
        spend(args.size() + 1);  // a call may copy its arguments (a placeholder keeps them)
        if (!(callable instanceof Global g)) {
            throw new UnsafePickleException(file, how + " calls a " + typeName(callable)
                    + " (not a named function); refused, nothing was executed");
        }
        switch (g.dotted()) {
            case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2" -> {
                return rebuildTensor(args, null);
            }
            case "torch._utils._rebuild_tensor_v3" -> {
                if (args.size() < 7 || !(args.get(6) instanceof Global dt)) {
                    throw corrupt("_rebuild_tensor_v3 without a dtype");
                }
                DType dtype = DType.fromTorchName(dt.name());
                if (dtype == null) {
                    throw new ModelFormatException(file, "unsupported tensor dtype torch." + dt.name());
                }
                return rebuildTensor(args, dtype);
            }
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                return args.isEmpty() ? null : args.get(0);
            }
            case "torch._tensor._rebuild_from_type_v2", "torch._tensor._rebuild_from_type" -> {
                if (args.size() < 3) {
                    throw corrupt("_rebuild_from_type_v2 with " + args.size() + " arguments");
                }
                return call(args.get(0), argsOf(args.get(2)), how);
            }
            case "collections.OrderedDict", "builtins.dict", "collections.defaultdict", "collections.Counter" -> {
                Map<Object, Object> m = new LinkedHashMap<>();
                if (!args.isEmpty() && !g.name().equals("defaultdict") && args.get(0) instanceof List<?> pairs) {
                    for (Object p : pairs) {
                        if (p instanceof Tuple t && t.size() == 2) {
                            m.put(key(t.get(0), "a dict key"), t.get(1));
                        } else if (p instanceof List<?> l && l.size() == 2) {
                            m.put(key(l.get(0), "a dict key"), l.get(1));
                        }
                    }
                }
                return m;
            }
            case "builtins.list" -> {
                return args.isEmpty() ? new ArrayList<>() : new ArrayList<>(iterable(args.get(0)));
            }
            case "builtins.tuple", "torch.Size" -> {
                return newTuple(args.isEmpty() ? List.of() : new ArrayList<>(iterable(args.get(0))));
            }
            case "builtins.set", "builtins.frozenset" -> {
                return args.isEmpty() ? new LinkedHashSet<>() : newSet(iterable(args.get(0)));
            }
            case "_codecs.encode" -> {
                if (args.isEmpty() || !(args.get(0) instanceof String s)) {
                    throw corrupt("_codecs.encode without a string");
                }
                return new Bytes(s.getBytes(StandardCharsets.ISO_8859_1));
            }
            default -> {
                if (g.module().equals("torch") && DType.fromTorchName(g.name()) != null) {
                    return g;
                }
                if (tolerated(g)) {
                    return new Placeholder(g, new ArrayList<>(args));
                }
                throw new UnsafePickleException(file, "the pickle calls " + g.dotted() + " (" + how
                        + "), which is not on ctcf's allow-list; refused, nothing was executed");
            }
        }
    }

    private List<?> iterable(Object o) throws ModelFormatException {
        if (o instanceof List<?> l) {
            spend(l.size());
            return l;
        }
        if (o instanceof Tuple t) {
            spend(t.size());
            return t.items();
        }
        if (o instanceof Set<?> s) {
            spend(s.size());
            return new ArrayList<>(s);
        }
        throw corrupt("expected a sequence, got a " + typeName(o));
    }

    /** NEWOBJ: {@code cls.__new__(cls, *args)} — an object creation without running user code: inert. */
    private Object construct(Object cls, List<Object> args) throws ModelFormatException {
        spend(args.size() + 1);
        if (!(cls instanceof Global g)) {
            throw corrupt("NEWOBJ on a " + typeName(cls));
        }
        return switch (g.dotted()) {
            case "collections.OrderedDict", "builtins.dict", "collections.defaultdict" -> new LinkedHashMap<>();
            case "builtins.list" -> new ArrayList<>();
            case "builtins.set" -> new LinkedHashSet<>();
            default -> new Placeholder(g, new ArrayList<>(args));
        };
    }

    /** BUILD: only records state; nothing ever runs a __setstate__. */
    private void build(Object target, Object state) throws ModelFormatException {
        if (target instanceof Placeholder p) {
            p.state = state;
        } else if (target instanceof Map<?, ?> || target instanceof TensorRef || target instanceof List<?>
                || target instanceof Set<?>) {
            return; // e.g. a state_dict's _metadata: kept out of the tensors
        } else {
            throw corrupt("BUILD on a " + typeName(target));
        }
    }

    private TensorRef rebuildTensor(List<Object> args, DType dtype) throws ModelFormatException {
        if (args.size() < 4 || !(args.get(0) instanceof StorageRef s)) {
            throw corrupt("tensor rebuild without a storage");
        }
        long offset = asLong(args.get(1), "storage offset");
        long[] size = longs(args.get(2), "size");
        long[] stride = longs(args.get(3), "stride");
        if (size.length != stride.length) {
            throw corrupt("tensor size " + java.util.Arrays.toString(size) + " and stride "
                    + java.util.Arrays.toString(stride) + " differ in rank");
        }
        DType t = dtype != null ? dtype : s.dtype();
        return new TensorRef(s, t, offset, size, stride);
    }

    private long asLong(Object o, String what) throws ModelFormatException {
        if (o instanceof Long l) {
            return l;
        }
        throw corrupt(what + " is a " + typeName(o));
    }

    private long[] longs(Object o, String what) throws ModelFormatException {
        List<?> items = iterable(o);
        long[] r = new long[items.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = asLong(items.get(i), what);
        }
        return r;
    }

    private Object longBytes(long n) throws ModelFormatException {
        byte[] b = bytes(n);
        if (b.length == 0) {
            return 0L;
        }
        byte[] be = new byte[b.length];
        for (int i = 0; i < b.length; i++) {
            be[i] = b[b.length - 1 - i];
        }
        return normalize(new BigInteger(be));
    }

    private static Object normalize(BigInteger v) {
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private String pythonStringLiteral(String s) throws ModelFormatException {
        if (s.length() < 2 || (s.charAt(0) != '\'' && s.charAt(0) != '"') || s.charAt(s.length() - 1) != s.charAt(0)) {
            throw corrupt("STRING operand is not quoted");
        }
        return unescape(s.substring(1, s.length() - 1));
    }

    private static String unicodeEscape(String s) {
        return unescape(s);
    }

    private static String unescape(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\' || i + 1 >= s.length()) {
                sb.append(c);
                continue;
            }
            char n = s.charAt(++i);
            switch (n) {
                case 'n' -> sb.append('\n');
                case 't' -> sb.append('\t');
                case 'r' -> sb.append('\r');
                case '\\', '\'', '"' -> sb.append(n);
                case 'x' -> {
                    if (i + 2 < s.length()) {
                        sb.append((char) Integer.parseInt(s.substring(i + 1, i + 3), 16));
                        i += 2;
                    }
                }
                case 'u' -> {
                    if (i + 4 < s.length()) {
                        sb.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                        i += 4;
                    }
                }
                default -> sb.append('\\').append(n);
            }
        }
        return sb.toString();
    }
}
