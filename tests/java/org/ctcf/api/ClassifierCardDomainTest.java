package org.ctcf.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.ctcf.TestPaths;
import org.ctcf.io.checkpoint.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The card's optional {@code "domain": {"lung_fraction_min": x}}. */
class ClassifierCardDomainTest {
    @TempDir
    Path tmp;

    private Path card(String name, String extra) throws IOException {
        Files.write(tmp.resolve("m.pt"), new byte[] {1});  // reading a card does not load the model
        Path card = tmp.resolve(name + ".json");
        Files.writeString(card, """
                {"name": "n", "model": {"torchscript": "m.pt"}, "input": {"layout": "BCHWD"},
                 "preprocessing": {"window": [-1000, 1000]},
                 "output": {"kind": "logits", "classes": ["nodule"]},
                 "score": {"target": "nodule"}%s}
                """.formatted(extra));
        return card;
    }

    @Test
    void aDomainIsReadAndAbsentMeansNoCheck() throws IOException {
        assertThat(ClassifierCard.read(card("with", ", \"domain\": {\"lung_fraction_min\": 0.02}")).domain())
                .isEqualTo(new InputDomain.Bounds(0.02));
        assertThat(ClassifierCard.read(card("other", ", \"domain\": {\"lung_fraction_min\": 0.5}")).domain()
                .lungFractionMin()).isEqualTo(0.5);
        assertThat(ClassifierCard.read(card("without", "")).domain()).isNull();
        assertThat(InputDomain.check(ClassifierCard.read(card("without2", "")), null)).isNull();
        // the shipped cards (no domain yet) read as before
        assertThat(ClassifierCard.read(TestPaths.root().resolve("models/lung-size.json")).domain()).isNull();
    }

    @Test
    void aBoundOutsideZeroToOneOrNotANumberIsRefusedNamingTheCard() throws IOException {
        int i = 0;
        for (String bad : new String[] {"0", "1", "1.5", "-0.1", "\"0.02\"", "null", "[0.02]"}) {
            Path c = card("bad" + i++, ", \"domain\": {\"lung_fraction_min\": " + bad + "}");
            assertThatThrownBy(() -> ClassifierCard.read(c)).as(bad).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining(c.toString()).hasMessageContaining("lung_fraction_min")
                    .hasMessageContaining("(0, 1)");
        }
        Path empty = card("empty", ", \"domain\": {}");
        assertThatThrownBy(() -> ClassifierCard.read(empty)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(empty.toString()).hasMessageContaining("missing");
        Path notObject = card("number", ", \"domain\": 0.02");
        assertThatThrownBy(() -> ClassifierCard.read(notObject)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(notObject.toString()).hasMessageContaining("domain must be an object");
    }

    @Test
    void anUnknownKeyIsRefusedNamingTheCardAndTheKey() throws IOException {
        Path c = card("typo", ", \"domain\": {\"lung_fraction_min\": 0.02, \"lung_fraction_max\": 0.9}");
        assertThatThrownBy(() -> ClassifierCard.read(c)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(c.toString()).hasMessageContaining("unknown key \"lung_fraction_max\"");
    }

    @Test
    void aDomainNeedsAWindowedReferencePreprocessing() throws IOException {
        Files.write(tmp.resolve("m.pt"), new byte[] {1});
        Path c = tmp.resolve("lungmask.json");
        Files.writeString(c, """
                {"name": "n", "model": {"torchscript": "m.pt"}, "preprocessing": {"mode": "lungmask"},
                 "output": {"kind": "logits", "classes": ["x"]}, "score": {"target": "x"},
                 "domain": {"lung_fraction_min": 0.02}}
                """);
        assertThatThrownBy(() -> ClassifierCard.read(c)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(c.toString()).hasMessageContaining("window");
    }
}
