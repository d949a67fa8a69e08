package org.ctcf.api;

import org.ctcf.core.CtcfException;
import org.ctcf.core.ErrorCode;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.ctcf.internal.NativeLib;
import org.ctcf.SharedKernel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Every kind of failure inside the kernel comes back as a Java exception; the JVM and the kernel live on. */
class NativeBoundaryTest {
    @RegisterExtension
    static final SharedKernel KERNEL = new SharedKernel();


    @Test
    void libraryReportsItsVersions() {
        assertThat(NativeLib.ensureLoaded().path()).exists();
        assertThat(Kernel.buildInfo()).startsWith("ctcf ").contains("LibTorch ");
        KERNEL.get().selfTest(0, 0);
    }

    @Test
    void libTorchShapeErrorBecomesTorchExceptionWithLibTorchsMessageAndTheNextCallWorks() {
        assertThatThrownBy(() -> KERNEL.get().selfTest(1, 0))
                .isInstanceOf(CtcfException.TorchException.class)
                .hasMessageContaining("shapes cannot be multiplied")
                .hasMessageContaining("2x3")
                .satisfies(e -> assertThat(((CtcfException) e).code()).isEqualTo(ErrorCode.TORCH));
        KERNEL.get().selfTest(0, 0);
        assertThatThrownBy(() -> KERNEL.get().selfTest(1, 0)).isInstanceOf(CtcfException.TorchException.class);
        KERNEL.get().selfTest(0, 0);
    }

    @Test
    void standardNonStandardAndAllocationExceptionsAreFenced() {
        assertThatThrownBy(() -> KERNEL.get().selfTest(2, 0)).isInstanceOf(CtcfException.class)
                .hasMessageContaining("std::runtime_error")
                .satisfies(e -> assertThat(((CtcfException) e).code()).isEqualTo(ErrorCode.INTERNAL));
        assertThatThrownBy(() -> KERNEL.get().selfTest(3, 0)).isInstanceOf(CtcfException.class)
                .hasMessageContaining("non-standard")
                .satisfies(e -> assertThat(((CtcfException) e).code()).isEqualTo(ErrorCode.UNKNOWN));
        assertThatThrownBy(() -> KERNEL.get().selfTest(4, 0))
                .isInstanceOf(CtcfException.KernelOutOfMemoryException.class);
        assertThatThrownBy(() -> KERNEL.get().selfTest(99, 0))
                .isInstanceOf(CtcfException.InvalidArgumentException.class).hasMessageContaining("unknown selftest 99");
        KERNEL.get().selfTest(0, 0);
    }

    @Test
    void unavailableDeviceIsAClearError() {
        org.junit.jupiter.api.Assumptions.assumeFalse(Kernel.buildInfo().contains("CUDA yes"), "machine has CUDA");
        assertThatThrownBy(() -> Kernel.open(new Device(Device.Kind.CUDA, 0), 0))
                .isInstanceOf(CtcfException.UnsupportedFeatureException.class).hasMessageContaining("CUDA");
    }

    @Test
    void errorCodesMapByValueNotPosition() {
        for (ErrorCode c : ErrorCode.values()) {
            assertThat(ErrorCode.fromCode(c.code())).isSameAs(c);
        }
        assertThat(ErrorCode.fromCode(2)).isEqualTo(ErrorCode.TORCH);
        assertThat(ErrorCode.fromCode(100)).isEqualTo(ErrorCode.LIBRARY_UNAVAILABLE);
        assertThat(ErrorCode.fromCode(12345)).isEqualTo(ErrorCode.UNKNOWN);
        assertThat(CtcfException.forStatus(7, "x")).isInstanceOf(CtcfException.CancelledException.class);
    }
}
