package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;
import org.ctcf.core.Affine;
import org.ctcf.core.CtcfException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.util.Random;

import org.ctcf.SharedKernel;
import org.ctcf.TestPaths;
import org.ctcf.io.VolumeIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The kernel's preprocessing against an independent plain-Java reference and on a real chest CT. */
class PreprocessTest {
    @RegisterExtension
    static final SharedKernel KERNEL = new SharedKernel();


    /**
     * Plain-Java reference: each output voxel's world position (output affine) mapped into the input's continuous
     * voxel index (inverse input affine), trilinear with border clamping, then the window; voxels outside the
     * resampled grid are padding. Independent of the kernel's axis bookkeeping.
     */
    static double reference(Volume in, PreprocessPlan plan, PreprocessOptions o, int x, int y, int z) {
        int[] q = {x, y, z};
        int[] out = plan.output().dims();
        int[] res = plan.resampledDims();
        for (int a = 0; a < 2; a++) {
            int size = a == 0 ? o.inPlaneX() : o.inPlaneY();
            if (size > 0) {
                int shift = res[a] < size ? -((size - res[a]) / 2) : (res[a] - size) / 2;
                int s = q[a] + shift;
                if (s < 0 || s >= res[a]) {
                    return o.padValue();
                }
            }
        }
        double[] w = Affine.apply(plan.output().affine(), x, y, z);
        double[] c = Affine.apply(Affine.inverse(in.geometry().affine()), w[0], w[1], w[2]);
        int[] n = in.geometry().dims();
        int[] lo = new int[3];
        int[] hi = new int[3];
        double[] f = new double[3];
        for (int a = 0; a < 3; a++) {
            double p = Math.min(Math.max(c[a], 0), n[a] - 1);
            lo[a] = (int) Math.floor(p);
            if (lo[a] > n[a] - 1) {
                lo[a] = n[a] - 1;
            }
            hi[a] = Math.min(lo[a] + 1, n[a] - 1);
            f[a] = p - lo[a];
        }
        double v = 0;
        for (int dz = 0; dz < 2; dz++) {
            for (int dy = 0; dy < 2; dy++) {
                for (int dx = 0; dx < 2; dx++) {
                    double wt = (dx == 0 ? 1 - f[0] : f[0]) * (dy == 0 ? 1 - f[1] : f[1]) * (dz == 0 ? 1 - f[2] : f[2]);
                    v += wt * in.get(dx == 0 ? lo[0] : hi[0], dy == 0 ? lo[1] : hi[1], dz == 0 ? lo[2] : hi[2]);
                }
            }
        }
        if (o.windowEnabled()) {
            v = Math.min(Math.max((v - o.windowLow()) / (o.windowHigh() - o.windowLow()), 0), 1);
        }
        return v;
    }

    static Volume randomVolume(Random r, double[] affine, int nx, int ny, int nz) {
        Volume v = Volume.allocate(new Geometry(nx, ny, nz, affine));
        for (int z = 0; z < nz; z++) {
            for (int y = 0; y < ny; y++) {
                for (int x = 0; x < nx; x++) {
                    v.set(x, y, z, (float) (r.nextDouble() * 2600 - 1300));
                }
            }
        }
        return v;
    }

    /** Axis-aligned affines in several orientations (permutations and flips), origin anywhere. */
    static double[] orientedAffine(int variant, double[] spacing) {
        int[][] perms = {{0, 1, 2}, {1, 0, 2}, {2, 0, 1}, {0, 2, 1}};
        int[] perm = perms[variant % perms.length];
        double[] a = new double[16];
        for (int c = 0; c < 3; c++) {
            int w = perm[c];
            double sign = ((variant >> (c + 2)) & 1) == 1 ? -1 : 1;
            a[w * 4 + c] = sign * spacing[c];
        }
        a[3] = 12.5;
        a[7] = -40.25;
        a[11] = 100;
        a[15] = 1;
        return a;
    }

    @ParameterizedTest(name = "orientation variant {0}")
    @ValueSource(ints = {0, 1, 2, 3, 4, 7, 13, 22, 31})
    void kernelMatchesPlainJavaTrilinearReference(int variant) {
        Random r = new Random(variant);
        double[] spacing = {0.7 + r.nextDouble(), 0.8 + r.nextDouble(), 1.0 + 2 * r.nextDouble()};
        PreprocessOptions[] variants = {
            new PreprocessOptions(1.5, 1.5, 3.0, 0, 0, 0, 0, 0),                  // resample only, HU kept
            new PreprocessOptions(1.1, 0.9, 2.0, -1000, 1000, 20, 13, 0.0),       // the whole pipeline
            new PreprocessOptions(0, 1.3, 0, -500, 300, 9, 40, 0.25)};            // keep some axes, pad and crop
        try (Volume in = randomVolume(r, orientedAffine(variant, spacing), 17, 13, 11)) {
            for (boolean tensorOps : new boolean[] {false, true}) {
                try (Kernel k = Kernel.open(Device.CPU, 0, tensorOps)) {
                    for (PreprocessOptions o : variants) {
                        PreprocessPlan plan = PreprocessPlan.of(in.geometry(), o);
                        try (Volume out = k.preprocess(in, o)) {
                            assertThat(out.geometry().orientationCode()).isEqualTo("RAS");
                            double maxErr = 0;
                            for (int z = 0; z < out.nz(); z++) {
                                for (int y = 0; y < out.ny(); y++) {
                                    for (int x = 0; x < out.nx(); x++) {
                                        maxErr = Math.max(maxErr,
                                                Math.abs(out.get(x, y, z) - reference(in, plan, o, x, y, z)));
                                    }
                                }
                            }
                            assertThat(maxErr).as("max abs error, %s, tensorOps=%s", o, tensorOps).isLessThanOrEqualTo(1e-4);
                        }
                    }
                }
            }
        }
    }

