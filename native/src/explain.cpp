// explain.cpp — what a Latent Shift run does with the engine (engine.h): one chunk explained with its frames and
// heatmap, the chunk sweep of reference-algorithm.md §5 with its stitched counterfactual, ranks and focus; and the
// entry points ctcf_explain, ctcf_sweep, ctcf_latent_gradient.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ctcf.h"
#include "engine.h"
#include "guard.h"
#include "result.h"
#include "rules.h"
#include "volume.h"

namespace ctcf {

// Stores a chunk's frames (slices [z0, z0 + d) of every frame; the rest of a frame is x0) and the heatmap, which
// is zero outside them: every heatmap rule works voxel by voxel over the frames, and there each frame equals x0.
void Engine::keep_frames(ctcf_result& r, const at::Tensor& frames, int64_t z0) {
    const int64_t d = frames.size(1);
    r.frames = frames.to(at::kCPU).contiguous();
    r.frames_z0 = z0;
    at::Tensor hm = at::zeros_like(x0_);
    hm.slice(0, z0, z0 + d).copy_(heatmap(o_.heatmap, frames, x0_.slice(0, z0, z0 + d)));
    r.heatmap = hm.to(at::kCPU).contiguous();
}

void Engine::explain(int64_t s, int64_t e) {
    const auto t0 = Clock::now();
    const int32_t steps = o_.lambda_sweep_steps;
    tick(CTCF_PHASE_ENCODE_DECODE, 0, 1, 0, 0, 0);
    encode_and_reconstruct();
    ChunkRun run;
    at::Tensor frames;  // the frames' slices that can differ from x0: [steps, e - s, ...] (fast), all (reference)
    int64_t z0 = s;
    if (o_.reference_mode) {
        run = run_chunk_reference(s, e, 0, 1, steps, &frames);
        z0 = 0;
    } else {
        input_gradient();
        tick(CTCF_PHASE_GRADIENT, 0, 1, 0, 0, p0_);
        run = run_chunk_fast(s, e, 0, 1, steps);
        frames = run.chunk_frames;
    }
    torch::NoGradGuard no_grad;
    r_->info.p0 = p0_;
    r_->info.bound = run.search.bound;
    r_->info.stop_reason = run.search.reason;
    r_->info.frames = steps;
    r_->lambdas = run.lambdas;
    r_->predictions = run.preds;
    r_->reconstruction = x0_.to(at::kCPU).contiguous();
    keep_frames(*r_, frames, z0);
    r_->info.seconds[CTCF_TIMER_TOTAL] = seconds_since(t0);
}

void Engine::sweep(int64_t chunk, int64_t stride, int64_t offset, int64_t first, int64_t last) {
    const auto t0 = Clock::now();
    const int32_t steps = o_.lambda_sweep_steps;
    const std::vector<std::pair<int64_t, int64_t>> spans = chunk_spans(chunk, stride, offset, first, last);
    if (spans.empty()) throw InvalidArgument("the chunk sweep has no chunk inside the slice range");
    const auto chunks = static_cast<int64_t>(spans.size());
    tick(CTCF_PHASE_ENCODE_DECODE, 0, chunks, 0, 0, 0);
    encode_and_reconstruct();
    if (!o_.reference_mode) {
        input_gradient();
        tick(CTCF_PHASE_GRADIENT, 0, chunks, 0, 0, p0_);
        latent_gradients(spans.front().first, spans.back().second);  // shared by every chunk
    }
    at::Tensor cf = x0_.detach().clone();  // the display mosaic: every chunk's frame 0 on its slices
    at::Tensor hm = at::zeros_like(x0_);
    // Per chunk, what its own counterfactual is: the slices of its lowest-scoring frame and their heatmap. The
    // best mode keeps the best chunk's only (strictly lower replaces, so the first of equals wins, as in the ranks).
    std::vector<ChunkCounterfactual> own;
    ChunkCounterfactual leader;
    std::vector<double> best(static_cast<size_t>(d_), std::numeric_limits<double>::quiet_NaN());
    // Per chunk, what a focus explanation reuses: the search outcome, the evaluations, the search's entries.
    std::vector<SearchOutcome> outcomes;
    std::vector<std::map<double, Eval>> memos;
    std::vector<std::pair<size_t, size_t>> search_spans;
    for (int64_t c = 0; c < chunks; ++c) {
        const auto [s, e] = spans[static_cast<size_t>(c)];
        if (o_.reference_mode && c > 0) encode_and_reconstruct();  // each published run encodes anew
        const size_t first_entry = r_->search_lambdas.size();
        ChunkRun run = o_.reference_mode ? run_chunk_reference(s, e, c, chunks, steps, nullptr)
                                         : run_chunk_fast(s, e, c, chunks, steps);
        outcomes.push_back(run.search);
        search_spans.emplace_back(first_entry, r_->search_lambdas.size());
        if (o_.focus_frames > 0 && !o_.reference_mode) memos.push_back(memo_);
        torch::NoGradGuard no_grad;
        ctcf_chunk_row row{};
        row.start = s;
        row.end = e;
        row.min_prediction = *std::min_element(run.preds.begin(), run.preds.end());
        row.bound = run.search.bound;
        row.stop_reason = run.search.reason;
        row.pixel_change = run.dpix_at_bound;
        r_->chunks.push_back(row);
        at::Tensor chunk_heat = heatmap(o_.heatmap, run.chunk_frames, x0_.slice(0, s, e));
        const auto lowest = static_cast<int64_t>(std::min_element(run.preds.begin(), run.preds.end()) -
                                                 run.preds.begin());
        ChunkCounterfactual mine{c, s, e, row.min_prediction, run.chunk_frames[lowest], chunk_heat};
        if (o_.stitch == CTCF_STITCH_GREEDY) {
            own.push_back(ChunkCounterfactual{c, s, e, row.min_prediction, mine.slices.to(at::kCPU),
                                              chunk_heat.to(at::kCPU)});
        } else if (leader.index < 0 || row.min_prediction < leader.prediction) {
            leader = mine;
        }
        for (int64_t i = s; i < e; ++i) {
            double& b = best[static_cast<size_t>(i)];
            if (stitch_replaces(b, row.min_prediction)) {
                b = row.min_prediction;
                cf[i].copy_(run.chunk_frames[0][i - s]);
                hm[i].copy_(chunk_heat[i - s]);
            }
        }
        tick(CTCF_PHASE_CHUNK_DONE, c, chunks, 0, row.bound, row.min_prediction);
    }
    torch::NoGradGuard no_grad;
    const auto t = Clock::now();
    r_->info.stitched_prediction = score(cf.unsqueeze(0))[0];
    // Rank: 1 = the chunk whose counterfactual lowers the prediction most.
    std::vector<double> mins;
    for (const ctcf_chunk_row& row : r_->chunks) mins.push_back(row.min_prediction);
    const std::vector<size_t> order = rank_order(mins);
    for (size_t k = 0; k < order.size(); ++k) r_->chunks[order[k]].rank = static_cast<int32_t>(k + 1);
    r_->slice_prediction = best;
    // Per slice of the mosaic's heatmap: Σ|h| (the single-chunk notebook's plot) and Σh² (the chunk-sweep notebooks')
    at::Tensor change = hm.abs().sum({1, 2}).to(at::kCPU, at::kDouble).contiguous();
    at::Tensor squared = hm.square().sum({1, 2}).to(at::kCPU, at::kDouble).contiguous();
    r_->slice_change.assign(change.data_ptr<double>(), change.data_ptr<double>() + d_);
    r_->slice_change_squared.assign(squared.data_ptr<double>(), squared.data_ptr<double>() + d_);
    r_->info.p0 = p0_;
    r_->info.chunks = chunks;
    r_->reconstruction = x0_.to(at::kCPU).contiguous();
    r_->stitched = cf.to(at::kCPU).contiguous();
    r_->stitched_heatmap = hm.to(at::kCPU).contiguous();
    if (o_.stitch == CTCF_STITCH_GREEDY) {
        std::vector<ChunkCounterfactual> ranked;
        for (size_t k : order) ranked.push_back(std::move(own[k]));
        own.clear();
        compose_counterfactual(ranked, true);
    } else {
        std::vector<ChunkCounterfactual> one;
        if (leader.index >= 0) one.push_back(std::move(leader));
        compose_counterfactual(one, false);
    }
    r_->info.seconds[CTCF_TIMER_STITCHING] = seconds_since(t);
    if (o_.focus_frames > 0) {
        const size_t top = order.front();
        const auto [s, e] = spans[top];
        r_->focus_start = s;
        r_->focus_end = e;
        r_->focus = std::make_unique<ctcf_result>();
        r_->focus->info = ctcf_result_info{};
        for (int a = 0; a < 3; ++a) r_->focus->info.dims[a] = r_->info.dims[a];
        if (o_.reference_mode) {
            // The published algorithm has no shared state between runs: the chunk is explained anew.
            ctcf_shift_options fo = o_;
            fo.lambda_sweep_steps = o_.focus_frames;
            fo.focus_frames = 0;
            torch::AutoGradMode grad(true);  // the sweep's tail runs without grad; the search needs it
            Engine(ctx_, ae_, w_, clf_, spec_, fo, progress_, user_, x_, *r_->focus).explain(s, e);
        } else {
            torch::AutoGradMode grad(true);
            focus(s, e, static_cast<int64_t>(top), chunks, outcomes[top], memos[top], search_spans[top]);
        }
        const ctcf_result_info& fi = r_->focus->info;  // the sweep's totals include its focus
        for (int k = 0; k < CTCF_TIMER_TOTAL; ++k) r_->info.seconds[k] += fi.seconds[k];
        r_->info.lambdas_evaluated += fi.lambdas_evaluated;
        r_->info.slices_decoded += fi.slices_decoded;
        r_->info.gradient_slices += fi.gradient_slices;
        r_->info.classifier_calls += fi.classifier_calls;
    }
    r_->info.seconds[CTCF_TIMER_TOTAL] = seconds_since(t0);
}

// The rank-1 chunk of a fast-mode sweep explained with focus_frames steps: the latents, reconstruction and
// gradients are the sweep's, the lambda bound is the chunk's search result (the same search ctcf_explain runs,
// so the same numbers), and only the frames not evaluated yet are decoded.
void Engine::focus(int64_t s, int64_t e, int64_t chunk_index, int64_t chunks, const SearchOutcome& outcome,
                   const std::map<double, Eval>& memo, std::pair<size_t, size_t> entries) {
    const auto t0 = Clock::now();
    ctcf_result* sweep_result = r_;
    ctcf_result& f = *sweep_result->focus;
    f.search_lambdas.assign(sweep_result->search_lambdas.begin() + static_cast<std::ptrdiff_t>(entries.first),
                            sweep_result->search_lambdas.begin() + static_cast<std::ptrdiff_t>(entries.second));
    f.search_predictions.assign(
        sweep_result->search_predictions.begin() + static_cast<std::ptrdiff_t>(entries.first),
        sweep_result->search_predictions.begin() + static_cast<std::ptrdiff_t>(entries.second));
    memo_ = memo;
    const int32_t steps = o_.focus_frames;
    r_ = &f;  // the frames' counters and timings are the focus result's
    ChunkRun run;
    try {
        run = run_chunk_fast(s, e, chunk_index, chunks, steps, &outcome);
    } catch (...) {
        r_ = sweep_result;
        throw;
    }
    r_ = sweep_result;
    torch::NoGradGuard no_grad;
    f.info.p0 = p0_;
    f.info.bound = run.search.bound;
    f.info.stop_reason = run.search.reason;
    f.info.frames = steps;
    f.lambdas = run.lambdas;
    f.predictions = run.preds;
    f.reconstruction = sweep_result->reconstruction;  // the same x0 (CPU tensors are immutable once published)
    keep_frames(f, run.chunk_frames, s);
    f.info.seconds[CTCF_TIMER_TOTAL] = seconds_since(t0);
}

// The sweep's counterfactual from chunks in rank order (each with its lowest-scoring frame's slices): the first one
// when it lowered the prediction below p0; with `greedy`, the next ones too while the re-scored composite strictly
// drops. A chunk's slices go in where no better-ranked chunk put its own. Nothing below p0: the reconstruction
// (counterfactual_chunks 0, counterfactual_prediction p0).
void Engine::compose_counterfactual(const std::vector<ChunkCounterfactual>& ranked, bool greedy) {
    torch::NoGradGuard no_grad;
    at::Tensor cf = x0_.detach().clone();
    at::Tensor hm = at::zeros_like(x0_);
    std::vector<bool> taken(static_cast<size_t>(d_), false);
    double current = p0_;
    auto put = [&](at::Tensor& into_cf, at::Tensor& into_hm, std::vector<bool>& marks, const ChunkCounterfactual& c) {
        for (int64_t i = c.start; i < c.end; ++i) {
            if (marks[static_cast<size_t>(i)]) continue;
            marks[static_cast<size_t>(i)] = true;
            into_cf[i].copy_(c.slices[i - c.start]);
            into_hm[i].copy_(c.heat[i - c.start]);
        }
    };
    for (size_t k = 0; k < ranked.size(); ++k) {
        const ChunkCounterfactual& c = ranked[k];
        if (!(c.prediction < p0_)) break;  // ranked: no later chunk lowered it either
        if (k == 0) {
            put(cf, hm, taken, c);  // its score is the chunk's own minimum (the same volume was scored)
            current = c.prediction;
        } else {
            at::Tensor next_cf = cf.clone();
            at::Tensor next_hm = hm.clone();
            std::vector<bool> next_taken = taken;
            put(next_cf, next_hm, next_taken, c);
            const double p = score(next_cf.unsqueeze(0))[0];
            if (!(p < current)) break;
            cf = next_cf;
            hm = next_hm;
            taken = next_taken;
            current = p;
        }
        r_->counterfactual_chunks.push_back(static_cast<double>(c.index));
        if (!greedy) break;
    }
    r_->info.counterfactual_prediction = current;
    r_->info.counterfactual_chunks = static_cast<int32_t>(r_->counterfactual_chunks.size());
    r_->counterfactual = cf.to(at::kCPU).contiguous();
    r_->heatmap = hm.to(at::kCPU).contiguous();
}

namespace {

// The volume on the context's device, a copy the run owns (the caller's memory is not retained).
at::Tensor volume_tensor(const ctcf_context& ctx, const ctcf_volume* x) {
    return volume_view(x, "volume").to(ctx.device).clone();
}

void check_inputs(ctcf_context* ctx, ctcf_autoencoder* ae, const ctcf_slice_wrapper* w, ctcf_classifier* clf,
                  const ctcf_score_spec* score, const ctcf_shift_options* opts, ctcf_result** out) {
    require(ctx, "context");
    require(ae, "autoencoder");
    require(clf, "classifier");
    require(out, "out");
    *out = nullptr;
    check_wrapper(w);
    check_score_spec(score);
    check_shift_options(opts);
    if (ae->device != ctx->device || clf->device != ctx->device) {
        throw InvalidArgument("the autoencoder (" + ae->device.str() + "), the classifier (" + clf->device.str() +
                              ") and the context (" + ctx->device.str() + ") must be on the same device");
    }
}

}  // namespace
}  // namespace ctcf

