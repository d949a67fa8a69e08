package org.ctcf.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

import org.ctcf.core.Affine;
import org.ctcf.api.Metrics;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;
import org.ctcf.train.ModelCards;
import org.ctcf.train.Nodules;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ctcf train insert-nodule}: one seeded synthetic nodule inside the lungs of a CT, with its position. */
@Command(mixinStandardHelpOptions = true, name = "insert-nodule", description = {
    "Insert a synthetic soft-tissue nodule (smooth edge, noise) at a seeded random position inside a lung mask.",
    "Writes the volume (same grid and affine) and OUT.json with the nodule's centre (voxel and world mm), size and "
            + "density: ground truth for checking where an explanation localizes."})
final class InsertNoduleCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "VOLUME", description = "CT in HU.")
    Path input;

    @Option(names = "--mask", required = true, paramLabel = "FILE", description = "Lung mask on the CT's grid.")
    Path mask;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE", description = "Output volume (.nii.gz).")
    Path out;

    @Option(names = "--seed", defaultValue = "0", description = "Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--diameter", paramLabel = "MM", description = "Fix the diameter (default: random 5-20 mm).")
    Double diameter;

    @Option(names = "--margin", defaultValue = "2", paramLabel = "VOXELS",
            description = "Keep the centre this many mask voxels inside the lung (erosion). Default: ${DEFAULT-VALUE}.")
    int margin;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        var o = spec.commandLine().getOut();
        try (Volume ct = VolumeIO.read(input); Volume m = VolumeIO.read(mask)) {
            if (!ct.geometry().sameGrid(m.geometry(), 1e-3)) {
                throw new IllegalArgumentException(mask + ": the mask's grid " + m.geometry() + " differs from the CT's "
                        + ct.geometry());
            }
            float[] lm = Metrics.toArray(m);
            int nx = ct.nx();
            int ny = ct.ny();
            int nz = ct.nz();
            List<Integer> inside = new java.util.ArrayList<>();
            for (int z = margin; z < nz - margin; z++) {
                for (int y = margin; y < ny - margin; y++) {
                    for (int x = margin; x < nx - margin; x++) {
                        boolean ok = true;
                        for (int d = -margin; d <= margin && ok; d++) {
                            ok = lm[(z * ny + y) * nx + x + d] > 0.5f && lm[(z * ny + y + d) * nx + x] > 0.5f
                                    && lm[((z + d) * ny + y) * nx + x] > 0.5f;
                        }
                        if (ok) {
                            inside.add((z * ny + y) * nx + x);
                        }
                    }
                }
            }
            if (inside.isEmpty()) {
                throw new IllegalArgumentException(mask + ": no lung voxel " + margin + " voxels inside the mask");
            }
            SplittableRandom r = new SplittableRandom(seed);
            int v = inside.get(r.nextInt(inside.size()));
            int vx = v % nx;
            int vy = (v / nx) % ny;
            int vz = v / (nx * ny);
            double[] w = Affine.apply(ct.geometry().affine(), vx, vy, vz);
            Nodules.Nodule n = Nodules.random(r, w[0], w[1], w[2]);
            if (diameter != null) {
                double f = diameter / n.diameter();
                n = new Nodules.Nodule(n.x(), n.y(), n.z(), n.ax() * f, n.ay() * f, n.az() * f, n.hu(), n.noise(),
                        n.edge());
            }
            float[] data = Metrics.toArray(ct);
            int changed = Nodules.insert(data, nx, ny, nz, ct.geometry().affine(), n, 1, 0, r);
            try (Volume res = Volume.of(ct.geometry(), data)) {
                VolumeIO.write(res, out);
            }
            Map<String, Object> rec = new LinkedHashMap<>();
            rec.put("source", input.getFileName().toString());
            rec.put("mask", mask.getFileName().toString());
            rec.put("seed", seed);
            rec.put("center_voxel", new int[] {vx, vy, vz});
            rec.put("center_world_mm", w);
            rec.put("semi_axes_mm", new double[] {n.ax(), n.ay(), n.az()});
            rec.put("diameter_mm", n.diameter());
            rec.put("density_hu", n.hu());
            rec.put("noise_hu", n.noise());
            rec.put("edge_mm", n.edge());
            rec.put("voxels_changed", changed);
            Path json = out.resolveSibling(out.getFileName().toString().replaceFirst("(\\.nii)?(\\.gz)?$", "") + ".json");
            ModelCards.write(json, rec);
            o.printf(Locale.ROOT, "nodule %.1f mm, %.0f HU at voxel (%d, %d, %d) = world (%.1f, %.1f, %.1f) mm; wrote %s "
                    + "and %s%n", n.diameter(), n.hu(), vx, vy, vz, w[0], w[1], w[2], out, json);
            Files.size(out);
        }
        o.flush();
        return ExitCode.OK.code();
    }
}
