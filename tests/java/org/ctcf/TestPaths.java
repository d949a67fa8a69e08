package org.ctcf;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locations of the project's shipped files, for tests (Maven passes the project root). */
public final class TestPaths {
    private TestPaths() {
    }

    public static Path root() {
        String r = System.getProperty("ctcf.test.root");
        Path p = r != null ? Path.of(r) : Path.of("").toAbsolutePath();
        if (!Files.isDirectory(p.resolve("models"))) {
            throw new IllegalStateException("project root not found (ctcf.test.root=" + r + ")");
        }
        return p;
    }

    public static Path sample() {
        return root().resolve("models/sample/cip_ct64.nii.gz");
    }

    public static Path fixture(String name) {
        return root().resolve("tests/fixtures/volumes").resolve(name);
    }

    public static Path vqgan(String name) {
        return root().resolve("tests/fixtures/vqgan").resolve(name);
    }

    /** The shipped sample CT as a DICOM series (79 files). */
    public static Path sampleDicom() {
        return root().resolve("models/sample/dicom/cip_ct64_nodule");
    }

    /**
     * Copies the first {@code n} files of {@link #sampleDicom()} in name order (consecutive slices; all of them for
     * {@code n} < 0) into {@code to} (created); returns {@code to}.
     */
    public static Path copySampleDicom(Path to, int n) throws java.io.IOException {
        Files.createDirectories(to);
        try (var s = Files.list(sampleDicom())) {
            for (Path p : s.sorted().limit(n < 0 ? Long.MAX_VALUE : n).toList()) {
                Files.copy(p, to.resolve(p.getFileName()));
            }
        }
        return to;
    }

    /** The shared data folder beside the checkout, if this machine has it (never required). */
    public static Path sharedCt() {
        return root().resolveSibling("shared").resolve("data/ct");
    }
}
