package org.ctcf.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.ctcf.core.Affine;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ctcf info}: what a volume file holds — format, dims, spacing, orientation, HU range, affine. */
@Command(mixinStandardHelpOptions = true, name = "info", description = "Show a volume's format, dims, spacing, orientation, value range and affine.")
final class InfoCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    SeriesOption seriesOption = new SeriesOption();

    @Parameters(index = "0", paramLabel = "VOLUME", description = "A .nii, .nii.gz, .mha or .mhd file, or DICOM: a folder, a DICOMDIR or a DICOM file (several series are listed; pick one with --series).")
    Path file;

    @Option(names = "--header-only", description = "Do not read voxels (no value range).")
    boolean headerOnly;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        VolumeIO.Info info = VolumeIO.info(file, seriesOption.readOptions());
        Geometry g = info.geometry();
        var out = spec.commandLine().getOut();
        double[] s = g.spacing();
        double[] o = g.origin();
        out.printf(Locale.ROOT, "file:         %s%n", org.ctcf.core.Text.printable(file.toString()));
        out.printf(Locale.ROOT, "format:       %s%n", org.ctcf.core.Text.printableLines(info.detail()));
        out.printf(Locale.ROOT, "dims:         %d x %d x %d (%d voxels)%n", g.nx(), g.ny(), g.nz(), g.voxelCount());
        out.printf(Locale.ROOT, "spacing (mm): %.6g x %.6g x %.6g%n", s[0], s[1], s[2]);
        out.printf(Locale.ROOT, "orientation:  %s%n", g.orientationCode());
        out.printf(Locale.ROOT, "origin (mm):  %.4f, %.4f, %.4f (RAS+)%n", o[0], o[1], o[2]);
        if (!headerOnly) {
            try (Volume v = VolumeIO.read(file, seriesOption.readOptions())) {
                Volume.VoxelStats st = v.stats();
                out.printf(Locale.ROOT, "value range:  %.6g .. %.6g (mean %.6g)%n", st.min(), st.max(), st.mean());
            }
        }
        out.println("affine (voxel -> RAS+ mm):");
        for (String line : Affine.format(g.affine()).split("\n")) {
            out.println("  " + line);
        }
        out.flush();
        return ExitCode.OK.code();
    }
}