extern "C" {

CTCF_API void ctcf_shift_options_default(ctcf_shift_options* o) {
    if (o == nullptr) return;
    *o = ctcf_shift_options{};
    o->search_pred_diff = 0.8;
    o->search_step_size = 10.0;
    o->search_max_steps = 3000.0;
    o->search_max_pixel_diff_pct = 0.05;
    o->stop_below = 0.05;
    o->fix_lb = 0;
    o->fix_rb = 0;
    o->lambda_sweep_steps = 10;
    o->heatmap = CTCF_HEATMAP_INT;
    o->fix_range = 0;
    o->reference_mode = 0;
    o->lambda_batch = 1;
    o->decoder_batch = 16;
    o->gradient_batch = 1;
    o->focus_frames = 0;
}

CTCF_API int32_t ctcf_explain(ctcf_context* ctx, ctcf_autoencoder* ae, const ctcf_slice_wrapper* wrapper,
                              ctcf_classifier* clf, const ctcf_score_spec* score, const ctcf_volume* x, int64_t start,
                              int64_t end, const ctcf_shift_options* opts, ctcf_progress_fn progress, void* user,
                              ctcf_result** out, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::check_inputs(ctx, ae, wrapper, clf, score, opts, out);
    at::Tensor v = ctcf::volume_tensor(*ctx, x);
    if (start < 0 || end > v.size(0) || start >= end) {
        throw ctcf::InvalidArgument("chunk [" + std::to_string(start) + ", " + std::to_string(end) +
                                    ") is not inside the volume's " + std::to_string(v.size(0)) + " slices");
    }
    auto r = std::make_unique<ctcf_result>();
    for (int a = 0; a < 3; ++a) r->info.dims[a] = x->dims[a];
    ctcf::AutocastScope autocast(opts->autocast, v.device().type());
    ctcf::Engine(*ctx, *ae, *wrapper, *clf, *score, *opts, progress, user, v, *r).explain(start, end);
    *out = r.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_sweep(ctcf_context* ctx, ctcf_autoencoder* ae, const ctcf_slice_wrapper* wrapper,
                            ctcf_classifier* clf, const ctcf_score_spec* score, const ctcf_volume* x, int64_t chunk,
                            int64_t stride, int64_t offset, int64_t first, int64_t last,
                            const ctcf_shift_options* opts, ctcf_progress_fn progress, void* user, ctcf_result** out,
                            ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::check_inputs(ctx, ae, wrapper, clf, score, opts, out);
    at::Tensor v = ctcf::volume_tensor(*ctx, x);
    const int64_t d = v.size(0);
    if (last <= 0) last = d;
    if (chunk < 1 || stride < 1 || offset < 0) throw ctcf::InvalidArgument("chunk and stride must be >= 1, offset >= 0");
    if (first < 0 || last > d || first >= last) {
        throw ctcf::InvalidArgument("slice range [" + std::to_string(first) + ", " + std::to_string(last) +
                                    ") is not inside the volume's " + std::to_string(d) + " slices");
    }
    if (chunk > last - first) {
        throw ctcf::InvalidArgument("chunk size " + std::to_string(chunk) + " is larger than the " +
                                    std::to_string(last - first) + " slices of the range");
    }
    auto r = std::make_unique<ctcf_result>();
    for (int a = 0; a < 3; ++a) r->info.dims[a] = x->dims[a];
    ctcf::AutocastScope autocast(opts->autocast, v.device().type());
    ctcf::Engine(*ctx, *ae, *wrapper, *clf, *score, *opts, progress, user, v, *r).sweep(chunk, stride, offset, first,
                                                                                       last);
    *out = r.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_latent_gradient(ctcf_context* ctx, ctcf_autoencoder* ae, const ctcf_slice_wrapper* wrapper,
                                      ctcf_classifier* clf, const ctcf_score_spec* score, const ctcf_volume* x,
                                      int64_t start, int64_t end, int32_t reference, int64_t gradient_batch,
                                      ctcf_tensor** out, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf_shift_options o;
    ctcf_shift_options_default(&o);
    o.gradient_batch = gradient_batch;
    ctcf_result* dummy = nullptr;
    ctcf::check_inputs(ctx, ae, wrapper, clf, score, &o, &dummy);
    ctcf::require(out, "out");
    *out = nullptr;
    at::Tensor v = ctcf::volume_tensor(*ctx, x);
    if (start < 0 || end > v.size(0) || start >= end) throw ctcf::InvalidArgument("chunk outside the volume");
    ctcf_result r;
    auto t = std::make_unique<ctcf_tensor>();
    t->t = ctcf::Engine(*ctx, *ae, *wrapper, *clf, *score, o, nullptr, nullptr, v, r).gradient_of(start, end,
                                                                                                  reference != 0);
    *out = t.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

}  // extern "C"
