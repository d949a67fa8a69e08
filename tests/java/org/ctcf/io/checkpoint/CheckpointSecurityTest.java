package org.ctcf.io.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import org.ctcf.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Crafted pickles that try to run code are refused with nothing executed; corrupt files give clear errors. */
class CheckpointSecurityTest {
    @TempDir
    Path tmp;

    private static final Path FAKE = Path.of("crafted.pkl");

    private static Object unpickle(String latin1) throws ModelFormatException {
        byte[] b = latin1.getBytes(StandardCharsets.ISO_8859_1);
        return Pickle.load(FAKE, MemorySegment.ofArray(b), 0, b.length, pid -> {
            throw new ModelFormatException(FAKE, "no persistent ids here");
        }).value();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
        // protocol 0: GLOBAL os.system + REDUCE
        "cos\nsystem\n(S'touch /tmp/ctcf-pwned'\ntR.",
        // protocol 2: builtins.eval
        "\u0080\u0002cbuiltins\neval\nq\u0000X\u0003\u0000\u0000\u00001+1q\u0001\u0085q\u0002Rq\u0003.",
        // python-2 spelling of builtins
        "c__builtin__\nexec\n(S'import os'\ntR.",
        // protocol 4: STACK_GLOBAL subprocess.Popen
        "\u0080\u0004\u008c\nsubprocess\u0094\u008c\u0005Popen\u0094\u0093\u0094]\u0094\u008c\u0002ls\u0094a\u0085R.",
        // INST os.system
        "(S'ls'\nios\nsystem\n.",
        // OBJ with a GLOBAL os.system
        "(cos\nsystem\nS'ls'\no.",
        // posix.system (what os.system pickles as on Linux)
        "cposix\nsystem\n(S'ls'\ntR.",
        // shutil.rmtree via BUILD-less REDUCE
        "cshutil\nrmtree\n(S'/'\ntR.",
        // builtins.getattr on an imported module: refused at the import
        "cbuiltins\ngetattr\n(cos\nenviron\nS'x'\ntR."})
    void codeRunningGlobalsAreRefused(String pickle) {
        assertThatThrownBy(() -> unpickle(pickle)).isInstanceOf(ModelFormatException.UnsafePickleException.class)
                .hasMessageContaining("refused").hasMessageContaining("nothing was executed");
        assertThat(Path.of("/tmp/ctcf-pwned")).doesNotExist();
    }

    @Test
    void aNonAllowListedCallableIsRefusedButAnUnknownClassIsAnInertPlaceholder() throws ModelFormatException {
        assertThatThrownBy(() -> unpickle("cmylab.tools\nprepare\n(S'x'\ntR."))
                .isInstanceOf(ModelFormatException.UnsafePickleException.class)
                .hasMessageContaining("mylab.tools.prepare").hasMessageContaining("allow-list");
        // NEWOBJ + BUILD of an unknown class: kept as data, not run.
        Object o = unpickle("\u0080\u0002cmylab.cfg\nConfig\n)\u0081}X\u0001\u0000\u0000\u0000aK\u0001sb.");
        assertThat(o).isInstanceOf(Pickle.Placeholder.class);
        Pickle.Placeholder p = (Pickle.Placeholder) o;
        assertThat(p.type().dotted()).isEqualTo("mylab.cfg.Config");
        assertThat(p.state()).isEqualTo(Map.of("a", 1L));
        // A tolerated Lightning class called via REDUCE: inert too.
        Object cb = unpickle("cpytorch_lightning.callbacks.model_checkpoint\nModelCheckpoint\n)R.");
        assertThat(cb).isInstanceOf(Pickle.Placeholder.class);
        // Containers and scalars decode as data.
        Object d = unpickle("\u0080\u0002}(X\u0001\u0000\u0000\u0000kG@\t!\u00fbTD-\u0018\u0088]K\u0007au.");
        assertThat(d).isEqualTo(Map.of("k", Math.PI, true, java.util.List.of(7L)));
    }

    @Test
    void aMaliciousPickleInsideAZipCheckpointIsRefused() throws IOException {
        Path ckpt = tmp.resolve("evil.ckpt");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(ckpt))) {
            z.putNextEntry(new ZipEntry("evil/data.pkl"));
            z.write("\u0080\u0002cos\nsystem\nX\u0002\u0000\u0000\u0000ls\u0085R.".getBytes(StandardCharsets.ISO_8859_1));
            z.closeEntry();
            z.putNextEntry(new ZipEntry("evil/version"));
            z.write("3\n".getBytes(StandardCharsets.US_ASCII));
            z.closeEntry();
        }
        assertThatThrownBy(() -> Checkpoint.open(ckpt)).isInstanceOf(ModelFormatException.UnsafePickleException.class)
                .hasMessageContaining("evil.ckpt").hasMessageContaining("os.system");
    }

    @Test
    void truncatedAndCorruptFilesGiveClearErrors() throws IOException {
        byte[] zip = Files.readAllBytes(TestPaths.vqgan("tiny_vqgan.ckpt"));
        Path half = tmp.resolve("half.ckpt");
        Files.write(half, Arrays.copyOf(zip, zip.length / 2));
        assertThatThrownBy(() -> Checkpoint.open(half)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("half.ckpt").hasMessageContaining("end-of-central-directory");

        byte[] legacy = Files.readAllBytes(TestPaths.vqgan("tiny_vqgan_legacy.pth"));
        Path cut = tmp.resolve("cut.pth");
        Files.write(cut, Arrays.copyOf(legacy, legacy.length - 100));
        assertThatThrownBy(() -> Checkpoint.open(cut)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("cut.pth").hasMessageContaining("truncated");

        Path junk = tmp.resolve("junk.pth");
        Files.writeString(junk, "definitely not a checkpoint");
        assertThatThrownBy(() -> Checkpoint.open(junk)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("not a PyTorch checkpoint");
    }

    /**
     * Issue 32's model files. A list that contains itself, used as a dict key (StackOverflowError and a 1,028-line
     * trace before), a set member or inside a tuple key: refused as Python refuses them ("unhashable type").
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
        // d = {}; l = []; l.append(l); d[l] = 1
        "\u0080\u0002}]q\u0001h\u0001aK\u0001s.",
        // the same list as a member of a set
        "\u0080\u0004\u008f]q\u0001h\u0001a0(h\u0001\u0090.",
        // a tuple holding a dict, as a key
        "\u0080\u0002}}\u0085K\u0001s.",
        // a dict key through DICT (MARK ... d)
        "\u0080\u0002(]K\u0001d."})
    void unhashableKeysAreRefusedAsPythonRefusesThem(String pickle) {
        assertThatThrownBy(() -> unpickle(pickle)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("unhashable type").hasMessageContaining("crafted.pkl");
    }

    /** 2^100 paths through a 200-byte pickle: hashing, equality and nesting stay linear, or are refused. */
    @Test
    void hashBombsAndDeepNestingAreBoundedWork() {
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(20), () -> {
            String doubling = "2\u0086".repeat(100);  // t = (t, t), a hundred times
            // two equal 2^100-leaf tuples built apart, both used as keys: one entry, as in Python
            Object d = unpickle("\u0080\u0002}K\u0001\u0085" + doubling + "K\u0001sK\u0001\u0085" + doubling
                    + "K\u0002s.");
            assertThat(d).isInstanceOf(Map.class);
            assertThat(new java.util.ArrayList<Object>(((Map<?, ?>) d).values())).containsExactly(2L);
            // tuples nested 20,000 deep: refused, no StackOverflowError
            assertThatThrownBy(() -> unpickle("\u0080\u0002K\u0001" + "\u0085".repeat(20_000) + "."))
                    .isInstanceOf(ModelFormatException.class).hasMessageContaining("nested");
            // lists nested 100,000 deep as a key: refused as unhashable without walking them
            assertThatThrownBy(() -> unpickle("\u0080\u0002}" + "]".repeat(100_000) + "a".repeat(99_999)
                    + "K\u0001s.")).isInstanceOf(ModelFormatException.class).hasMessageContaining("unhashable");
            // a 100,000-item list copied by list(l) 100,000 times (10^10 copies): refused by the work budget
            StringBuilder b = new StringBuilder("\u0080\u0002cbuiltins\nlist\nq\u0000](");
            b.append("K\u0001".repeat(100_000)).append("eq\u0001");
            b.append("h\u0000h\u0001\u0085R0".repeat(100_000)).append("N.");
            assertThatThrownBy(() -> unpickle(b.toString())).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining("bomb");
            // a memoised 100,000-item tuple passed to a placeholder's class 20,000 times (2 * 10^9 items kept)
            StringBuilder c = new StringBuilder("\u0080\u0002comegaconf\nDictConfig\nq\u0000(");
            c.append("K\u0001".repeat(100_000)).append("tq\u0001");
            c.append("h\u0000h\u0001R0".repeat(20_000)).append("N.");
            assertThatThrownBy(() -> unpickle(c.toString())).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining("bomb");
            // a decimal integer of a million digits (Python refuses more than 4300)
            assertThatThrownBy(() -> unpickle("L" + "9".repeat(1_000_000) + "L\n.")).isInstanceOf(
                    ModelFormatException.class).hasMessageContaining("digits");
        });
    }

    /** A legacy file whose protocol pickle is a list nested 200,000 deep: one clear error, no StackOverflowError. */
    @Test
    void aLegacyHeaderOfDeepNestingIsAClearError() throws IOException {
        String magic = "\u0080\u0002\u008a\nl\u00fc\u009cF\u00f9 j\u00a8P\u0019.";
        Path deep = tmp.resolve("deep.pth");
        Files.write(deep, (magic + "\u0080\u0002" + "]".repeat(200_000) + "a".repeat(199_999) + ".")
                .getBytes(StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> Checkpoint.open(deep)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("deep.pth").hasMessageContaining("protocol version a ArrayList");
    }

    private static byte[] safetensors(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length);
        b.put(h);
        return b.array();
    }

    @Test
    void safetensorsOffsetsAndDtypesAreChecked() throws IOException {
        Path past = tmp.resolve("past.safetensors");
        Files.write(past, safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8));
        assertThatThrownBy(() -> Checkpoint.open(past)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("past.safetensors").hasMessageContaining("tensor w")
                .hasMessageContaining("past the end");

        Path dtype = tmp.resolve("dtype.safetensors");
        Files.write(dtype, safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}", 8));
        assertThatThrownBy(() -> Checkpoint.open(dtype)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("tensor w").hasMessageContaining("do not hold 16 bytes");

        Path gap = tmp.resolve("gap.safetensors");
        Files.write(gap, safetensors("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,8]}}", 8));
        assertThatThrownBy(() -> Checkpoint.open(gap)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("tile the buffer");

        Path dup = tmp.resolve("dup.safetensors");
        Files.write(dup, safetensors("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4));
        assertThatThrownBy(() -> Checkpoint.open(dup)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("not valid JSON");

        Path unknown = tmp.resolve("c64.safetensors");
        Files.write(unknown, safetensors("{\"z\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8));
        assertThatThrownBy(() -> Checkpoint.open(unknown)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("tensor z").hasMessageContaining("unsupported dtype C64");

        Path lying = tmp.resolve("lying.safetensors");
        byte[] b = safetensors("{}", 0);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, Long.MAX_VALUE);
        Files.write(lying, b);
        assertThatThrownBy(() -> Checkpoint.open(lying)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("header length");
    }

    @Test
    void storageOffsetsPastTheEndAreCaught() throws IOException {
        // A zip checkpoint whose tensor view (offset 10, size 4) does not fit its 8-element storage.
        ByteArrayOutputStream pkl = new ByteArrayOutputStream();
        String p = "\u0080\u0002}X\u0001\u0000\u0000\u0000wctorch._utils\n_rebuild_tensor_v2\n("
                + "(X\u0007\u0000\u0000\u0000storagectorch\nFloatStorage\nX\u0001\u0000\u0000\u00000"
                + "X\u0003\u0000\u0000\u0000cpuK\u0008tQ"
                + "K\n" + "K\u0004\u0085K\u0001\u0085\u0089" + "ccollections\nOrderedDict\n)R" + "tRs.";
        pkl.write(p.getBytes(StandardCharsets.ISO_8859_1));
        Path ckpt = tmp.resolve("offset.pth");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(ckpt))) {
            z.putNextEntry(new ZipEntry("offset/data.pkl"));
            z.write(pkl.toByteArray());
            z.closeEntry();
            z.putNextEntry(new ZipEntry("offset/data/0"));
            z.write(new byte[32]);
            z.closeEntry();
        }
        assertThatThrownBy(() -> Checkpoint.open(ckpt)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("offset.pth").hasMessageContaining("tensor w")
                .hasMessageContaining("past the end of its storage");
    }
}
