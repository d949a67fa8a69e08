package org.ctcf.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --display}: an unknown convention is a usage error that names the value and the choices, before any work. */
class DisplayOptionTest {
    @TempDir
    Path tmp;

    @Test
    void anUnknownDisplayIsAClearUsageError() {
        for (String command : new String[] {"explain", "saliency"}) {
            Path out = tmp.resolve(command);
            CliTest.Result r = CliTest.run(command, "models/sample/cip_ct64_nodule.nii.gz", "--display", "sideways",
                    "-o", out.toString());
            assertThat(r.code()).as(command).isEqualTo(ExitCode.USAGE.code());
            assertThat(r.err()).contains("--display").contains("'sideways'").contains("radiological")
                    .contains("neurological");
            assertThat(Files.exists(out)).as("nothing started").isFalse();
        }
    }

    @Test
    void theDefaultIsRadiologicalAndBothNamesParse() {
        DisplayOption o = new DisplayOption();
        assertThat(o.display).isEqualTo(org.ctcf.report.Display.RADIOLOGICAL);
        assertThat(new DisplayOption.Parse().convert("NEUROLOGICAL")).isEqualTo(org.ctcf.report.Display.NEUROLOGICAL);
    }
}
