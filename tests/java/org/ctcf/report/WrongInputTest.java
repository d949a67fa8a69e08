package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.ctcf.TestPaths;
import org.ctcf.api.ClassifierCard;
import org.ctcf.api.InputDomain;
import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 32's wrong-but-plausible inputs: an MR series with a CT card is refused (the override named), an oblique
 * grid is explained with a warning recorded in summary.json, and a volume shallower than the card's min_slices is
 * refused.
 */
class WrongInputTest extends TinyModelTest {
    @AfterEach
    void noOverride() {
        InputDomain.allowModalities(List.of());
    }

    /** The sample DICOM series with its Modality (0008,0060) rewritten from CT to {@code modality}. */
    private Path seriesOf(String modality) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(modality));
        byte[] ct = {0x08, 0x00, 0x60, 0x00, 'C', 'S', 0x02, 0x00, 'C', 'T'};
        try (Stream<Path> s = Files.list(TestPaths.root().resolve("models/sample/dicom/cip_ct64_nodule"))) {
            for (Path p : s.toList()) {
                byte[] b = Files.readAllBytes(p);
                int at = indexOf(b, ct);
                assertThat(at).as(p.toString()).isPositive();
                b[at + 8] = (byte) modality.charAt(0);
                b[at + 9] = (byte) modality.charAt(1);
                Files.write(dir.resolve(p.getFileName()), b);
            }
        }
        return dir;
    }

    private static int indexOf(byte[] b, byte[] what) {
        outer:
        for (int i = 0; i + what.length <= b.length; i++) {
            for (int j = 0; j < what.length; j++) {
                if (b[i + j] != what[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void anMrSeriesIsRefusedByACtCardUnlessTheOverrideNamesIt() throws IOException {
        Path mr = seriesOf("MR");
        assertThatThrownBy(() -> explain(card, mr, tmp.resolve("out"), quick()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(mr.toString())
                .hasMessageContaining("MR series").hasMessageContaining("reads CT")
                .hasMessageContaining("--allow-modality MR");
        assertThat(tmp.resolve("out")).doesNotExist();
        InputDomain.allowModalities(List.of("mr"));
        assertThat(explain(card, mr, tmp.resolve("out"), quick()).outputs()).contains(ExplanationWriter.SUMMARY);
    }

    @Test
    void anObliqueGridIsExplainedWithAWarningInTheSummary() throws IOException {
        Path oblique = tmp.resolve("oblique.nii.gz");
        try (Volume v = VolumeIO.read(TestPaths.sample())) {
            double[] a = v.geometry().affine().clone();
            double t = Math.toRadians(12);
            // rotate the voxel axes 12° about z
            for (int c = 0; c < 3; c++) {
                double x = a[c];
                double y = a[4 + c];
                a[c] = Math.cos(t) * x - Math.sin(t) * y;
                a[4 + c] = Math.sin(t) * x + Math.cos(t) * y;
            }
            Geometry g = new Geometry(v.nx(), v.ny(), v.nz(), a);
            assertThat(g.obliquityDegrees()).isCloseTo(12, org.assertj.core.api.Assertions.within(1e-6));
            assertThat(v.geometry().obliquityDegrees()).isLessThan(Explain.OBLIQUE_DEGREES);
            try (Volume o = v.copyWithGeometry(g)) {
                VolumeIO.write(o, oblique);
            }
        }
        ExplanationSummary s = explain(card, oblique, tmp.resolve("oblique"), quick());
        assertThat(s.warnings()).anySatisfy(w -> assertThat(w).contains("oblique").contains("12.00°"));
        assertThat(Files.readString(tmp.resolve("oblique/summary.json"))).contains("oblique");
        ExplanationSummary straight = explain(card, TestPaths.sample(), tmp.resolve("straight"), quick());
        assertThat(straight.warnings()).noneMatch(w -> w.contains("oblique"));
    }

    @Test
    void aVolumeShallowerThanTheCardsMinSlicesIsRefused() throws IOException {
        Path deep = tmp.resolve("deep.json");
        Files.writeString(deep, Files.readString(card).replace("\"score\"", "\"domain\": {\"min_slices\": 16}, "
                + "\"score\""));
        assertThat(ClassifierCard.read(deep).limits()).isEqualTo(new ClassifierCard.Limits("CT", 16));
        assertThat(ClassifierCard.read(TestPaths.root().resolve("models/nodule-detector.json")).limits().minSlices())
                .isEqualTo(16);
        Path one = tmp.resolve("one-slice.nii.gz");
        try (Volume v = VolumeIO.read(TestPaths.sample()); Volume s = v.slices(30, 31)) {
            VolumeIO.write(s, one);
        }
        assertThatThrownBy(() -> explain(deep, one, tmp.resolve("one"), quick().withFrames(2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(one.toString())
                .hasMessageContaining("1 slice").hasMessageContaining("at least 16");
        // a --range narrower than that too
        assertThatThrownBy(() -> explain(deep, TestPaths.sample(), tmp.resolve("range"), quick()
                .withRange(new Explain.Slices(40, 44)))).hasMessageContaining("4 slices");
        // a card without min_slices takes the one slice (the paper's lung-size notebook explains one slice)
        assertThat(ClassifierCard.read(card).limits().minSlices()).isEqualTo(1);
    }
}
