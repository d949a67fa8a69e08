package org.ctcf.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.ctcf.api.Classifier;
import org.ctcf.api.ClassifierCard;
import org.ctcf.api.ExplainOptions;
import org.ctcf.api.Explanation;
import org.ctcf.api.Kernel;
import org.ctcf.api.LatentShift;
import org.ctcf.api.Metrics;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.Target;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ctcf check-reference}: which antialias setting of the wrapper's resizes reproduces numbers the reference's
 * notebooks logged. The notebooks cannot tell: they import torchxrayvision, which silences every warning, so the
 * absence of torchvision's antialias warning proves nothing. Each logged case (classifier card, slices, search
 * limit, the logged prediction at λ 0, Σ|x0| × the pixel cap and, optionally, the λ bound) is run with antialias on
 * and off, and each setting is reported as a match or a mismatch.
 */
@Command(mixinStandardHelpOptions = true, name = "check-reference", description = {
    "Run the reference notebooks' logged cases with the wrapper's resizes antialiased and not; print which setting "
            + "reproduces the logged numbers.",
    "The default --logged file holds the ct-counterfactuals notebooks' own numbers on their own volume "
            + "(TCIA-LCTSC ...4268307088, in the repository's volumes/): lung size on slice 37 and pleural effusion "
            + "on slices 46-50. It needs the paper's weights next to their cards (ctcf models) and takes minutes on "
            + "a CPU. Exit 0 when exactly one setting matches every case, 10 otherwise."})
final class CheckReferenceCommand implements Callable<Integer> {
    /** Relative tolerance of a match: float32 on another device and LibTorch build, far below antialias's effect. */
    static final double TOLERANCE = 1e-4;

    @Parameters(index = "0", paramLabel = "VOLUME", description = "The notebooks' volume (NIfTI).")
    Path input;

    @Option(names = "--logged", paramLabel = "JSON", defaultValue = "models/paper/reference-logged.json",
            description = "The logged cases; classifier cards relative to it. Default: ${DEFAULT-VALUE}.")
    Path logged;

    @Mixin
    AeCommand.AutoencoderOptions ae;

    @Mixin
    PreprocessCommand.KernelOptions kernel;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** One logged case. */
    record Case(String name, Path classifier, int[] range, int[] slices, double maxSteps, double pixelCap, double p0,
            double pixelBudget, Double bound) {
        static Case of(JsonNode n, Path dir) {
            return new Case(n.path("name").asText(), dir.resolve(n.get("classifier").asText()),
                    pair(n.get("range")), pair(n.get("slices")), n.path("max_steps").asDouble(3000),
                    n.path("pixel_cap").asDouble(0.05), n.get("p0").asDouble(), n.get("pixel_budget").asDouble(),
                    n.hasNonNull("bound") ? n.get("bound").asDouble() : null);
        }

        private static int[] pair(JsonNode n) {
            return n == null || n.isNull() ? null : new int[] {n.get(0).asInt(), n.get(1).asInt()};
        }
    }

    /** What one setting gave on one case. */
    record Outcome(double p0, double pixelBudget, double bound) {
        boolean matches(Case c) {
            return close(p0, c.p0()) && close(pixelBudget, c.pixelBudget())
                    && (c.bound() == null || bound == c.bound());
        }

        static boolean close(double got, double want) {
            return Math.abs(got - want) <= TOLERANCE * Math.max(1.0, Math.abs(want));
        }
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter o = spec.commandLine().getOut();
        JsonNode root = new ObjectMapper().readTree(logged.toFile());
        if (root == null || !root.path("cases").isArray() || root.path("cases").isEmpty()) {
            throw new IllegalArgumentException(logged + ": no \"cases\" array");
        }
        Path dir = logged.toAbsolutePath().getParent();
        List<Case> cases = new ArrayList<>();
        root.get("cases").forEach(n -> cases.add(Case.of(n, dir)));
        boolean[] settings = {true, false};
        boolean[] all = {true, true};
        try (Kernel k = kernel.open(); Volume ct = VolumeIO.read(input); SliceAutoencoder a = ae.load(k)) {
            for (Case c : cases) {
                o.printf(Locale.ROOT, "%s: logged p0 %.10g, sum|x0| x pixel cap %.10g%s%n", c.name(), c.p0(),
                        c.pixelBudget(), c.bound() == null ? "" : String.format(Locale.ROOT, ", bound %g", c.bound()));
                o.flush();
                ClassifierCard card = ClassifierCard.read(c.classifier());
                try (Classifier clf = Classifier.load(card, k); Volume processed = k.preprocess(ct, card.preprocessing());
                        Volume x = c.range() == null ? processed.copyWithGeometry(processed.geometry())
                                : processed.slices(c.range()[0], c.range()[1])) {
                    for (int i = 0; i < settings.length; i++) {
                        a.withWrapper(a.wrapper().withAntialias(settings[i]));
                        Outcome r = run(x, a, clf, clf.target(null), c);
                        boolean ok = r.matches(c);
                        all[i] &= ok;
                        o.printf(Locale.ROOT, "  antialias %-5s p0 %.10g (%+.2e)  budget %.10g (%+.2e)%s  %s%n",
                                settings[i], r.p0(), r.p0() - c.p0(), r.pixelBudget(),
                                (r.pixelBudget() - c.pixelBudget()) / c.pixelBudget(),
                                c.bound() == null ? "" : String.format(Locale.ROOT, "  bound %g", r.bound()),
                                ok ? "match" : "mismatch");
                        o.flush();
                    }
                }
            }
        }
        int matching = (all[0] ? 1 : 0) + (all[1] ? 1 : 0);
        o.println(matching == 1 ? "verdict: the logged numbers were made with antialias " + all[0]
                + (all[0] ? " (torchvision >= 0.17)" : " (torchvision < 0.17)")
                : matching == 0 ? "verdict: neither setting reproduces the logged numbers (other weights, volume or "
                        + "preprocessing?)" : "verdict: both settings match: these cases cannot tell them apart");
        o.flush();
        return matching == 1 ? ExitCode.OK.code() : ExitCode.CHECK_FAILED.code();
    }

    /** λ 0 only (its prediction and reconstruction), or the search to its bound when the case logs one. */
    private static Outcome run(Volume x, SliceAutoencoder a, Classifier clf, Target t, Case c) {
        int s = c.slices() == null ? 0 : c.slices()[0];
        int e = c.slices() == null ? x.nz() : c.slices()[1];
        ExplainOptions.Builder b = ExplainOptions.builder().target(t).lambdaSweepSteps(2).searchMaxSteps(c.maxSteps())
                .searchMaxPixelDiffPct(c.pixelCap());
        if (c.bound() == null) {
            b.fixRange(0, 0);
        }
        try (Explanation r = LatentShift.explain(x, a, clf, b.build(), s, e, null)) {
            double sum = 0;
            for (float v : Metrics.toArray(r.reconstruction())) {
                sum += Math.abs(v);
            }
            return new Outcome(r.initialPrediction(), sum * c.pixelCap(), r.bound());
        }
    }
}
