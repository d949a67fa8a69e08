package org.ctcf.cli;

import java.lang.reflect.Field;
import java.util.Locale;

import org.ctcf.api.ExplainOptions;
import org.ctcf.api.HeatmapMethod;
import org.ctcf.api.Target;

import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Option;

/**
 * The Latent Shift options of {@code explain} and {@code evaluate} (a mixin). Their defaults are not written here:
 * {@link Defaults} reads them from {@link ExplainOptions#defaults()}, so the API, the help text and the CLI cannot
 * disagree. A command that mixes these in names {@code defaultValueProvider = ShiftOptions.Defaults.class}.
 */
final class ShiftOptions {
    @Option(names = "--pred-diff", paramLabel = "P", description = "search_pred_diff. Default: ${DEFAULT-VALUE}.")
    double predDiff;

    @Option(names = "--step", paramLabel = "S", description = "search_step_size. Default: ${DEFAULT-VALUE}.")
    double step;

    @Option(names = "--max-steps", paramLabel = "N", description = "search_max_steps. Default: ${DEFAULT-VALUE}.")
    double maxSteps;

    @Option(names = "--pixel-cap", paramLabel = "F",
            description = "search_max_pixel_diff_pct. Default: ${DEFAULT-VALUE}.")
    double pixelCap;

    @Option(names = "--stop-below", paramLabel = "P",
            description = {"The search's floor: it stops where the score falls below P (the reference's 0.05; a "
                    + "scan already below it has nothing to lower: 0 explains it anyway). Default: ${DEFAULT-VALUE}."})
    double stopBelow;

    @Option(names = "--heatmap", paramLabel = "METHOD",
            description = "int, mean, max or mm. Default: ${DEFAULT-VALUE}.")
    String heatmap;

    @Option(names = "--fix-range", paramLabel = "LOW,HIGH", split = ",", description = "A fixed lambda range (no search).")
    double[] fixRange;

    @Option(names = "--autocast", paramLabel = "off|bf16|fp16",
            description = "Run the decoder and the classifier in bfloat16 or float16 (the encoder and the search stay "
                    + "float32; numbers change slightly). Default: ${DEFAULT-VALUE}.")
    String autocast;

    @Option(names = "--stitch", paramLabel = "best|greedy",
            description = {"A chunk sweep's counterfactual: best = the rank-1 chunk's own (the paper's minimum over "
                    + "chunks); greedy = ctcf's extension: chunks added in rank order while the re-scored composite "
                    + "strictly drops. Either way the mosaic of every chunk is written for display only. "
                    + "Default: ${DEFAULT-VALUE}."})
    String stitch;

    @Option(names = "--reference", description = "Run the literal published algorithm (slow).")
    boolean reference;

    /** These options over the API's defaults, for target {@code t} with {@code decoderBatch} slices per batch. */
    ExplainOptions.Builder builder(Target t, int decoderBatch) {
        if (fixRange != null && fixRange.length != 2) {
            throw new IllegalArgumentException("--fix-range takes LOW,HIGH");
        }
        ExplainOptions.Builder b = ExplainOptions.builder().target(t).searchPredDiff(predDiff).searchStepSize(step)
                .searchMaxSteps(maxSteps).searchMaxPixelDiffPct(pixelCap).stopBelow(stopBelow).heatmap(HeatmapMethod.parse(heatmap))
                .referenceMode(reference).decoderBatch(decoderBatch).autocast(ExplainOptions.Autocast.parse(autocast))
                .stitch(ExplainOptions.Stitch.parse(stitch));
        if (fixRange != null) {
            b.fixRange(fixRange[0], fixRange[1]);
        }
        return b;
    }

    /** The one source of the defaults above: {@link ExplainOptions#defaults()}. */
    static final class Defaults implements IDefaultValueProvider {
        private static final ExplainOptions D = ExplainOptions.defaults();

        @Override
        public String defaultValue(ArgSpec arg) {
            if (!(arg.userObject() instanceof Field f) || f.getDeclaringClass() != ShiftOptions.class) {
                return null;
            }
            return switch (f.getName()) {
                case "predDiff" -> number(D.searchPredDiff());
                case "step" -> number(D.searchStepSize());
                case "maxSteps" -> number(D.searchMaxSteps());
                case "pixelCap" -> number(D.searchMaxPixelDiffPct());
                case "stopBelow" -> number(D.stopBelow());
                case "heatmap" -> D.heatmap().name().toLowerCase(Locale.ROOT);
                case "autocast" -> D.autocast().name().toLowerCase(Locale.ROOT);
                case "stitch" -> D.stitch().name().toLowerCase(Locale.ROOT);
                default -> null;
            };
        }

        /** 3000 rather than 3000.0 in the help; parsed back to the same double. */
        private static String number(double v) {
            return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
        }
    }
}
