package org.ctcf.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;

import org.ctcf.core.CtcfException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The loader's search order: explicit property, then the jar-bundled copy. */
class NativeLoaderTest {
    @AfterEach
    void clear() {
        System.clearProperty(NativeLoader.PROPERTY);
    }

    @Test
    void explicitPropertyWinsAndAMissingFileIsNamed() {
        System.setProperty(NativeLoader.PROPERTY, "/nonexistent/libctcf.so");
        assertThatThrownBy(NativeLoader::load).isInstanceOf(CtcfException.NativeLibraryException.class)
                .hasMessageContaining(NativeLoader.PROPERTY).hasMessageContaining("/nonexistent/libctcf.so");

        Path built = Path.of(System.getProperty("ctcf.test.nativeDir"), "libctcf.so");
        System.setProperty(NativeLoader.PROPERTY, built.toString());
        NativeLoader.Loaded l = NativeLoader.load();
        assertThat(l.origin()).contains(NativeLoader.PROPERTY);
        assertThat(l.lookup().find("ctcf_abi_version")).isPresent();
    }

    @Test
    void withoutPropertyTheBundledCopyIsExtractedToTheCache() {
        NativeLoader.Loaded l = NativeLoader.load();
        assertThat(l.origin()).startsWith("bundled /native/" + NativeLoader.platform());
        assertThat(l.path()).exists();
        assertThat(l.path().toString()).contains("native");
    }

    @Test
    void aFileThatIsNotALibraryIsReportedWithTheReason() throws Exception {
        Path bogus = java.nio.file.Files.createTempFile("libctcf", ".so");
        try {
            java.nio.file.Files.writeString(bogus, "not an ELF file");
            System.setProperty(NativeLoader.PROPERTY, bogus.toString());
            assertThatThrownBy(NativeLoader::load).isInstanceOf(CtcfException.NativeLibraryException.class)
                    .hasMessageContaining("cannot load").hasMessageContaining(bogus.toString());
        } finally {
            java.nio.file.Files.deleteIfExists(bogus);
        }
    }
}
