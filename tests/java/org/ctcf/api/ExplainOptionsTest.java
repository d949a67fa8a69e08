package org.ctcf.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Option combinations the explain refuses before any work (issue 33: the reference is float32). */
class ExplainOptionsTest {
    @Test
    void theReferenceModeTakesNoAutocast() {
        for (ExplainOptions.Autocast a : new ExplainOptions.Autocast[] {ExplainOptions.Autocast.BF16,
            ExplainOptions.Autocast.FP16}) {
            assertThatThrownBy(() -> ExplainOptions.builder().referenceMode(true).autocast(a).build())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--reference")
                    .hasMessageContaining("float32").hasMessageContaining("--autocast");
            assertThat(ExplainOptions.builder().autocast(a).build().autocast()).isEqualTo(a);
        }
        assertThat(ExplainOptions.builder().referenceMode(true).build().referenceMode()).isTrue();
    }
}
