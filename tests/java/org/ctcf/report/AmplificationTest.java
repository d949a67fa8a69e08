package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import org.ctcf.TestPaths;
import org.ctcf.core.CtcfException;
import org.ctcf.core.Volume;
import org.ctcf.io.ReadOptions;
import org.ctcf.io.TestVolumes;
import org.ctcf.io.VolumeFormatException;
import org.ctcf.io.VolumeIO;
import org.junit.jupiter.api.Test;

/**
 * Issue 32's amplification attacks: small files that asked for gigabytes. A header's sizes are bounded before
 * anything is allocated (the input, and what preprocessing would make of it), with an error naming the file and
 * the override; the input's hash reads only what the read used.
 */
class AmplificationTest extends TinyModelTest {
    private ExplanationSummary explain(Path input, Path out) throws IOException {
        return explain(card, input, out, quick());
    }

    /** A 2 x 2 x 2 NIfTI-2 (a 1.1 KB file) whose voxels are {@code mm} wide. */
    private Path tinyWithSpacing(String name, double mm) throws IOException {
        TestVolumes.Nifti n = new TestVolumes.Nifti();
        n.version = 2;
        n.nx = 2;
        n.ny = 2;
        n.nz = 2;
        n.pixdim = new double[] {mm, mm, mm};
        n.srow = new double[] {mm, 0, 0, 0, 0, mm, 0, 0, 0, 0, mm, 0};
        Path f = tmp.resolve(name);
        Files.write(f, n.bytes());
        return f;
    }

    @Test
    void anAbsurdSpacingIsRefusedBeforePreprocessingAllocatesAnything() throws IOException {
        Path f = tinyWithSpacing("five-metres.nii", 5000);
        assertThat(Files.size(f)).isLessThan(1200);
        // 2 voxels of 5 m resampled to the card's spacing: 3334^3 voxels (148 GB as float32)
        assertThatThrownBy(() -> explain(f, tmp.resolve("out"))).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining(f.toString()).hasMessageContaining("more than the limit")
                .hasMessageContaining("--max-voxels");
        assertThat(tmp.resolve("out")).doesNotExist();
        try (Volume v = VolumeIO.read(f)) {
            var pre = org.ctcf.api.PreprocessOptions.reference();
            assertThatThrownBy(() -> KERNEL.get().preprocess(v, pre))
                    .isInstanceOf(CtcfException.InvalidArgumentException.class)
                    .hasMessageContaining("2 x 2 x 2 volume of spacing 5000 x 5000 x 5000 mm");
        }
        // the same through the CLI: a clear error, and the override named
        java.io.StringWriter err = new java.io.StringWriter();
        int code = org.ctcf.cli.Main.run(new String[] {"preprocess", f.toString(), tmp.resolve("p.nii.gz").toString()},
                new java.io.PrintWriter(new java.io.StringWriter(), true), new java.io.PrintWriter(err, true));
        assertThat(code).as(err.toString()).isEqualTo(6);
        assertThat(err.toString()).contains("--max-voxels").doesNotContain("\tat ");
    }

    @Test
    void headersThatClaimMoreThanTheirFileHoldsOrThanTheLimitAreRefusedBeforeAllocating() throws IOException {
        // a 1 MB gzip of zeros whose header says 1024 x 1024 x 1000 uint8 (10^9 voxels, 4 GB as float32)
        TestVolumes.Nifti n = new TestVolumes.Nifti();
        n.version = 2;
        n.datatype = 2;
        n.nx = 4;
        n.ny = 4;
        n.nz = 4;
        byte[] header = java.util.Arrays.copyOf(n.bytes(), 544);
        ByteBuffer b = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(16 + 8, 1024).putLong(16 + 16, 1024).putLong(16 + 24, 1000);
        Path bomb = tmp.resolve("bomb.nii.gz");
        try (var out = new java.util.zip.GZIPOutputStream(Files.newOutputStream(bomb))) {
            out.write(header);
            byte[] zeros = new byte[1 << 20];
            for (int i = 0; i < 1000; i++) {
                out.write(zeros);
            }
        }
        assertThat(Files.size(bomb)).isLessThan(2 << 20);
        assertThatThrownBy(() -> VolumeIO.read(bomb)).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining(bomb.toString()).hasMessageContaining("limit of " + ReadOptions.DEFAULT_MAX_VOXELS)
                .hasMessageContaining("--max-voxels");
        // the same header as a 1.1 KB file, plain and gzipped: it cannot hold the voxels
        Path plain = tmp.resolve("liar.nii");
        Files.write(plain, header);
        assertThatThrownBy(() -> VolumeIO.read(plain, ReadOptions.defaults().withMaxVoxels(1L << 31)))
                .isInstanceOf(VolumeFormatException.class).hasMessageContaining("truncated");
        Path small = tmp.resolve("liar.nii.gz");
        Files.write(small, TestVolumes.gzip(header));
        assertThatThrownBy(() -> VolumeIO.read(small, ReadOptions.defaults().withMaxVoxels(1L << 31)))
                .isInstanceOf(VolumeFormatException.class).hasMessageContaining("cannot hold");
    }

    /** The input's hash covers the series' files only: not a large unrelated file beside them. */
    @Test
    void theInputsHashReadsOnlyTheSeriesThatWasRead() throws IOException {
        Path alone = TestPaths.copySampleDicom(tmp.resolve("alone/series"), -1);
        Path crowded = TestPaths.copySampleDicom(tmp.resolve("crowded/series"), -1);
        Files.write(crowded.resolve("scanner-dump.bin"), new byte[32 << 20]);  // not DICOM, 32 MB
        Files.writeString(crowded.resolve("notes.txt"), "unrelated");
        ExplanationSummary a = explain(alone, tmp.resolve("a"));
        ExplanationSummary c = explain(crowded, tmp.resolve("c"));
        assertThat(c.inputSha256()).isEqualTo(a.inputSha256()).hasSize(64);
    }
}
