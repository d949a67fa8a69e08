package org.ctcf.io.checkpoint;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.OptionalLong;

/** What a TorchScript archive says about itself before LibTorch reads it (parsed here, in Java). */
public final class TorchScriptFiles {
    private TorchScriptFiles() {
    }

    /**
     * The archive's file-format version (its {@code .data/version} or {@code version} record: the version of the
     * PyTorch serializer that wrote it), or empty when the file is no zip or has no such record.
     */
    public static OptionalLong fileFormatVersion(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            ZipIndex z = ZipIndex.read(file, seg);
            String root = z.prefix();
            for (String name : new String[] {root + ".data/version", root + "version"}) {
                if (z.has(name)) {
                    MemorySegment d = z.data(name);
                    if (d.byteSize() > 32) {
                        return OptionalLong.empty();
                    }
                    String text = new String(d.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                            StandardCharsets.US_ASCII).strip();
                    return OptionalLong.of(Long.parseLong(text));
                }
            }
        } catch (IOException | RuntimeException e) {
            // not an archive we can read: LibTorch will say what is wrong with it
        }
        return OptionalLong.empty();
    }
}
