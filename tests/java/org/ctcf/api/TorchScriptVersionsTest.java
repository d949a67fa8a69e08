package org.ctcf.api;

import org.ctcf.core.Volume;
import org.ctcf.core.Geometry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import org.ctcf.SharedKernel;
import org.ctcf.TestPaths;
import org.ctcf.io.checkpoint.ModelFormatException;
import org.ctcf.io.checkpoint.TorchScriptFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * TorchScript files from a current PyTorch: {@code tests/fixtures/torchscript2/classifier_torch2.pt} was saved by
 * torch 2.13 ({@code make_classifier.py}); ctcf loads it, reproduces its logits and explains it. A file from a
 * PyTorch newer than the kernel's LibTorch is refused with the file and its format version.
 */
class TorchScriptVersionsTest {
    private static final Path DIR = TestPaths.root().resolve("tests/fixtures/torchscript2");
    @RegisterExtension
    static final SharedKernel KERNEL = new SharedKernel();

    @TempDir
    Path tmp;


    @Test
    void aClassifierSavedByTorch2LoadsGivesPyTorchsLogitsAndIsExplained() throws IOException {
        Path file = DIR.resolve("classifier_torch2.pt");
        assertThat(TorchScriptFiles.fileFormatVersion(file)).hasValue(10);
        String[] want = Files.readAllLines(DIR.resolve("classifier_torch2.expected.txt")).get(1).split(" ");
        try (Classifier c = Classifier.loadTorchScript(file, Classifier.Layout.BCDHW, 0, KERNEL.get());
                Volume v = Volume.allocate(Geometry.of(8, 8, 4, 1.5, 1.5, 3, 0, 0, 0))) {
            for (int i = 0; i < 256; i++) {
                v.set(i % 8, (i / 8) % 8, i / 64, (float) (i / 255.0));
            }
            float[] logits = c.predict(v);
            assertThat(logits).hasSize(2);
            for (int k = 0; k < 2; k++) {
                assertThat((double) logits[k]).isCloseTo(Double.parseDouble(want[k]), within(1e-5));
            }
            try (SliceAutoencoder ae = SliceAutoencoder.load(TestPaths.vqgan("tiny_vqgan.safetensors"), null, KERNEL.get())
                    .withWrapper(SliceWrapper.plain()).withBatchSize(4);
                    Volume x = Volume.allocate(Geometry.of(16, 16, 4, 1.5, 1.5, 3, 0, 0, 0))) {
                for (int z = 0; z < 4; z++) {
                    for (int y = 0; y < 16; y++) {
                        for (int xx = 0; xx < 16; xx++) {
                            x.set(xx, y, z, (float) (0.5 + 0.4 * Math.sin(xx * 0.5 + y * 0.3 + z)));
                        }
                    }
                }
                try (Explanation e = LatentShift.explain(x, ae, c, ExplainOptions.builder().target(Target.sigmoidOf(1))
                        .lambdaSweepSteps(3).build(), 0, 4, null)) {
                    assertThat(e.frames()).hasSize(3);
                    assertThat(e.bound()).isLessThan(0);
                    assertThat(e.counterfactualPrediction()).isLessThan(e.initialPrediction());
                }
            }
        }
    }

    @Test
    void aFileFromANewerPyTorchIsRefusedNamingTheFileAndItsFormatVersion() throws IOException {
        Path newer = tmp.resolve("from_the_future.pt");
        rewriteVersion(DIR.resolve("classifier_torch2.pt"), newer, "99");
        assertThat(TorchScriptFiles.fileFormatVersion(newer)).hasValue(99);
        assertThatThrownBy(() -> Classifier.loadTorchScript(newer, Classifier.Layout.BCDHW, 0, KERNEL.get()))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("from_the_future.pt")
                .hasMessageContaining("TorchScript file format version 99").hasMessageContaining("LibTorch");
    }

    /** A copy of a TorchScript zip with its .data/version record replaced (entries stored, as PyTorch writes). */
    static void rewriteVersion(Path from, Path to, String version) throws IOException {
        try (ZipFile in = new ZipFile(from.toFile()); OutputStream os = Files.newOutputStream(to);
                ZipOutputStream out = new ZipOutputStream(os)) {
            for (var it = in.entries(); it.hasMoreElements();) {
                ZipEntry e = it.nextElement();
                byte[] data = e.getName().endsWith("/.data/version") ? (version + "\n").getBytes()
                        : in.getInputStream(e).readAllBytes();
                ZipEntry n = new ZipEntry(e.getName());
                n.setMethod(ZipEntry.STORED);
                n.setSize(data.length);
                n.setCompressedSize(data.length);
                CRC32 crc = new CRC32();
                crc.update(data);
                n.setCrc(crc.getValue());
                out.putNextEntry(n);
                out.write(data);
                out.closeEntry();
            }
        }
    }
}
