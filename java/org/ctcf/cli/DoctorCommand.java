package org.ctcf.cli;

import java.util.concurrent.Callable;

import org.ctcf.api.Kernel;
import org.ctcf.internal.NativeLib;
import org.ctcf.internal.NativeLoader;

import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;

/** {@code ctcf doctor}: where the native library came from, what it was built with, and a kernel self-test. */
@Command(mixinStandardHelpOptions = true, name = "doctor", description = "Check the native kernel: library location, LibTorch version, self-test.")
final class DoctorCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        var out = spec.commandLine().getOut();
        out.println("ctcf:           " + Main.version());
        out.println("java:           " + Runtime.version() + " (" + System.getProperty("java.home") + ")");
        out.println("native access:  " + (DoctorCommand.class.getModule().isNativeAccessEnabled() ? "enabled"
                : "NOT enabled — " + NativeLoader.nativeAccessHint()));
        out.println("platform:       " + NativeLoader.platform());
        NativeLoader.Loaded lib = NativeLib.ensureLoaded();
        out.println("native library: " + lib.path() + " (" + lib.origin() + ")");
        out.println("build:          " + Kernel.buildInfo());
        try (Kernel k = Kernel.open()) {
            k.selfTest(0, 0);
            out.println("self-test:      ok (LibTorch matmul on cpu)");
        }
        out.flush();
        return ExitCode.OK.code();
    }
}
