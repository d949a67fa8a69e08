package org.ctcf.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import org.ctcf.cli.Main;
import org.ctcf.core.Volume;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ReadOptions.confine} ({@code --confine-inputs}): a MetaImage header whose ElementDataFile lies outside its
 * own folder (an absolute path, a path through '..', a symbolic link) is refused; without it, it is read as before.
 */
class ConfinedReadTest {
    @TempDir
    Path tmp;

    private static final ReadOptions CONFINED = ReadOptions.defaults().withConfine(true);

    private Path header(Path dir, String name, String dataFile) throws IOException {
        Files.createDirectories(dir);
        Path h = dir.resolve(name);
        Files.writeString(h, TestVolumes.mhaHeader(4, 3, 2, false, false, dataFile, 0));
        return h;
    }

    @Test
    void referencesOutsideTheHeadersFolderAreRefusedWhenConfined() throws IOException {
        Path outside = tmp.resolve("elsewhere").resolve("data.raw");
        Files.createDirectories(outside.getParent());
        Files.write(outside, TestVolumes.shortData(24, ByteOrder.LITTLE_ENDIAN));
        Path in = tmp.resolve("scans").resolve("case1");

        Path absolute = header(in, "abs.mhd", outside.toAbsolutePath().toString());
        Path dotdot = header(in, "up.mhd", "../../elsewhere/data.raw");
        // not confined: read as before
        for (Path h : new Path[] {absolute, dotdot}) {
            try (Volume v = VolumeIO.read(h)) {
                assertThat(v.nz()).isEqualTo(2);
            }
        }
        // confined: refused, naming the header, the reference and why
        assertThatThrownBy(() -> VolumeIO.read(absolute, CONFINED)).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining(absolute.toString()).hasMessageContaining(outside.toAbsolutePath().toString())
                .hasMessageContaining("outside the header's folder").hasMessageContaining("an absolute path");
        assertThatThrownBy(() -> VolumeIO.read(dotdot, CONFINED)).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining(dotdot.toString()).hasMessageContaining("'../../elsewhere/data.raw'")
                .hasMessageContaining("'..'");
        assertThatThrownBy(() -> VolumeIO.info(dotdot, CONFINED)).isInstanceOf(VolumeFormatException.class);
        Path passwd = header(in, "passwd.mhd", "/etc/passwd");
        if (Files.exists(Path.of("/etc/passwd"))) {
            assertThatThrownBy(() -> VolumeIO.read(passwd, CONFINED)).hasMessageContaining("/etc/passwd")
                    .hasMessageContaining("confine");
        }
        // a symbolic link next to the header that leads outside: resolved before the check
        Path link = in.resolve("link.raw");
        boolean links = true;
        try {
            Files.createSymbolicLink(link, outside.toAbsolutePath());
        } catch (UnsupportedOperationException | IOException e) {
            links = false;
        }
        if (links) {
            Path viaLink = header(in, "link.mhd", "link.raw");
            assertThatThrownBy(() -> VolumeIO.read(viaLink, CONFINED)).hasMessageContaining("symbolic link");
        }

        // a header next to its data, or in a subfolder of the header's, reads when confined
        Files.write(in.resolve("ok.raw"), TestVolumes.shortData(24, ByteOrder.LITTLE_ENDIAN));
        Files.createDirectories(in.resolve("data"));
        Files.write(in.resolve("data").resolve("ok.raw"), TestVolumes.shortData(24, ByteOrder.LITTLE_ENDIAN));
        for (Path h : new Path[] {header(in, "ok.mhd", "ok.raw"), header(in, "sub.mhd", "data/ok.raw"),
            header(in, "round.mhd", "../case1/ok.raw")}) {
            try (Volume v = VolumeIO.read(h, CONFINED)) {
                assertThat(v.nx()).isEqualTo(4);
            }
        }
    }

    @Test
    void theGlobalFlagConfinesCommandsInputs() throws IOException {
        Path outside = tmp.resolve("elsewhere").resolve("data.raw");
        Files.createDirectories(outside.getParent());
        Files.write(outside, TestVolumes.shortData(24, ByteOrder.LITTLE_ENDIAN));
        Path h = header(tmp.resolve("in"), "abs.mhd", outside.toAbsolutePath().toString());
        try {
            StringWriter err = new StringWriter();
            int code = Main.run(new String[] {"info", h.toString(), "--confine-inputs"}, new PrintWriter(
                    new StringWriter(), true), new PrintWriter(err, true));
            assertThat(code).isNotZero();
            assertThat(err.toString()).contains("outside the header's folder").contains(outside.toString());
            code = Main.run(new String[] {"info", h.toString()}, new PrintWriter(new StringWriter(), true),
                    new PrintWriter(new StringWriter(), true));
            assertThat(code).isZero();
        } finally {
            ReadOptions.confineByDefault(false);
        }
    }

    /**
     * Issue 32: --confine-inputs followed a folder input's symbolic links to files outside it (a DICOMDIR with the
     * same links was refused). A folder's link to a DICOM file elsewhere is refused the same way; a link that stays
     * inside is read; unconfined, both read as before.
     */
    @Test
    void aFolderInputsLinksToFilesOutsideItAreRefusedWhenConfined() throws IOException {
        Path sample = org.ctcf.TestPaths.root().resolve("models/sample/dicom/cip_ct64_nodule");
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        Path series = Files.createDirectories(tmp.resolve("series"));
        try (var s = Files.list(sample)) {
            for (Path p : s.sorted().toList()) {
                Files.copy(p, (p.getFileName().toString().equals("IM0007.dcm") ? elsewhere : series)
                        .resolve(p.getFileName()));
            }
        }
        try {
            Files.createSymbolicLink(series.resolve("IM0007.dcm"), elsewhere.resolve("IM0007.dcm"));
        } catch (UnsupportedOperationException | IOException e) {
            org.junit.jupiter.api.Assumptions.abort("no symbolic links here: " + e);
        }
        try (Volume v = VolumeIO.read(series)) {
            assertThat(v.nz()).isEqualTo(79);
        }
        assertThatThrownBy(() -> VolumeIO.read(series, CONFINED)).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining(series.toString()).hasMessageContaining("IM0007.dcm")
                .hasMessageContaining(elsewhere.toRealPath().toString()).hasMessageContaining("symbolic link")
                .hasMessageContaining("--confine-inputs");
        assertThatThrownBy(() -> VolumeIO.info(series, CONFINED)).isInstanceOf(VolumeFormatException.class);
        // without the link, the folder reads when confined
        Files.delete(series.resolve("IM0007.dcm"));
        Files.move(elsewhere.resolve("IM0007.dcm"), series.resolve("IM0007.dcm"));
        try (Volume v = VolumeIO.read(series, CONFINED)) {
            assertThat(v.nz()).isEqualTo(79);
        }
    }
}