    @Test
    void realChestCtGivesTheReferenceShapeAndTheInverseReturnsTheInputGrid() throws IOException {
        try (Volume ct = VolumeIO.read(TestPaths.sample());
                Volume p = KERNEL.get().preprocess(ct, PreprocessOptions.reference())) {
            // 79 slices at 3.987 mm -> rint(78 * 3.987 / 3) + 1 = 105 slices at 3 mm
            assertThat(p.geometry().dims()).containsExactly(224, 224, 105);
            assertThat(p.geometry().spacing()).containsExactly(new double[] {1.5, 1.5, 3.0}, within(1e-9));
            assertThat(p.geometry().orientationCode()).isEqualTo("RAS");
            Volume.VoxelStats st = p.stats();
            assertThat(st.min()).isGreaterThanOrEqualTo(0.0);
            assertThat(st.max()).isLessThanOrEqualTo(1.0);
            // The processed grid's centre maps to the same world point as the input grid's centre (centre crop).
            double[] inCentre = Affine.apply(ct.geometry().affine(), 31.5, 31.5, 0);
            double[] outCentre = Affine.apply(p.geometry().affine(), 111.5, 111.5, 0);
            assertThat(outCentre[0]).isCloseTo(inCentre[0], within(1.5));
            assertThat(outCentre[1]).isCloseTo(inCentre[1], within(1.5));

            try (Volume back = KERNEL.get().restore(p, ct.geometry(), PreprocessOptions.reference(), true)) {
                assertThat(back.geometry()).isEqualTo(ct.geometry());
                assertThat(back.geometry().affine()).containsExactly(ct.geometry().affine());
                // Within the window, resampling there and back stays close to the input.
                double sum = 0;
                long n = 0;
                for (int z = 5; z < 74; z += 3) {
                    for (int y = 10; y < 54; y += 2) {
                        for (int x = 10; x < 54; x += 2) {
                            double orig = Math.min(Math.max(ct.get(x, y, z), -1000), 1000);
                            sum += Math.abs(back.get(x, y, z) - orig);
                            n++;
                        }
                    }
                }
                assertThat(sum / n).as("mean abs HU difference after the round trip").isLessThan(60);
            }
        }
    }

    @Test
    void identityResamplingRoundTripsExactly() {
        Random r = new Random(7);
        double[] affine = orientedAffine(13, new double[] {1.5, 1.5, 3.0});
        try (Volume in = randomVolume(r, affine, 12, 9, 5)) {
            PreprocessOptions o = PreprocessOptions.reference().withInPlaneSize(0, 0).withWindow(0, 0);
            try (Volume p = KERNEL.get().preprocess(in, o); Volume back = KERNEL.get().restore(p, in.geometry(), o, false)) {
                for (int z = 0; z < 5; z++) {
                    for (int y = 0; y < 9; y++) {
                        for (int x = 0; x < 12; x++) {
                            assertThat(back.get(x, y, z)).isEqualTo(in.get(x, y, z));
                        }
                    }
                }
            }
        }
    }

    @Test
    void restoreRejectsAVolumeFromAnotherGrid() {
        Random r = new Random(3);
        try (Volume in = randomVolume(r, orientedAffine(0, new double[] {1, 1, 1}), 10, 10, 10);
                Volume other = randomVolume(r, orientedAffine(0, new double[] {1, 1, 1}), 4, 4, 4)) {
            assertThatThrownBy(() -> KERNEL.get().restore(other, in.geometry(), PreprocessOptions.reference(), true))
                    .isInstanceOf(CtcfException.InvalidArgumentException.class)
                    .hasMessageContaining("not what preprocessing");
        }
    }

    @Test
    void cancelledContextStopsPreprocessing() {
        try (Kernel k = Kernel.open(); Volume in = randomVolume(new Random(1), orientedAffine(0,
                new double[] {1, 1, 1}), 20, 20, 20)) {
            k.cancel();
            assertThatThrownBy(() -> k.preprocess(in, PreprocessOptions.reference()))
                    .isInstanceOf(CtcfException.CancelledException.class);
            k.resetCancel();
            try (Volume out = k.preprocess(in, PreprocessOptions.reference())) {
                assertThat(out.nx()).isEqualTo(224);
            }
        }
    }
}
