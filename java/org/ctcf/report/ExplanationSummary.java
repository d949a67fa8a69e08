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
            double searchMaxPixelDiffPct, double stopBelow, String heatmap, String autocast, int frames,
            List<Double> fixRange,
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
     * @param stitch how the counterfactual was built: {@code best} (the rank-1 chunk's own, the paper's) or
     *     {@code greedy} (ctcf's extension)
     * @param counterfactualFound false when no chunk lowered the prediction below the initial one: then the
     *     counterfactual is the reconstruction and its prediction the initial one
     * @param counterfactualPrediction the classifier on the counterfactual (the headline)
     * @param counterfactualChunks the chunks {@code [start, end)} the counterfactual is made of, in the order added
     * @param minimumPrediction the lowest prediction over chunks (the paper's Table 1)
     * @param stitchedPrediction the classifier on the reference's display mosaic (every chunk's frame 0 on its own
     *     slices), which the method never scores: shown beside the result, not a counterfactual
     * @param slicePrediction per slice, the minimum prediction of the chunk(s) covering it
     * @param sliceChange per slice, Σ heatmap² of the mosaic's heatmap (the reference's chunk-sweep measure)
     * @param sliceChangeSmoothed {@code sliceChange} smoothed by a centred 5-tap moving average (as the reference
     *     plots it, {@link SweepResult#movingAverage})
     * @param sliceChangeAbs per slice, Σ |heatmap| (the reference's single-chunk measure)
     * @param explainedChunk the rank-1 chunk explained with the sweep frames, absent without images
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record SweepSummary(int chunkSize, int stride, String stitch, double initialPrediction,
            boolean counterfactualFound, double counterfactualPrediction, List<List<Integer>> counterfactualChunks,
            double minimumPrediction, double stitchedPrediction, List<ChunkRow> chunks, double[] slicePrediction,
            double[] sliceChange, double[] sliceChangeSmoothed, double[] sliceChangeAbs, String sliceChangeMeasure,
            TimingSummary timings, @JsonInclude(JsonInclude.Include.NON_NULL) ChunkExplanation explainedChunk) {
        static final String SLICE_CHANGE_MEASURE = "slice_change: sum of heatmap^2 over each slice of every chunk's "
                + "heatmap (the reference's chunk-sweep notebooks); slice_change_smoothed: its centred 5-tap moving "
                + "average (as they plot it); slice_change_abs: sum of |heatmap| (its single-chunk notebook)";
        /** The reference's smoothing of the per-slice change. */
        static final int SMOOTHING_TAPS = 5;

        static SweepSummary of(SweepResult r, int chunkSize, int stride, ChunkExplanation explained) {
            double[] squared = r.sliceChange(true);
            return new SweepSummary(chunkSize, stride, r.stitch().name().toLowerCase(java.util.Locale.ROOT),
                    r.initialPrediction(), r.found(), r.counterfactualPrediction(),
                    r.counterfactualChunks().stream().map(c -> List.of(c.start(), c.end())).toList(),
                    r.minimumPrediction(), r.stitchedPrediction(), r.chunks().stream().map(ChunkRow::of).toList(),
                    r.slicePrediction(), squared, SweepResult.movingAverage(squared, SMOOTHING_TAPS),
                    r.sliceChange(false), SLICE_CHANGE_MEASURE, TimingSummary.of(r.timings()), explained);
        }

        /** What a reader should know of the display mosaic's score, if it is above the result or p0. */
        public java.util.Optional<String> stitchedCaveatOptional() {
            return java.util.Optional.ofNullable(stitchedCaveat());
        }

        /** What a reader should know of the display mosaic's score, or null: it is above the result or p0. */
        public String stitchedCaveat() {
            if (stitchedPrediction > initialPrediction) {
                return String.format(java.util.Locale.ROOT, "the display mosaic of every chunk's frame scores %.4f, "
                        + "above the input's %.4f: the chunks' shifts were computed one at a time and do not add up; "
                        + "it is not a counterfactual", stitchedPrediction, initialPrediction);
            }
            if (stitchedPrediction > counterfactualPrediction) {
                return String.format(java.util.Locale.ROOT, "the display mosaic of every chunk's frame scores %.4f, "
                        + "above the counterfactual's %.4f: the chunks' shifts were computed one at a time and do "
                        + "not add up", stitchedPrediction, counterfactualPrediction);
            }
            return null;
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

    /**
     * The prediction on the counterfactual: the chunk's frame 0, or for a sweep its counterfactual's (the best
     * chunk's, {@link SweepSummary#counterfactualPrediction()}; the initial prediction when none was found).
     */
    public double counterfactualPrediction() {
        return explanation != null ? explanation.counterfactualPrediction() : sweep.counterfactualPrediction();
    }

    /** False for a sweep in which no chunk lowered the prediction (a single chunk's frame 0 always counts). */
    public boolean counterfactualFound() {
        return explanation != null || sweep.counterfactualFound();
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
