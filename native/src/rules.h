// rules.h — the pure rules of Latent Shift (reference-algorithm.md §4, §5): the lambda schedule, the stop rules, the
// sweep frames' lambdas, a chunk sweep's spans, ranks and stitching, the heatmaps. Functions of numbers and tensors
// only, no model: the engine calls them, native/tests/rules_test.cpp pins them.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "ctcf.h"

namespace ctcf {

// One evaluated lambda: the prediction and the pixel change sum|x0 - x| of its volume (or chunk, fast mode).
struct Eval {
    double pred = 0;
    double dpix = 0;
};

struct SearchOutcome {
    double bound = 0;
    int32_t reason = CTCF_STOP_NONE;
};

// Throws InvalidArgument for options no explanation can run with.
void check_shift_options(const ctcf_shift_options* o);

// The reference's lambda recurrence: lb <- lb - step + floor(lb / 10) (Python's // on floats).
double next_lambda(double lb, double step);

// The next search candidates from lb on, at most `batch` of them: lb and its successors, cut after the first one
// at or below -search_max_steps (the search stops there at the latest).
std::vector<double> search_candidates(double lb, int64_t batch, const ctcf_shift_options& o);

// The stop rules in the reference's order for candidate lambda `lam`: the prediction rose above the previous one
// (`last`), fell below stop_below, dropped by search_pred_diff from p0, lambda reached -search_max_steps, or the
// pixel change exceeds search_max_pixel_diff_pct of s_total = sum|x0|. CTCF_STOP_NONE: go on.
int32_t stop_reason(const ctcf_shift_options& o, double p0, double last, double lam, const Eval& at, double s_total);

// The search of reference-algorithm.md §4. eval(lambdas) returns one Eval per lambda, in order (a batch of the
// schedule at a time); on_step(lambda, prediction) sees every evaluated candidate before its stop rules run.
template <typename EvalFn, typename StepFn>
SearchOutcome search_bound(const ctcf_shift_options& o, double p0, double s_total, int64_t batch, EvalFn eval,
                           StepFn on_step) {
    double lb = 0;
    double last = p0;
    while (true) {
        const std::vector<double> cand = search_candidates(lb, batch, o);
        const std::vector<Eval> res = eval(cand);
        for (size_t k = 0; k < cand.size(); ++k) {
            on_step(cand[k], res[k].pred);
            const int32_t reason = stop_reason(o, p0, last, cand[k], res[k], s_total);
            if (reason != CTCF_STOP_NONE) return SearchOutcome{cand[k], reason};
            last = res[k].pred;
        }
        lb = next_lambda(cand.back(), o.search_step_size);
    }
}

// numpy.linspace(start, stop, num): start + i * (stop - start) / (num - 1), last value exactly stop.
std::vector<double> linspace(double start, double stop, int64_t num);

// The lambdas of a chunk's `steps` sweep frames: from the search's bound to 0, or linspace(fix_lb, fix_rb, steps)
// with fix_range (no search).
std::vector<double> frame_lambdas(const ctcf_shift_options& o, double bound, int64_t steps);

// A chunk sweep's chunks [i, min(i + chunk, last)) for i = first + offset, first + offset + stride, ... below last.
std::vector<std::pair<int64_t, int64_t>> chunk_spans(int64_t chunk, int64_t stride, int64_t offset, int64_t first,
                                                     int64_t last);

// Chunk indices by rank (rank 1 first: the lowest min prediction; ties keep the sweep's order).
std::vector<size_t> rank_order(const std::vector<double>& min_predictions);

// Stitching overlapping chunks: a slice takes the chunk that lowers the prediction most (`best` is NaN while no
// chunk covered it yet).
bool stitch_replaces(double best, double min_prediction);

// The heatmap (ctcf_heatmap) of sweep frames [n, D, H, W] around the reconstruction x0 [D, H, W].
at::Tensor heatmap(int32_t method, const at::Tensor& frames, const at::Tensor& x0);

}  // namespace ctcf
