package org.ctcf.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.ctcf.core.Volume;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;

/**
 * Property: any mutation or truncation of a valid volume file either still reads, or fails with an
 * IOException that names the file. Never another exception, never an OutOfMemoryError from a header that lies
 * about its size, never a JVM crash. 1500 generated files per run (jqwik reports the seed of a failure).
 */
class MalformedInputPropertyTest {
    private static final Path DIR;
    private static final List<Seed> SEEDS;

    record Seed(String suffix, byte[] bytes) {
    }

    record Mutation(int seed, int kind, int offset, long value, int cut) {
    }

    static {
        try {
            DIR = Files.createTempDirectory("ctcf-fuzz");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        TestVolumes.Nifti le = new TestVolumes.Nifti();
        TestVolumes.Nifti be = new TestVolumes.Nifti();
        be.order = ByteOrder.BIG_ENDIAN;
        be.datatype = 16;
        TestVolumes.Nifti v2 = new TestVolumes.Nifti();
        v2.version = 2;
        v2.datatype = 64;
        TestVolumes.Nifti q = new TestVolumes.Nifti();
        q.sformCode = 0;
        q.qformCode = 1;
        q.quatern = new double[] {0.1, 0.2, 0.3, 1, 2, 3};
        SEEDS = List.of(new Seed(".nii", le.bytes()), new Seed(".nii", be.bytes()), new Seed(".nii", v2.bytes()),
                new Seed(".nii", q.bytes()), new Seed(".nii.gz", TestVolumes.gzip(le.bytes())),
                new Seed(".nii.gz", TestVolumes.gzip(v2.bytes())), new Seed(".mha", TestVolumes.mha(6, 5, 4, false, false)),
                new Seed(".mha", TestVolumes.mha(6, 5, 4, true, true)));
    }

    @AfterContainer
    static void cleanUp() throws IOException {
        try (var files = Files.list(DIR)) {
            for (Path p : files.toList()) {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(DIR);
    }

    @Provide
    Arbitrary<Mutation> mutations() {
        return Combinators.combine(Arbitraries.integers().between(0, SEEDS.size() - 1),
                Arbitraries.integers().between(0, 5), Arbitraries.integers().between(0, 700),
                Arbitraries.oneOf(Arbitraries.longs(), Arbitraries.of(0L, -1L, 1L, 32767L, (long) Integer.MAX_VALUE,
                        Long.MAX_VALUE, Long.MIN_VALUE, (long) Float.floatToIntBits(Float.NaN))),
                Arbitraries.integers().between(0, 2000)).as(Mutation::new);
    }

    @Property(tries = 1500)
    void mutatedFilesReadOrFailCleanly(@ForAll("mutations") Mutation m) throws IOException {
        Seed seed = SEEDS.get(m.seed());
        byte[] b = seed.bytes().clone();
        switch (m.kind()) {
            case 0 -> b = java.util.Arrays.copyOf(b, Math.min(b.length - 1, m.cut()));              // truncate
            case 1 -> b[m.offset() % b.length] ^= (byte) (m.value() | 1);                            // flip a byte
            case 2 -> putShort(b, m.offset(), (short) m.value());                                    // a 16-bit field
            case 3 -> putInt(b, m.offset(), (int) m.value());                                        // a 32-bit field
            case 4 -> putLong(b, m.offset(), m.value());                                             // a 64-bit field
            default -> {                                                                             // many flips
                java.util.Random r = new java.util.Random(m.value());
                for (int i = 0; i < 1 + m.cut() % 16; i++) {
                    b[r.nextInt(b.length)] ^= (byte) (1 + r.nextInt(255));
                }
            }
        }
        Path file = DIR.resolve("case" + System.nanoTime() + seed.suffix());
        Files.write(file, b);
        try (Volume v = VolumeIO.read(file)) {
            // Still a valid volume: geometry consistent with the voxel count.
            if (v.voxelCount() != (long) v.nx() * v.ny() * v.nz()) {
                throw new AssertionError("inconsistent volume from " + file);
            }
        } catch (IOException e) {
            if (e.getMessage() == null || !e.getMessage().contains(file.getFileName().toString())) {
                throw new AssertionError("error does not name the file: " + e, e);
            }
        } catch (Throwable t) {
            throw new AssertionError("unclean failure for mutation " + m + " of seed " + m.seed() + ": " + t, t);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static void putShort(byte[] b, int off, short v) {
        if (off + 2 <= b.length) {
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putShort(off, v);
        }
    }

    private static void putInt(byte[] b, int off, int v) {
        if (off + 4 <= b.length) {
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(off, v);
        }
    }

    private static void putLong(byte[] b, int off, long v) {
        if (off + 8 <= b.length) {
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(off, v);
        }
    }
}
