package org.ctcf.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.ctcf.io.AtomicFiles;
import org.ctcf.io.NiftiWriter;
import org.ctcf.io.VolumeIO;
import org.ctcf.io.dicom.Derivation;
import org.ctcf.io.dicom.DicomSource;
import org.ctcf.io.dicom.DicomUids;
import org.ctcf.io.dicom.DicomWriter;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ctcf bench io}: reading a CT series from uncompressed DICOM (one file per slice, Explicit VR Little
 * Endian, int16) against reading the same voxels from an uncompressed int16 NIfTI, in the same run; prints both
 * times and their ratio (the goal: DICOM at most 2× NIfTI).
 */
@Command(mixinStandardHelpOptions = true, name = "io", description = {
    "Time reading an uncompressed DICOM series against the same voxels as an uncompressed NIfTI.",
    "Writes a synthetic int16 CT (default 512 x 512 x 300) both ways into a temporary folder, then reads each "
            + "--repeats times, interleaved, and prints the medians and the ratio DICOM / NIfTI."})
final class BenchIoCommand implements Callable<Integer> {
    @Option(names = "--size", defaultValue = "512", description = "Rows and columns. Default: ${DEFAULT-VALUE}.")
    int size;

    @Option(names = "--slices", defaultValue = "300", description = "Slices. Default: ${DEFAULT-VALUE}.")
    int slices;

    @Option(names = "--repeats", defaultValue = "5", description = "Reads of each. Default: ${DEFAULT-VALUE}.")
    int repeats;

    @Option(names = "--dir", paramLabel = "DIR", description = "Work folder (kept). Default: a temporary folder, "
            + "deleted afterwards.")
    Path dir;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (size < 16 || slices < 2 || repeats < 1) {
            throw new IllegalArgumentException("--size must be >= 16, --slices >= 2, --repeats >= 1");
        }
        var o = spec.commandLine().getOut();
        Path work = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("ctcf-bench-io");
        try {
            Path nifti = work.resolve("bench.nii");
            Path series = work.resolve("dicom");
            Geometry g = Geometry.of(size, size, slices, 0.7, 0.7, 1.0, -0.35 * size, -0.35 * size, -slices / 2.0);
            try (Volume v = Volume.allocate(g)) {
                fill(v);
                AtomicFiles.write(nifti, NiftiWriter.encodeInt16(v, false));
                DicomWriter.writeDerivedCt(v, source(slices), series, new Derivation("ctcf bench io", "none", "none",
                        0, 0));
            }
            o.printf(Locale.ROOT, "bench io: %d x %d x %d int16, NIfTI %.1f MB, DICOM %d files %.1f MB (%s)%n", size,
                    size, slices, Files.size(nifti) / 1e6, count(series), bytes(series) / 1e6, work);
            o.flush();
            double[] tn = new double[repeats];
            double[] td = new double[repeats];
            double checkN = 0;
            double checkD = 0;
            for (int r = 0; r < repeats; r++) {  // interleaved, so drift in the machine's speed hits both alike
                long t0 = System.nanoTime();
                try (Volume a = VolumeIO.read(nifti)) {
                    tn[r] = (System.nanoTime() - t0) / 1e9;
                    checkN = a.get(size / 3, size / 2, slices / 2);
                }
                t0 = System.nanoTime();
                try (Volume b = VolumeIO.read(series)) {
                    td[r] = (System.nanoTime() - t0) / 1e9;
                    checkD = b.get(size / 3, size / 2, slices / 2);
                }
            }
            if (checkN != checkD) {
                throw new IllegalStateException("the two reads differ at one voxel: " + checkN + " vs " + checkD);
            }
            double mn = median(tn);
            double md = median(td);
            o.printf(Locale.ROOT, "NIfTI (uncompressed) read: median %.3f s (%s)%n", mn, list(tn));
            o.printf(Locale.ROOT, "DICOM (uncompressed) read: median %.3f s (%s)%n", md, list(td));
            o.printf(Locale.ROOT, "ratio DICOM / NIfTI: %.2f (goal: <= 2.00)%n", md / mn);
            o.flush();
            return ExitCode.OK.code();
        } finally {
            if (dir == null) {
                delete(work);
            }
        }
    }

    /** A CT-like pattern in HU: body disc of soft tissue with some structure, air outside. */
    static void fill(Volume v) {
        java.util.Random r = new java.util.Random(1);
        int n = v.nx();
        for (int z = 0; z < v.nz(); z++) {
            for (int y = 0; y < v.ny(); y++) {
                for (int x = 0; x < n; x++) {
                    double d = Math.hypot(x - n / 2.0, y - v.ny() / 2.0) / (0.45 * n);
                    v.set(x, y, z, (float) Math.rint(d < 1 ? 40 + 300 * Math.sin(0.05 * x + 0.03 * z)
                            * Math.cos(0.04 * y) + 20 * r.nextGaussian() : -1000));
                }
            }
        }
    }

    static DicomSource source(int slices) {
        String study = DicomUids.newUid();
        List<DicomSource.DicomElement> kept = List.of(DicomSource.DicomElement.text(0x00100010, "PN", "Bench^Io"),
                DicomSource.DicomElement.text(0x00100020, "LO", "BENCH"), DicomSource.DicomElement.text(0x0020000D, "UI", study),
                DicomSource.DicomElement.text(0x00200052, "UI", DicomUids.newUid()));
        List<DicomSource.Instance> inst = new ArrayList<>();
        for (int k = 0; k < slices; k++) {
            inst.add(new DicomSource.Instance(DicomWriter.CT_IMAGE_STORAGE, DicomUids.newUid(), 1));
        }
        return new DicomSource(kept, inst, "CT", DicomUids.newUid(), "bench", DicomWriter.EXPLICIT_VR_LITTLE_ENDIAN,
                16, 16, 1, 1, 0);
    }

    private static double median(double[] t) {
        double[] s = t.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static String list(double[] t) {
        StringBuilder b = new StringBuilder();
        for (double x : t) {
            b.append(b.isEmpty() ? "" : ", ").append(String.format(Locale.ROOT, "%.3f", x));
        }
        return b.toString();
    }

    private static long count(Path d) throws IOException {
        try (var s = Files.list(d)) {
            return s.count();
        }
    }

    private static long bytes(Path d) throws IOException {
        try (var s = Files.walk(d)) {
            return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    private static void delete(Path d) throws IOException {
        try (var s = Files.walk(d)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
