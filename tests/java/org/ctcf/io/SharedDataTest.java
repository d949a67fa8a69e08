package org.ctcf.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.ctcf.TestPaths;
import org.ctcf.core.Geometry;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every volume of the project's shared CT collection reads with the dims and spacing its SOURCES.md states.
 * Runs only where that folder sits beside the checkout (developers' machines and CI); skipped elsewhere.
 */
class SharedDataTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "cip_ct64.nii.gz,                64,  64,  79, 4.17,  4.17,  3.99",
        "cip_ct64_lungmask.nii.gz,       64,  64,  79, 4.17,  4.17,  3.99",
        "cip_ct64_labelmap.nii.gz,       64,  64,  79, 4.17,  4.17,  3.99",
        "cip_testinput.nii.gz,           64,  64,  50, 5.28,  5.28,  6.99",
        "elastix_lung_baseline.nii.gz,  115, 157, 129, 1.366, 1.366, 2.5",
        "elastix_lung_baseline_lungmask.nii.gz, 115, 157, 129, 1.366, 1.366, 2.5",
        "elastix_lung_followup.nii.gz,  115, 166, 131, 1.366, 1.366, 2.5",
        "elastix_lung_followup_lungmask.nii.gz, 115, 166, 131, 1.366, 1.366, 2.5",
        "elastix_lung_baseline_small.nii.gz, 57, 78, 64, 2.732, 2.732, 5",
        "elastix_lung_baseline_small_lungmask_DERIVED.nii.gz, 57, 78, 64, 2.732, 2.732, 5",
        "lungmask_chest_slice.nii.gz,   512, 512,   1, 0.625, 0.625, 1",
        "thorax4dct_phase00_2mm_DERIVED.nii.gz, 241, 180, 141, 1.953, 1.953, 2.0"})
    void sharedVolumesMatchTheirSources(String name, int nx, int ny, int nz, double sx, double sy, double sz)
            throws IOException {
        Path file = TestPaths.sharedCt().resolve("nifti").resolve(name);
        Assumptions.assumeTrue(Files.isRegularFile(file), "shared data not present: " + file);
        Geometry g = VolumeIO.info(file).geometry();
        assertThat(g.dims()).containsExactly(nx, ny, nz);
        double[] s = g.spacing();
        assertThat(s[0]).isCloseTo(sx, within(0.006));
        assertThat(s[1]).isCloseTo(sy, within(0.006));
        assertThat(s[2]).isCloseTo(sz, within(0.006));
        try (var v = VolumeIO.read(file)) {
            assertThat(v.stats().nonFinite()).isZero();
        }
    }
}
