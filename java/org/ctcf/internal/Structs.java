package org.ctcf.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;

import org.ctcf.core.Volume;

/**
 * The marshallers: every C struct of {@code ctcf.h} the Java side writes or reads, written from or read into the
 * plain {@link Specs} records, by field name against the layouts in {@link NativeLib} (whose offsets
 * {@code LayoutCheckTest} compares with the C compiler's). Nothing outside this package builds a struct.
 */
final class Structs {
    private Structs() {
    }

    /** A ctcf_volume describing {@code v}'s voxels; the caller holds a lease on {@code v}. */
    static MemorySegment volume(Arena arena, Volume v) {
        MemorySegment d = arena.allocate(NativeLib.VOLUME);
        d.set(ADDRESS, off(NativeLib.VOLUME, "data"), v.segmentUnderLease());
        int[] dims = v.geometry().dims();
        double[] spacing = v.geometry().spacing();
        for (int i = 0; i < 3; i++) {
            d.set(JAVA_LONG, off(NativeLib.VOLUME, "dims") + 8L * i, dims[i]);
            d.set(JAVA_DOUBLE, off(NativeLib.VOLUME, "spacing") + 8L * i, spacing[i]);
        }
        return d;
    }

    static MemorySegment preprocess(Arena arena, Specs.Preprocess p) {
        StructLayout l = NativeLib.PREPROCESS_PARAMS;
        MemorySegment s = arena.allocate(l);
        for (int i = 0; i < 3; i++) {
            s.set(JAVA_INT, off(l, "axis_perm") + 4L * i, p.axisPerm()[i]);
            s.set(JAVA_INT, off(l, "axis_flip") + 4L * i, p.axisFlip()[i] ? 1 : 0);
            s.set(JAVA_DOUBLE, off(l, "target_spacing") + 8L * i, p.targetSpacing()[i]);
        }
        s.set(JAVA_DOUBLE, off(l, "window_low"), p.windowLow());
        s.set(JAVA_DOUBLE, off(l, "window_high"), p.windowHigh());
        s.set(JAVA_LONG, off(l, "in_plane_size"), p.inPlaneX());
        s.set(JAVA_LONG, off(l, "in_plane_size") + 8, p.inPlaneY());
        s.set(JAVA_DOUBLE, off(l, "pad_value"), p.padValue());
        return s;
    }

    static MemorySegment wrapper(Arena arena, Specs.Wrapper w) {
        StructLayout l = NativeLib.SLICE_WRAPPER;
        MemorySegment s = arena.allocate(l);
        s.set(JAVA_DOUBLE, off(l, "in_scale"), w.inScale());
        s.set(JAVA_DOUBLE, off(l, "in_shift"), w.inShift());
        s.set(JAVA_DOUBLE, off(l, "out_scale"), w.outScale());
        s.set(JAVA_DOUBLE, off(l, "out_shift"), w.outShift());
        s.set(JAVA_LONG, off(l, "resize"), w.resize());
        s.set(JAVA_INT, off(l, "transpose"), w.transpose() ? 1 : 0);
        s.set(JAVA_INT, off(l, "reference_orientation"), w.referenceOrientation() ? 1 : 0);
        s.set(JAVA_INT, off(l, "antialias"), w.antialias() ? 1 : 0);
        return s;
    }

