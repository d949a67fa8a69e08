package org.ctcf.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.ctcf.TestPaths;
import org.ctcf.api.Classifier;
import org.ctcf.api.ExplainOptions;
import org.ctcf.api.Kernel;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.Saliency;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.api.SliceWrapper;
import org.ctcf.api.Target;
import org.ctcf.cli.Main;
import org.ctcf.core.Shard;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * {@code --shard I/N} and {@code --merge}: two shards merged give the rows and statistics of one unsharded run; a
 * shard given twice and shards of different configurations are refused.
 */
public class EvaluationShardTest {
    @TempDir
    Path tmp;

    /** results.csv's "seconds" column: the only one that differs between two runs of the same rows. */
    private static final int SECONDS = 10;

    @Test
    void twoShardsMergedEqualOneRun() throws IOException {
        // v0, v1 positive (with a position), v2, v3 negative; rows out of name order so that the merge must follow
        // the manifest. Shard 0/2 owns v1 and v2, shard 1/2 owns v0 and v3 (checked below).
        StringBuilder csv = new StringBuilder("volume,label,x_mm,y_mm,z_mm\n");
        Random r = new Random(3);
        for (int i = 0; i < 4; i++) {
            EvaluationTest.writeCase(tmp.resolve("v" + i + ".nii.gz"), i, i < 2, r);
        }
        for (int i : new int[] {3, 0, 2, 1}) {
            csv.append("v").append(i).append(".nii.gz,").append(i < 2 ? 1 : 0).append(i < 2 ? ",12,12,66\n" : ",,,\n");
        }
        Path manifest = tmp.resolve("eval.csv");
        Files.writeString(manifest, csv.toString());
        EvalManifest m = EvalManifest.read(manifest);
        Shard s0 = Shard.parse("0/2");
        Shard s1 = Shard.parse("1/2");
        assertThat(m.cases().stream().filter(c -> s0.owns(c.id())).map(EvalManifest.Case::id))
                .containsExactly("v2.nii.gz", "v1.nii.gz");
        Path whole = tmp.resolve("whole");
        Path a = tmp.resolve("shard0");
        Path b = tmp.resolve("shard1");
        try (Kernel k = Kernel.open();
                SliceAutoencoder ae = SliceAutoencoder.load(TestPaths.vqgan("tiny_vqgan.safetensors"), null, k)
                        .withWrapper(SliceWrapper.plain()).withBatchSize(16);
                Classifier c = Classifier.define("def forward(self, x):\n    return ((x[:, :, 20:25].mean(dim=[1, 2, "
                        + "3, 4]) - " + EvaluationTest.center(k, tmp) + ") * 60.0).unsqueeze(1)\n",
                        Classifier.Layout.BCDHW, 0, k)) {
            var o = new Evaluation.Options(ExplainOptions.builder().target(Target.sigmoidOf(0)).build(),
                    PreprocessOptions.reorientOnly("RAS"), List.of(16), List.of(Saliency.Method.GRADIENT),
                    Saliency.Options.defaults());
            Evaluation.Listener quiet = new Evaluation.Listener() {
                @Override
                public void started(int i, int n, EvalManifest.Case cs) {
                }

                @Override
                public void finished(int i, int n, Evaluation.Row row, double eta) {
                }
            };
            Evaluation.run(k, ae, c, m, o, whole, quiet);
            Evaluation.run(k, ae, c, m, o, s0, a, quiet);
            Evaluation.run(k, ae, c, m, o, s1, b, quiet);
        }
        // each shard wrote a normal run of its subset, with the whole manifest's columns
        assertThat(Files.readAllLines(a.resolve(Evaluation.RESULTS))).hasSize(3);
        assertThat(Files.readAllLines(b.resolve(Evaluation.RESULTS)).get(0))
                .isEqualTo(Files.readAllLines(whole.resolve(Evaluation.RESULTS)).get(0));
        ObjectMapper json = new ObjectMapper();
        assertThat(json.readTree(a.resolve(Evaluation.SUMMARY).toFile()).path("shard").asText()).isEqualTo("0/2");

        // merged through the CLI (no models), on a machine without the scans: only the manifest's rows are needed
        for (int i = 0; i < 4; i++) {
            Files.delete(tmp.resolve("v" + i + ".nii.gz"));
        }
        Path merged = tmp.resolve("merged");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new String[] {"-q", "evaluate", "--merge", a.toString(), b.toString(), "-o",
            merged.toString()}, new PrintWriter(out, true), new PrintWriter(err, true));
        assertThat(code).as(err.toString()).isZero();
        List<String> one = Files.readAllLines(whole.resolve(Evaluation.RESULTS));
        List<String> two = Files.readAllLines(merged.resolve(Evaluation.RESULTS));
        assertThat(two).hasSize(5);
        assertThat(withoutSeconds(two)).isEqualTo(withoutSeconds(one));
        assertThat(two.stream().skip(1).map(l -> l.split(",")[0]))
                .containsExactly("v3.nii.gz", "v0.nii.gz", "v2.nii.gz", "v1.nii.gz");
        JsonNode s1json = withoutTiming(json.readTree(whole.resolve(Evaluation.SUMMARY).toFile()));
        JsonNode s2json = withoutTiming(json.readTree(merged.resolve(Evaluation.SUMMARY).toFile()));
        assertThat(s2json).isEqualTo(s1json);
        assertThat(s2json.path("table1").path("positives").path("n").asInt()).isEqualTo(2);
        assertThat(s2json.has("localization")).isTrue();
        assertThat(merged.resolve(Evaluation.CHUNK_PLOT)).isRegularFile();
        assertThat(merged.resolve(Evaluation.DISTRIBUTION_PLOT)).isRegularFile();

