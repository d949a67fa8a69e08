package org.ctcf.api;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This process's resident memory from {@code /proc/self/status} (Linux): current (VmRSS) and peak (VmHWM), and a
 * reset of the peak (writing 5 to {@code /proc/self/clear_refs}). Elsewhere every value is -1.
 */
public final class ProcessMemory {
    private ProcessMemory() {
    }

    /** Starts a new peak measurement from the current resident size (best effort). */
    public static void resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (Exception e) {
            // not Linux or not permitted: the peak then includes earlier work
        }
    }

    public static double peakMiB() {
        return field("VmHWM:");
    }

    public static double residentMiB() {
        return field("VmRSS:");
    }

    private static double field(String name) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(name)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
                }
            }
        } catch (Exception e) {
            return -1;
        }
        return -1;
    }
}