    static MemorySegment vq(Arena arena, Specs.Vq c) {
        StructLayout l = NativeLib.VQ_CONFIG;
        if (c.chMult().length > NativeLib.MAX_LEVELS || c.attnResolutions().length > NativeLib.MAX_LEVELS) {
            throw new IllegalArgumentException("at most " + NativeLib.MAX_LEVELS + " levels (ch_mult "
                    + c.chMult().length + ", attn_resolutions " + c.attnResolutions().length + ")");
        }
        MemorySegment s = arena.allocate(l);
        s.set(JAVA_LONG, off(l, "ch"), c.ch());
        s.set(JAVA_LONG, off(l, "out_ch"), c.outCh());
        s.set(JAVA_LONG, off(l, "in_channels"), c.inChannels());
        s.set(JAVA_LONG, off(l, "resolution"), c.resolution());
        s.set(JAVA_LONG, off(l, "z_channels"), c.zChannels());
        s.set(JAVA_LONG, off(l, "num_res_blocks"), c.numResBlocks());
        s.set(JAVA_LONG, off(l, "embed_dim"), c.embedDim());
        s.set(JAVA_LONG, off(l, "n_embed"), c.nEmbed());
        s.set(JAVA_INT, off(l, "double_z"), c.doubleZ() ? 1 : 0);
        s.set(JAVA_INT, off(l, "resamp_with_conv"), c.resampWithConv() ? 1 : 0);
        s.set(JAVA_INT, off(l, "n_ch_mult"), c.chMult().length);
        s.set(JAVA_INT, off(l, "n_attn_resolutions"), c.attnResolutions().length);
        for (int i = 0; i < c.chMult().length; i++) {
            s.set(JAVA_LONG, off(l, "ch_mult") + 8L * i, c.chMult()[i]);
        }
        for (int i = 0; i < c.attnResolutions().length; i++) {
            s.set(JAVA_LONG, off(l, "attn_resolutions") + 8L * i, c.attnResolutions()[i]);
        }
        s.set(JAVA_DOUBLE, off(l, "dropout"), c.dropout());
        return s;
    }

    static MemorySegment score(Arena arena, Specs.Score t) {
        StructLayout l = NativeLib.SCORE_SPEC;
        MemorySegment s = arena.allocate(l);
        s.set(JAVA_LONG, off(l, "target"), t.target());
        s.set(JAVA_INT, off(l, "apply_sigmoid"), t.sigmoid() ? 1 : 0);
        s.set(JAVA_INT, off(l, "activation"), t.activation());
        s.set(JAVA_DOUBLE, off(l, "offset"), t.offset());
        s.set(JAVA_INT, off(l, "reducer"), t.reducer());
        return s;
    }

    static MemorySegment shift(Arena arena, Specs.Shift o) {
        StructLayout l = NativeLib.SHIFT_OPTIONS;
        MemorySegment s = arena.allocate(l);
        s.set(JAVA_DOUBLE, off(l, "search_pred_diff"), o.searchPredDiff());
        s.set(JAVA_DOUBLE, off(l, "search_step_size"), o.searchStepSize());
        s.set(JAVA_DOUBLE, off(l, "search_max_steps"), o.searchMaxSteps());
        s.set(JAVA_DOUBLE, off(l, "search_max_pixel_diff_pct"), o.searchMaxPixelDiffPct());
        s.set(JAVA_DOUBLE, off(l, "stop_below"), o.stopBelow());
        s.set(JAVA_DOUBLE, off(l, "fix_lb"), o.fixLow());
        s.set(JAVA_DOUBLE, off(l, "fix_rb"), o.fixHigh());
        s.set(JAVA_INT, off(l, "lambda_sweep_steps"), o.lambdaSweepSteps());
        s.set(JAVA_INT, off(l, "heatmap"), o.heatmap());
        s.set(JAVA_INT, off(l, "fix_range"), o.fixRange() ? 1 : 0);
        s.set(JAVA_INT, off(l, "reference_mode"), o.referenceMode() ? 1 : 0);
        s.set(JAVA_LONG, off(l, "lambda_batch"), o.lambdaBatch());
        s.set(JAVA_LONG, off(l, "decoder_batch"), o.decoderBatch());
        s.set(JAVA_LONG, off(l, "gradient_batch"), o.gradientBatch());
        s.set(JAVA_INT, off(l, "focus_frames"), o.focusFrames());
        s.set(JAVA_INT, off(l, "autocast"), o.autocast());
        s.set(JAVA_INT, off(l, "stitch"), o.stitch());
        return s;
    }

    static MemorySegment saliency(Arena arena, Specs.Saliency o) {
        StructLayout l = NativeLib.SALIENCY_OPTIONS;
        MemorySegment s = arena.allocate(l);
        s.set(JAVA_INT, off(l, "steps"), o.steps());
        s.set(JAVA_DOUBLE, off(l, "baseline"), o.baseline());
        for (int a = 0; a < 3; a++) {
            s.set(JAVA_LONG, off(l, "window") + 8L * a, o.window()[a]);
            s.set(JAVA_LONG, off(l, "stride") + 8L * a, o.stride()[a]);
        }
        s.set(JAVA_DOUBLE, off(l, "fill"), o.fill());
        s.set(JAVA_LONG, off(l, "batch"), o.batch());
        s.set(ADDRESS, off(l, "layer"), o.layer() == null ? MemorySegment.NULL
                : arena.allocateFrom(o.layer(), StandardCharsets.UTF_8));
        return s;
    }

