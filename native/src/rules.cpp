// rules.cpp — the pure rules of Latent Shift: schedule, stop rules, frames, spans, ranks, heatmaps (see rules.h).
#include "rules.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <tuple>

#include "guard.h"

namespace ctcf {

void check_shift_options(const ctcf_shift_options* o) {
    require(o, "options");
    auto finite_pos = [](double v) { return std::isfinite(v) && v >= 0; };
    if (!finite_pos(o->search_pred_diff) || !finite_pos(o->search_max_steps) ||
        !finite_pos(o->search_max_pixel_diff_pct) || !std::isfinite(o->stop_below)) {
        throw InvalidArgument("search options must be finite and non-negative");
    }
    if (!(o->search_step_size > 0) || !std::isfinite(o->search_step_size)) {
        throw InvalidArgument("search_step_size must be > 0");
    }
    if (o->lambda_sweep_steps < 2 || o->lambda_sweep_steps > 1000) {  // the reference asserts > 1
        throw InvalidArgument("lambda_sweep_steps must be in 2..1000 (the sweep runs from the bound to 0), not " +
                              std::to_string(o->lambda_sweep_steps));
    }
    if (o->focus_frames < 0 || o->focus_frames == 1 || o->focus_frames > 1000) {
        throw InvalidArgument("focus_frames must be 0 (none) or in 2..1000");
    }
    if (o->heatmap < CTCF_HEATMAP_INT || o->heatmap > CTCF_HEATMAP_MM) throw InvalidArgument("unknown heatmap method");
    if (o->fix_range && (!std::isfinite(o->fix_lb) || !std::isfinite(o->fix_rb))) {
        throw InvalidArgument("fix_range bounds must be finite");
    }
    if (o->lambda_batch < 1 || o->decoder_batch < 1 || o->gradient_batch < 1) {
        throw InvalidArgument("batch sizes must be >= 1");
    }
    if (o->stitch < CTCF_STITCH_BEST || o->stitch > CTCF_STITCH_GREEDY) {
        throw InvalidArgument("unknown stitch " + std::to_string(o->stitch));
    }
    if (o->autocast < CTCF_AUTOCAST_OFF || o->autocast > CTCF_AUTOCAST_FP16) {
        throw InvalidArgument("unknown autocast " + std::to_string(o->autocast));
    }
}

double next_lambda(double lb, double step) { return lb - step + std::floor(lb / 10.0); }

std::vector<double> search_candidates(double lb, int64_t batch, const ctcf_shift_options& o) {
    std::vector<double> cand;
    double l = lb;
    for (int64_t k = 0; k < batch; ++k) {
        cand.push_back(l);
        if (l <= -o.search_max_steps) break;
        l = next_lambda(l, o.search_step_size);
    }
    return cand;
}

int32_t stop_reason(const ctcf_shift_options& o, double p0, double last, double lam, const Eval& at, double s_total) {
    const double cur = at.pred;
    if (last < cur) return CTCF_STOP_PREDICTION_ROSE;
    if (cur < o.stop_below) return CTCF_STOP_BELOW;
    if (p0 - o.search_pred_diff > cur) return CTCF_STOP_DROPPED;
    if (lam <= -o.search_max_steps) return CTCF_STOP_MAX_STEPS;
    if (at.dpix > s_total * o.search_max_pixel_diff_pct) return CTCF_STOP_PIXEL_CAP;
    return CTCF_STOP_NONE;
}

std::vector<double> linspace(double start, double stop, int64_t num) {
    std::vector<double> v(static_cast<size_t>(num));
    if (num == 1) {
        v[0] = start;
        return v;
    }
    const double step = (stop - start) / static_cast<double>(num - 1);
    for (int64_t i = 0; i < num; ++i) v[static_cast<size_t>(i)] = static_cast<double>(i) * step + start;
    v.back() = stop;
    return v;
}

std::vector<double> frame_lambdas(const ctcf_shift_options& o, double bound, int64_t steps) {
    return o.fix_range ? linspace(o.fix_lb, o.fix_rb, steps) : linspace(bound, 0.0, steps);
}

std::vector<std::pair<int64_t, int64_t>> chunk_spans(int64_t chunk, int64_t stride, int64_t offset, int64_t first,
                                                     int64_t last) {
    std::vector<std::pair<int64_t, int64_t>> spans;
    for (int64_t i = first + offset; i < last; i += stride) spans.emplace_back(i, std::min(i + chunk, last));
    return spans;
}

std::vector<size_t> rank_order(const std::vector<double>& min_predictions) {
    std::vector<size_t> order(min_predictions.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return min_predictions[a] < min_predictions[b]; });
    return order;
}

bool stitch_replaces(double best, double min_prediction) { return std::isnan(best) || min_prediction < best; }

at::Tensor heatmap(int32_t method, const at::Tensor& frames, const at::Tensor& x0) {
    const int64_t n = frames.size(0);
    switch (method) {
        case CTCF_HEATMAP_INT: {
            if (n < 2) return at::zeros_like(x0);
            return (frames.slice(0, 0, n - 1) - frames.slice(0, 1, n)).abs().mean(0);
        }
        case CTCF_HEATMAP_MEAN: return (x0.unsqueeze(0) - frames).abs().mean(0);
        case CTCF_HEATMAP_MAX: return std::get<0>((x0.unsqueeze(0) - frames).abs().max(0));
        default: return (frames[0] - frames[n - 1]).abs();
    }
}

}  // namespace ctcf
