package org.ctcf.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.ctcf.api.Models;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ctcf models}: the shipped and configured model cards. */
@Command(mixinStandardHelpOptions = true, name = "models", description = {
    "List the model cards in the models folder (default: the shipped models; set with --dir, the ctcf.models",
    "system property or CTCF_MODELS) with their held-out metrics."})
final class ModelsCommand implements Callable<Integer> {
    @Option(names = "--dir", paramLabel = "DIR", description = "Models folder.")
    Path dir;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        var o = spec.commandLine().getOut();
        Path d = dir != null ? dir : Models.home();
        o.printf("models in %s%n", d.toAbsolutePath().normalize());
        for (Models.Entry e : Models.list(d)) {
            String mark = e.card().getFileName().toString().equals(Models.DEFAULT_AUTOENCODER)
                    || e.card().getFileName().toString().equals(Models.DEFAULT_CLASSIFIER) ? " (default)" : "";
            o.printf(Locale.ROOT, "%-22s %-12s %s%s%n", e.card().getFileName(), e.kind(), e.name(), mark);
            if (!e.description().isEmpty()) {
                o.printf("    %s%n", e.description());
            }
            if (!e.metrics().isMissingNode()) {
                o.printf("    metrics: %s%n", summary(e.metrics()));
            }
        }
        o.flush();
        return ExitCode.OK.code();
    }

    private static String summary(com.fasterxml.jackson.databind.JsonNode m) {
        if (m.has("held_out_auc")) {
            return String.format(Locale.ROOT, "held-out AUC %.3f on %d crops", m.get("held_out_auc").asDouble(),
                    m.path("test_crops").asInt());
        }
        StringBuilder sb = new StringBuilder();
        for (var row : m.has("dice") ? m.get("dice") : m.path("volumes")) {
            if (!row.path("split").asText().equals("held-out")) {
                continue;
            }
            if (row.has("dice")) {
                sb.append(String.format(Locale.ROOT, "held-out Dice %.3f (%s)", row.get("dice").asDouble(),
                        row.path("volume").asText()));
            } else {
                sb.append(String.format(Locale.ROOT, "held-out PSNR %.2f dB, SSIM %.3f, MAE %.1f HU (%s)",
                        row.get("psnr_db").asDouble(), row.get("ssim").asDouble(), row.get("mae_hu").asDouble(),
                        row.path("volume").asText()));
            }
        }
        return sb.toString();
    }
}