        // the same shard twice (the same folder, or a copy of it)
        Path copy = tmp.resolve("shard0-copy");
        copyDir(a, copy);
        assertThatThrownBy(() -> Evaluation.merge(List.of(a, a, b), null, tmp.resolve("m2")))
                .hasMessageContaining("v2.nii.gz").hasMessageContaining("is in both");
        assertThatThrownBy(() -> Evaluation.merge(List.of(a, copy, b), null, tmp.resolve("m2")))
                .hasMessageContaining("is in both").hasMessageContaining(a.toString())
                .hasMessageContaining(copy.toString());
        // a missing shard
        assertThatThrownBy(() -> Evaluation.merge(List.of(a), null, tmp.resolve("m2")))
                .hasMessageContaining("1/2").hasMessageContaining("missing");
        // different configurations: shard 1 as if run with another search step
        Path other = tmp.resolve("shard1-other");
        copyDir(b, other);
        ObjectNode s = (ObjectNode) json.readTree(other.resolve(Evaluation.SUMMARY).toFile());
        ((ObjectNode) s.path("configuration").path("options").path("explain")).put("searchStepSize", 123.0);
        json.writeValue(other.resolve(Evaluation.SUMMARY).toFile(), s);
        assertThatThrownBy(() -> Evaluation.merge(List.of(a, other), null, tmp.resolve("m2")))
                .hasMessageContaining(a.toString()).hasMessageContaining(other.toString())
                .hasMessageContaining("configuration.options");
        assertThat(tmp.resolve("m2")).doesNotExist();
    }

    @Test
    void usageErrors() {
        StringWriter err = new StringWriter();
        assertThat(Main.run(new String[] {"evaluate", "m.csv", "--shard", "2/2"}, new PrintWriter(new StringWriter()),
                new PrintWriter(err, true))).isNotZero();
        assertThat(err.toString()).contains("--shard").contains("2/2");
        err.getBuffer().setLength(0);
        assertThat(Main.run(new String[] {"evaluate"}, new PrintWriter(new StringWriter()), new PrintWriter(err, true)))
                .isNotZero();
        assertThat(err.toString()).contains("MANIFEST.csv");
        err.getBuffer().setLength(0);
        assertThat(Main.run(new String[] {"evaluate", "--merge", tmp.resolve("nothing").toString()},
                new PrintWriter(new StringWriter()), new PrintWriter(err, true))).isNotZero();
        assertThat(err.toString()).contains("nothing").contains("no finished evaluation");
    }

    public static List<String> withoutSeconds(List<String> lines) {
        List<String> out = new ArrayList<>();
        for (String l : lines) {
            String[] f = l.split(",", -1);
            f[SECONDS] = "";
            out.add(String.join(",", f));
        }
        return out;
    }

    /** summary.json without its one timing field, the sum of the rows' seconds. */
    public static JsonNode withoutTiming(JsonNode n) {
        ((ObjectNode) n).remove("seconds");
        return n;
    }

    private static void copyDir(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var s = Files.list(from)) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(p.getFileName()));
            }
        }
    }
}