    static MemorySegment train(Arena arena, Specs.Train o) {
        StructLayout l = NativeLib.TRAIN_OPTIONS;
        MemorySegment s = arena.allocate(l);
        s.set(JAVA_DOUBLE, off(l, "learning_rate"), o.learningRate());
        s.set(JAVA_DOUBLE, off(l, "beta1"), o.beta1());
        s.set(JAVA_DOUBLE, off(l, "beta2"), o.beta2());
        s.set(JAVA_DOUBLE, off(l, "weight_decay"), o.weightDecay());
        s.set(JAVA_DOUBLE, off(l, "codebook_weight"), o.codebookWeight());
        s.set(JAVA_DOUBLE, off(l, "commitment"), o.commitment());
        s.set(JAVA_DOUBLE, off(l, "disc_weight"), o.discWeight());
        s.set(JAVA_DOUBLE, off(l, "disc_learning_rate"), o.discLearningRate());
        s.set(JAVA_LONG, off(l, "disc_start"), o.discStart());
        s.set(JAVA_LONG, off(l, "disc_channels"), o.discChannels());
        s.set(JAVA_INT, off(l, "disc_layers"), o.discLayers());
        s.set(JAVA_LONG, off(l, "code_restart_every"), o.codeRestartEvery());
        s.set(JAVA_DOUBLE, off(l, "label_smoothing"), o.labelSmoothing());
        return s;
    }

    static Specs.TrainStats trainStats(MemorySegment s) {
        StructLayout l = NativeLib.TRAIN_STATS;
        return new Specs.TrainStats(s.get(JAVA_LONG, off(l, "step")), s.get(JAVA_DOUBLE, off(l, "loss")),
                s.get(JAVA_DOUBLE, off(l, "reconstruction")), s.get(JAVA_DOUBLE, off(l, "codebook")),
                s.get(JAVA_DOUBLE, off(l, "generator")), s.get(JAVA_DOUBLE, off(l, "discriminator")),
                s.get(JAVA_DOUBLE, off(l, "adaptive_weight")), s.get(JAVA_LONG, off(l, "codes_used")),
                s.get(JAVA_DOUBLE, off(l, "perceptual")));
    }

    static Specs.ResultInfo resultInfo(MemorySegment i) {
        StructLayout l = NativeLib.RESULT_INFO;
        double[] sec = new double[Specs.Timer.COUNT];
        for (int k = 0; k < sec.length; k++) {
            sec[k] = i.get(JAVA_DOUBLE, off(l, "seconds") + 8L * k);
        }
        return new Specs.ResultInfo(i.get(JAVA_DOUBLE, off(l, "p0")), i.get(JAVA_DOUBLE, off(l, "bound")),
                i.get(JAVA_DOUBLE, off(l, "stitched_prediction")), i.get(JAVA_DOUBLE, off(l, "counterfactual_prediction")),
                sec, i.get(JAVA_LONG, off(l, "frames")), i.get(JAVA_LONG, off(l, "lambdas_evaluated")),
                i.get(JAVA_LONG, off(l, "slices_decoded")), i.get(JAVA_LONG, off(l, "classifier_calls")),
                i.get(JAVA_LONG, off(l, "gradient_slices")), i.get(JAVA_LONG, off(l, "chunks")),
                i.get(JAVA_INT, off(l, "stop_reason")), i.get(JAVA_INT, off(l, "counterfactual_chunks")));
    }

    static Specs.ChunkRow chunkRow(MemorySegment row) {
        StructLayout l = NativeLib.CHUNK_ROW;
        return new Specs.ChunkRow(row.get(JAVA_LONG, off(l, "start")), row.get(JAVA_LONG, off(l, "end")),
                row.get(JAVA_DOUBLE, off(l, "min_prediction")), row.get(JAVA_DOUBLE, off(l, "bound")),
                row.get(JAVA_DOUBLE, off(l, "pixel_change")), row.get(JAVA_INT, off(l, "stop_reason")),
                row.get(JAVA_INT, off(l, "rank")));
    }

    static long off(StructLayout l, String field) {
        return l.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }
}
