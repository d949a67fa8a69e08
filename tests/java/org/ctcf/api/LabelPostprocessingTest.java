package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** lungmask's label post-processing on label volumes whose result is known by construction. */
class LabelPostprocessingTest {
    static final int NX = 20;
    static final int NY = 20;
    static final int NZ = 10;

    static int at(int x, int y, int z) {
        return x + NX * (y + NY * z);
    }

    static void box(byte[] v, int label, int x0, int x1, int y0, int y1, int z0, int z1) {
        for (int z = z0; z <= z1; z++) {
            for (int y = y0; y <= y1; y++) {
                for (int x = x0; x <= x1; x++) {
                    v[at(x, y, z)] = (byte) label;
                }
            }
        }
    }

    @Test
    void smallPiecesJoinTheirNeighbourStrayPiecesGoAndHolesAreFilled() {
        byte[] in = new byte[NX * NY * NZ];
        box(in, 1, 3, 9, 3, 16, 2, 7);     // right lung
        box(in, 2, 11, 17, 3, 16, 2, 7);   // left lung
        in[at(6, 9, 4)] = 0;               // a one-voxel hole inside the right lung
        box(in, 2, 6, 7, 13, 14, 3, 4);    // 8 "left" voxels inside the right lung: joins it
        box(in, 1, 0, 1, 0, 1, 0, 0);      // 4 "right" voxels far from everything: no neighbour, removed
        in[at(4, 4, 3)] = 2;               // a 2-voxel speck (below skip_below): not merged, removed, and the
        in[at(4, 4, 4)] = 2;               //   hole it leaves in the right lung is filled
        box(in, 1, 18, 18, 5, 7, 4, 4);    // 3 "right" voxels touching the left lung only: join it

        byte[] out = LabelPostprocessing.apply(in, NX, NY, NZ);

        byte[] expected = new byte[in.length];
        box(expected, 1, 3, 9, 3, 16, 2, 7);
        box(expected, 2, 11, 17, 3, 16, 2, 7);
        box(expected, 2, 18, 18, 5, 7, 4, 4);
        assertThat(out).isEqualTo(expected);
        // the same through the Volume API
        try (Volume v = Volume.allocate(Geometry.of(NX, NY, NZ, 1, 1, 1, 0, 0, 0))) {
            for (int i = 0; i < in.length; i++) {
                v.set(i % NX, (i / NX) % NY, i / (NX * NY), in[i]);
            }
            try (Volume p = LabelPostprocessing.lungmask(v)) {
                assertThat(p.get(6, 13, 3)).isEqualTo(1f);
                assertThat(p.get(18, 6, 4)).isEqualTo(2f);
                assertThat(p.get(0, 0, 0)).isZero();
                assertThat(p.get(6, 9, 4)).isEqualTo(1f);
            }
            v.set(1, 1, 1, 0.5f);
            assertThatThrownBy(() -> LabelPostprocessing.lungmask(v)).hasMessageContaining("integer labels");
        }
    }

    @Test
    void aSingleSliceFillsOnlyHolesSmallerThan64Pixels() {
        int n = 40;
        byte[] in = new byte[n * n];
        for (int y = 2; y < 38; y++) {
            for (int x = 2; x < 38; x++) {
                in[x + n * y] = 1;
            }
        }
        for (int y = 5; y < 8; y++) {
            for (int x = 5; x < 8; x++) {
                in[x + n * y] = 0;  // 9 pixels: filled
            }
        }
        for (int y = 20; y < 29; y++) {
            for (int x = 20; x < 29; x++) {
                in[x + n * y] = 0;  // 81 pixels: kept
            }
        }
        byte[] out = LabelPostprocessing.apply(in, n, n, 1);
        assertThat(out[6 + n * 6]).isEqualTo((byte) 1);
        assertThat(out[24 + n * 24]).isZero();
        assertThat(out[0]).isZero();
        assertThat(out[3 + n * 3]).isEqualTo((byte) 1);
    }
}
