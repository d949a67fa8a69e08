package org.ctcf;

import org.ctcf.api.Kernel;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One CPU {@link Kernel} for all tests of a class, opened before the first and closed after the last:
 * {@code @RegisterExtension static final SharedKernel KERNEL = new SharedKernel();} then {@code KERNEL.get()}.
 */
public final class SharedKernel implements BeforeAllCallback, AfterAllCallback {
    private Kernel kernel;

    @Override
    public void beforeAll(ExtensionContext context) {
        kernel = Kernel.open();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (kernel != null) {
            kernel.close();
            kernel = null;
        }
    }

    /** The class's kernel; only between its first and last test. */
    public Kernel get() {
        if (kernel == null) {
            throw new IllegalStateException("SharedKernel used outside its test class (register it with "
                    + "@RegisterExtension on a static field)");
        }
        return kernel;
    }
}
