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
    "List the model cards and the built-in architectures.",
    "Cards come from the models folder and its sub-folders (default: the shipped models; set with --dir, the "
            + "ctcf.models system property or CTCF_MODELS), with their held-out metrics, and for cards whose weights "
            + "are not shipped, where to put them and where they are published."})
final class ModelsCommand implements Callable<Integer> {
    @Option(names = "--dir", paramLabel = "DIR", description = "Models folder.")
    Path dir;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        var o = spec.commandLine().getOut();
        Path d = (dir != null ? dir : Models.home()).toAbsolutePath().normalize();
        o.printf("model cards in %s%n", d);
        for (Models.Entry e : Models.list(d)) {
            String rel = d.relativize(e.card().toAbsolutePath().normalize()).toString();
            String mark = rel.equals(Models.DEFAULT_AUTOENCODER) || rel.equals(Models.DEFAULT_CLASSIFIER)
                    ? " (default)" : "";
            o.printf(Locale.ROOT, "%-40s %-12s %s%s%n", rel, e.kind(), e.name(), mark);
            if (!e.description().isEmpty()) {
                o.printf("    %s%n", e.description());
            }
            if (e.weights() != null && !e.weightsPresent()) {
                o.printf("    weights absent: put %s in %s%n", e.weights().getFileName(), e.weights().getParent());
            }
            if (!e.published().isEmpty()) {
                o.printf("    published: %s%n", e.published());
            }
            if (!e.metrics().isMissingNode()) {
                o.printf("    metrics: %s%n", summary(e.metrics()));
            }
        }
        o.printf("%nbuilt-in architectures (for cards' \"architecture\"; autoencoders by their taming config):%n");
        for (Models.Builtin b : Models.BUILTINS) {
            o.printf(Locale.ROOT, "  %-15s %-12s %s%n", b.name(), b.kind(), b.description());
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
