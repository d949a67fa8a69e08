package org.ctcf.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.ctcf.api.Saliency;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The rows a cluster's tasks commit one volume at a time: replace, never duplicate, keep an ok row, one configuration. */
class ScanRowsTest {
    @TempDir
    Path tmp;

    private static Evaluation.Row row(String volume, String status, double p0) {
        return new Evaluation.Row(volume, true, status, p0, p0 / 2, p0 / 2, 0, 16, -100, "PREDICTION_ROSE", 1.5,
                new double[] {p0 / 2}, Double.NaN, Map.of());
    }

    @Test
    void aRowIsReplacedNotAddedAndAFailedTwinDoesNotReplaceAnOkRow() throws IOException {
        ScanRows rows = ScanRows.in(tmp.resolve("rows"), List.of(16), List.of(Saliency.Method.GRADIENT), false);
        rows.commit(row("a.nii.gz", "error: unreadable", Double.NaN));
        rows.commit(row("a.nii.gz", "ok", 0.9));  // the retry that worked replaces the error row
        rows.commit(row("a.nii.gz", "error: gone", Double.NaN));  // a late twin that could not read it: ignored
        rows.commit(row("b.nii.gz", "ok", 0.4));
        assertThat(rows.readAll()).containsOnlyKeys("a.nii.gz", "b.nii.gz");
        assertThat(rows.read("a.nii.gz").status()).isEqualTo("ok");
        assertThat(rows.read("a.nii.gz").p0()).isEqualTo(0.9);
        assertThat(rows.read("c.nii.gz")).isNull();
        try (var s = Files.list(rows.dir())) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("a.nii.gz.csv",
                    "b.nii.gz.csv");
        }
        // rows written with other columns are refused, naming the file
        ScanRows other = ScanRows.in(tmp.resolve("rows"), List.of(16, 8), List.of(), false);
        assertThatThrownBy(other::readAll).hasMessageContaining("a.nii.gz.csv").hasMessageContaining("other options");
    }

    @Test
    void oneConfigurationPerFolder() throws IOException {
        ScanRows rows = ScanRows.in(tmp.resolve("rows"), List.of(16), List.of(), false);
        assertThat(rows.configuration()).isNull();
        rows.checkConfiguration(Map.of("options", Map.of("step", 1.0)));
        rows.checkConfiguration(Map.of("options", Map.of("step", 1.0)));  // the same: fine
        assertThat(rows.configuration()).isEqualTo(Map.of("options", Map.of("step", 1.0)));
        assertThatThrownBy(() -> rows.checkConfiguration(Map.of("options", Map.of("step", 7.0))))
                .hasMessageContaining("configuration.json records other models or options");
    }
}
