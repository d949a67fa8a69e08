package org.ctcf.report;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.ctcf.api.Explanation;
import org.ctcf.api.Kernel;
import org.ctcf.api.StopReason;
import org.ctcf.api.SweepResult;
import org.ctcf.api.Timings;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/**
 * {@code summary.json} of {@code ctcf explain} as records: what was explained with which models and options, the
 * result of one chunk ({@link #explanation()}) or of a chunk sweep ({@link #sweep()}, exactly one of the two), the
 * files written and the cost. Keys are the components' names in snake case, in declaration order; the result's keys sit
 * at the top level (unwrapped), so a summary reads as one flat object. README.md lists every key.
 *
 * @param range {@code A:B} when only those processed slices were the volume ({@code --range}), else absent
 * @param explanation one chunk's explanation (its keys at the top level), or null for a sweep
 * @param sweep a chunk sweep (its keys at the top level), or null for one chunk
 * @param display the convention of the images and the report's viewer ({@code radiological} or {@code neurological})
 * @param lungFraction the lung fraction ({@link org.ctcf.api.InputDomain}) of the volume the classifier saw, when its
 *     card states a domain, else absent
 * @param lungFractionMin the card's {@code domain.lung_fraction_min}, else absent
 * @param inDomain {@code lungFraction >= lungFractionMin}; false: no lungs in view, the predictions are not
 *     meaningful (absent without a domain)
 * @param outputs the files written, in the order written; the summary itself last
 * @param warnings what could not be drawn or written, and why (absent when empty)
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record ExplanationSummary(String input, String inputSha256, String inputGrid, String classifier,
        String classifierCard, TargetSummary target, String autoencoder, JsonNode sliceWrapper,
        String classifierOrientation, String mode, Versions versions, OptionsSummary options,
        @JsonInclude(JsonInclude.Include.NON_NULL) String range, String processedGrid, String display,
        @JsonInclude(JsonInclude.Include.NON_NULL) Double lungFraction,
        @JsonInclude(JsonInclude.Include.NON_NULL) Double lungFractionMin,
        @JsonInclude(JsonInclude.Include.NON_NULL) Boolean inDomain,
        @JsonUnwrapped ChunkExplanation explanation, @JsonUnwrapped SweepSummary sweep, List<String> outputs,
        @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> warnings, double wallSeconds,
        double peakResidentMib) {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public ExplanationSummary {
        warnings = warnings == null ? List.of() : List.copyOf(warnings);
        // reading: Jackson fills both unwrapped parts from the shared keys; the part without its own keys is absent
        if (explanation != null && explanation.chunk() == null) {
            explanation = null;
        }
        if (sweep != null && sweep.chunks() == null) {
            sweep = null;
        }
        if ((explanation == null) == (sweep == null)) {
            throw new IllegalArgumentException("a summary holds one chunk or one sweep");
        }
    }

    /** The explained class: its index, its name on the card ("" without names) and the score's offset. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record TargetSummary(int index, String name, double offset) {
    }

    /** The versions of the Java layer, the native kernel (its build line) and the JVM. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Versions(String ctcf, String kernel, String java) {
        /** The versions of this process: the jar's, the loaded kernel's and the JVM's. */
        public static Versions current() {
            return new Versions(ctcfVersion(), Kernel.buildInfo(), Runtime.version().toString());
        }

        /** The Java layer's version (from the jar's {@code version.properties}), or "unknown". */
        public static String ctcfVersion() {
            try (InputStream in = Versions.class.getResourceAsStream("/org/ctcf/version.properties")) {
                Properties p = new Properties();
                if (in != null) {
                    p.load(in);
                }
                return p.getProperty("version", "unknown");
            } catch (IOException e) {
                return "unknown";
            }
        }
    }

    /**
     * The Latent Shift options the run used, and how the kernel was asked for.
     *
     * @param frames sweep frames of the explained chunk (GIF, λ plot)
     * @param fixRange the fixed λ range {@code [low, high]}, or null (written as null) for the search
     * @param threads LibTorch intra-op threads as requested (0 = every available processor)
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record OptionsSummary(double searchPredDiff, double searchStepSize, double searchMaxSteps,
            double searchMaxPixelDiffPct, String heatmap, String autocast, int frames, List<Double> fixRange,
            String device, int threads) {
    }

    /** Where an explanation spent its time (seconds) and work ({@link Timings}). */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record TimingSummary(double encodeDecodeS, double gradientS, double searchS, double sweepFramesS,
            double totalS, long lambdasEvaluated, long slicesDecoded, long classifierCalls, double peakResidentMib) {
        static TimingSummary of(Timings t) {
            return new TimingSummary(t.encodeDecode(), t.gradient(), t.search(), t.sweepFrames(), t.total(),
                    t.lambdasEvaluated(), t.slicesDecoded(), t.classifierCalls(), t.peakResidentMiB());
        }
    }

    /**
     * One chunk's explanation ({@link Explanation}): the sweep frames' λs and predictions (frame 0 the
     * counterfactual), and every λ the search evaluated.
     *
     * @param chunk {@code [start, end)} on the processed grid
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record ChunkExplanation(List<Integer> chunk, double initialPrediction, double counterfactualPrediction,
            double lambdaBound, StopReason stopReason, double[] lambdas, double[] predictions, double[] searchLambdas,
            double[] searchPredictions, TimingSummary timings) {
        static ChunkExplanation of(Explanation e) {
            return new ChunkExplanation(List.of(e.chunkStart(), e.chunkEnd()), e.initialPrediction(),
                    e.counterfactualPrediction(), e.bound(), e.stopReason(), e.lambdas(), e.predictions(),
                    e.searchLambdas(), e.searchPredictions(), TimingSummary.of(e.timings()));
        }
    }

    /** One row of a sweep's chunk table ({@link SweepResult.Chunk}); rank 1 lowers the prediction most. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record ChunkRow(int start, int end, double minPrediction, double lambdaBound, StopReason stopReason,
            double pixelChange, int rank) {
        static ChunkRow of(SweepResult.Chunk c) {
            return new ChunkRow(c.start(), c.end(), c.minPrediction(), c.bound(), c.stopReason(), c.pixelChange(),
                    c.rank());
        }
    }

    /**
     * A chunk sweep ({@link SweepResult}).
     *
     * @param slicePrediction per slice, the minimum prediction of the chunk(s) covering it
     * @param sliceChange per slice, the measure {@code sliceChangeMeasure} names
     * @param explainedChunk the rank-1 chunk explained with the sweep frames, absent without images
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record SweepSummary(int chunkSize, int stride, double initialPrediction, double minimumPrediction,
            double stitchedPrediction, List<ChunkRow> chunks, double[] slicePrediction, double[] sliceChange,
            String sliceChangeMeasure, TimingSummary timings,
            @JsonInclude(JsonInclude.Include.NON_NULL) ChunkExplanation explainedChunk) {
        static final String SLICE_CHANGE_MEASURE = "sum of |heatmap| over each slice (the reference's plot)";

        static SweepSummary of(SweepResult r, int chunkSize, int stride, ChunkExplanation explained) {
            return new SweepSummary(chunkSize, stride, r.initialPrediction(), r.minimumPrediction(),
                    r.stitchedPrediction(), r.chunks().stream().map(ChunkRow::of).toList(), r.slicePrediction(),
                    r.sliceChange(), SLICE_CHANGE_MEASURE, TimingSummary.of(r.timings()), explained);
        }
    }

    /**
     * This summary with the files written, what could not be, the seconds taken and the process's peak resident
     * memory.
     */
    ExplanationSummary withOutputs(List<String> files, List<String> problems, double seconds, double peakMiB) {
        return new ExplanationSummary(input, inputSha256, inputGrid, classifier, classifierCard, target, autoencoder,
                sliceWrapper, classifierOrientation, mode, versions, options, range, processedGrid, display,
                lungFraction, lungFractionMin, inDomain, explanation, sweep, List.copyOf(files), List.copyOf(problems), seconds, peakMiB);
    }

    /** True when the card states a domain and the volume is outside it: the predictions are not meaningful. */
    public boolean outOfDomain() {
        return Boolean.FALSE.equals(inDomain);
    }

    /** The input-domain check recorded, or null without one. */
    public org.ctcf.api.InputDomain.Check domainCheck() {
        return inDomain == null ? null
                : new org.ctcf.api.InputDomain.Check(lungFraction, lungFractionMin, inDomain);
    }

    /** The prediction on the reconstruction. */
    public double initialPrediction() {
        return explanation != null ? explanation.initialPrediction() : sweep.initialPrediction();
    }

    /** The prediction on the counterfactual: the chunk's, or the stitched volume's for a sweep. */
    public double counterfactualPrediction() {
        return explanation != null ? explanation.counterfactualPrediction() : sweep.stitchedPrediction();
    }

    /** The summary as {@code summary.json} holds it (indented JSON, UTF-8). */
    public byte[] toJson() {
        try {
            return JSON.writeValueAsBytes(this);
        } catch (IOException e) {
            throw new IllegalStateException("summary not serialisable", e);
        }
    }

    /** The summary as a JSON-shaped map (key order kept), for the report's key table and chunk table. */
    Map<String, Object> toMap() {
        return JSON.convertValue(this, new TypeReference<LinkedHashMap<String, Object>>() { });
    }

    /** Reads a {@code summary.json}. */
    public static ExplanationSummary read(Path file) throws IOException {
        return JSON.readValue(file.toFile(), ExplanationSummary.class);
    }
}
