package org.ctcf.internal;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.nio.file.Files;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;

import org.ctcf.TestPaths;
import org.junit.jupiter.api.Test;

/** The FFM struct layouts are checked against the compiled library's sizeof/offsetof, not promised. */
class LayoutCheckTest {
    @Test
    void everyJavaLayoutAgreesWithTheCompiledLibrary() {
        NativeLib.ensureLoaded();
        assertThat(NativeLib.layoutMismatches(NativeLib.SHARED_STRUCTS)).isEmpty();
    }

    @Test
    void everyStructOfTheHeaderHasAJavaLayout() throws IOException {
        String header = Files.readString(TestPaths.root().resolve("native/include/ctcf.h"));
        var m = Pattern.compile("typedef struct ctcf_(\\w+) \\{").matcher(header);
        var inHeader = new TreeSet<String>();
        while (m.find()) {
            inHeader.add(m.group(1));
        }
        assertThat(inHeader).isNotEmpty();
        assertThat(new TreeSet<>(NativeLib.SHARED_STRUCTS.keySet())).isEqualTo(inHeader);
    }

    @Test
    void aFieldOutOfPlaceOrUnknownToTheLibraryIsReported() {
        NativeLib.ensureLoaded();
        // ctcf_score_spec with `offset` and `activation` swapped, and a field C does not have.
        var swapped = MemoryLayout.structLayout(JAVA_LONG.withName("target"), JAVA_INT.withName("apply_sigmoid"),
                JAVA_INT.withName("reserved"), JAVA_DOUBLE.withName("offset"), JAVA_INT.withName("reducer"),
                JAVA_INT.withName("activation"));
        var extra = MemoryLayout.structLayout(JAVA_LONG.withName("start"), JAVA_LONG.withName("end"),
                JAVA_DOUBLE.withName("min_prediction"), JAVA_DOUBLE.withName("bound"),
                JAVA_DOUBLE.withName("pixel_change"), JAVA_INT.withName("stop_reason"), JAVA_INT.withName("rank"),
                JAVA_LONG.withName("colour"));
        var wrong = NativeLib.layoutMismatches(Map.of("score_spec", swapped, "chunk_row", extra));
        assertThat(wrong).anyMatch(w -> w.startsWith("ctcf_score_spec.activation is 12 in C, 28 in Java"))
                .anyMatch(w -> w.startsWith("ctcf_score_spec.reserved is 28 in C, 12 in Java"))
                .anyMatch(w -> w.equals("ctcf_chunk_row.colour: unknown to the library"))
                .anyMatch(w -> w.startsWith("ctcf_chunk_row size is 48 in C, 56 in Java"))
                .noneMatch(w -> w.contains("ctcf_score_spec.target") || w.contains("ctcf_score_spec.offset"));
    }
}
