package org.ctcf.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.ctcf.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The post-link check of the native build (cmake/CtcfCheckTorchLinks.cmake) on the kernel this build made: it
 * passes for the LibTorch the build used and fails, listing the libraries, for any other folder — what a kernel
 * that mixed Debian's libc10 with a wheel's libtorch would meet.
 */
class TorchLinkCheckTest {
    @TempDir
    Path tmp;

    record Run(int code, String output) {
    }

    static Run check(Path lib, Path torchLibDir) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("cmake", "-DLIB=" + lib, "-DTORCH_LIB_DIR=" + torchLibDir, "-P",
                TestPaths.root().resolve("cmake/CtcfCheckTorchLinks.cmake").toString()).redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(p.waitFor(), out);
    }

    @Test
    void everyLibTorchLibraryOfTheKernelResolvesIntoTheLibTorchItWasBuiltAgainst() throws Exception {
        Path lib = Path.of(System.getProperty("ctcf.test.nativeDir"), "libctcf.so");
        Path prefix = Path.of(Files.readString(TestPaths.root().resolve("target/.libtorch")).strip());
        Path torchLib = Files.isDirectory(prefix.resolve("lib")) ? prefix.resolve("lib") : prefix;
        Run ok = check(lib, torchLib);
        assertThat(ok.code()).as(ok.output()).isEqualTo(0);
        assertThat(ok.output()).contains("resolve into");
        Run mixed = check(lib, tmp);
        assertThat(mixed.code()).isNotEqualTo(0);
        assertThat(mixed.output()).contains("mixes LibTorch builds").contains("libc10.so => " + torchLib);
    }
}
