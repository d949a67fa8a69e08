// engine.cpp — the Latent Shift engine (engine.h): the steps both modes share, the fast mode built on the exact
// identities of reference-algorithm.md §7, and the literal published algorithm (reference mode).
#include "engine.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "guard.h"

namespace ctcf {

AutocastScope::AutocastScope(int32_t mode, c10::DeviceType device) : device_(device) {
#if TORCH_VERSION_MAJOR >= 2
    if (mode != CTCF_AUTOCAST_OFF && !at::autocast::is_autocast_available(device)) {
        throw InvalidArgument(std::string("autocast is not available on ") + c10::DeviceTypeName(device));
    }
    was_enabled_ = at::autocast::is_autocast_enabled(device);
    was_dtype_ = at::autocast::get_autocast_dtype(device);
    at::autocast::set_autocast_enabled(device, mode != CTCF_AUTOCAST_OFF);
    if (mode != CTCF_AUTOCAST_OFF) {
        at::autocast::set_autocast_dtype(device, mode == CTCF_AUTOCAST_BF16 ? at::kBFloat16 : at::kHalf);
    }
    active_ = true;
#else
    if (mode != CTCF_AUTOCAST_OFF) throw InvalidArgument("autocast needs LibTorch 2.x");
#endif
}

AutocastScope::~AutocastScope() {
#if TORCH_VERSION_MAJOR >= 2
    if (!active_) return;
    at::autocast::set_autocast_enabled(device_, was_enabled_);
    at::autocast::set_autocast_dtype(device_, was_dtype_);
    at::autocast::clear_cache();
#endif
}

// --- shared steps -------------------------------------------------------------------------------------

void Engine::tick(int32_t phase, int64_t chunk, int64_t chunks, int64_t step, double lambda, double pred) {
    ctx_.check_cancelled();
    if (progress_ != nullptr && progress_(user_, phase, chunk, chunks, step, lambda, pred) != 0) {
        throw Cancelled();
    }
}

// Encode all slices, decode all slices once (no grad): z and the reconstruction x0.
void Engine::encode_and_reconstruct() {
    const auto t = Clock::now();
    {
        AutocastScope fp32(CTCF_AUTOCAST_OFF, x_.device().type());  // the latents and codes stay float32
        z_ = encode_volume(ae_, w_, x_, o_.decoder_batch);
    }
    x0_ = decode_volume(ae_, w_, z_, ny_, nx_, o_.decoder_batch);
    sums0_ = at::Tensor();
    dense0_ = at::Tensor();
    r_->info.slices_decoded += d_;
    s_total_ = x0_.abs().sum().item<double>();
    r_->info.seconds[CTCF_TIMER_ENCODE_DECODE] += seconds_since(t);
}

std::vector<double> Engine::score(const at::Tensor& volumes) {
    torch::NoGradGuard no_grad;
    r_->info.classifier_calls += volumes.size(0);
    return finite_scores(classifier_score(clf_, spec_, volumes));
}

// Scores of K volumes that equal x0 except in slices [s, e), given as chunk [K, e - s, H, W]. A per-slice
// classifier with a reducer re-runs only those slices (its score is a function of per-slice sums, the others
// are x0's); any other classifier sees the whole volumes.
std::vector<double> Engine::score_with_chunk(int64_t s, int64_t e, const at::Tensor& chunk) {
    if (slab_scorable(clf_, spec_)) return score_slab(s, e, chunk);
    if (!slice_additive(clf_, spec_)) return score(with_chunk(s, e, chunk));
    torch::NoGradGuard no_grad;
    if (!sums0_.defined()) sums0_ = classifier_slice_sums(clf_, spec_, x0_.unsqueeze(0), &per_slice_)[0];
    const int64_t k = chunk.size(0);
    at::Tensor sums = sums0_.unsqueeze(0).repeat({k, 1});
    sums.slice(1, s, e).copy_(classifier_slice_sums(clf_, spec_, chunk, nullptr));
    r_->info.classifier_calls += k;
    return finite_scores(score_from_slice_sums(spec_, sums, per_slice_));
}

// Fully convolutional classifiers scored by their dense map's maximum: only the map positions whose input
// window [stride i - halo, stride i + halo] meets [s, e) can change. The network re-runs on the slab of x0
// (with the chunk in place) that holds those windows, starting at a multiple of the stride so that its map
// aligns with the whole volume's; the other positions keep x0's map. Each kept position saw exactly the
// input it sees in the whole volume (zero padding only at the volume's own ends), so the maximum is the whole
// volume's.
std::vector<double> Engine::score_slab(int64_t s, int64_t e, const at::Tensor& chunk) {
    torch::NoGradGuard no_grad;
    if (!dense0_.defined()) dense0_ = classifier_dense(clf_, x0_.unsqueeze(0))[0];  // [C, d, h, w]
    const int64_t stride = clf_.dense_stride, n = dense0_.size(1);
    const auto [lo, hi] = dense_rows(clf_, s, e, n);
    const int64_t k = chunk.size(0);
    r_->info.classifier_calls += k;
    at::Tensor rest = at::full({dense0_.size(0)}, -std::numeric_limits<double>::infinity(),
                               dense0_.options());
    if (lo > 0) rest = at::maximum(rest, dense0_.slice(1, 0, lo).amax({1, 2, 3}));
    if (hi + 1 < n) rest = at::maximum(rest, dense0_.slice(1, std::max(lo, hi + 1), n).amax({1, 2, 3}));
    at::Tensor out = rest.unsqueeze(0).repeat({k, 1});  // [k, C]
    if (lo <= hi) {
        const auto [a, b] = dense_slab(clf_, lo, hi, d_);
        at::Tensor vols = x0_.slice(0, a, b).unsqueeze(0).repeat({k, 1, 1, 1});
        vols.slice(1, s - a, e - a).copy_(chunk);
        at::Tensor slab = classifier_dense(clf_, vols).slice(2, lo - a / stride, hi - a / stride + 1);
        out = at::maximum(out, slab.amax({2, 3, 4}));
    }
    return finite_scores(score_from_outputs(spec_, out));
}

// The search of reference-algorithm.md §4 (rules.h), recording every step and reporting it as progress.
template <typename EvalFn>
SearchOutcome Engine::search(double p0, int64_t chunk, int64_t chunks, int64_t batch, EvalFn eval) {
    const auto t = Clock::now();
    int64_t step = 0;
    const SearchOutcome out = search_bound(o_, p0, s_total_, batch, eval, [&](double lam, double cur) {
        r_->search_lambdas.push_back(lam);
        r_->search_predictions.push_back(cur);
        tick(CTCF_PHASE_SEARCH_STEP, chunk, chunks, step++, lam, cur);
    });
    r_->info.seconds[CTCF_TIMER_SEARCH] += seconds_since(t);
    return out;
}

// --- fast mode -----------------------------------------------------------------------------------------

// dp/dx at x0 for the whole volume: one classifier forward + backward (for a max-pooled detector, the
// backward through the slab that its maximum reads).
void Engine::input_gradient() {
    const auto t = Clock::now();
    dpdx_ = classifier_input_gradient(clf_, spec_, x0_, &p0_);
    r_->info.classifier_calls += 1;
    g_ = at::zeros_like(z_);
    // J^T 0 = 0: slices the score does not depend on (outside a classifier's receptive field of its maximum,
    // say) have a zero latent gradient without a vector-Jacobian product.
    at::Tensor live = (dpdx_.abs().amax({1, 2}) > 0).to(at::kCPU);
    g_done_.assign(static_cast<size_t>(d_), false);
    moving_.assign(static_cast<size_t>(d_), false);
    for (int64_t i = 0; i < d_; ++i) g_done_[static_cast<size_t>(i)] = !live[i].item<bool>();
    r_->info.seconds[CTCF_TIMER_GRADIENT] += seconds_since(t);
}

// Per-slice vector-Jacobian products through the decoder: g_i = J_D(z_i)^T (dp/dx)_i, micro-batched.
void Engine::latent_gradients(int64_t a, int64_t b) {
    const auto t = Clock::now();
    for (int64_t s = a; s < b;) {
        if (g_done_[static_cast<size_t>(s)]) {
            ++s;
            continue;
        }
        int64_t e = s;
        while (e < b && e - s < o_.gradient_batch && !g_done_[static_cast<size_t>(e)]) ++e;
        at::Tensor zz = z_.slice(0, s, e).detach().clone().requires_grad_(true);
        at::Tensor y = decode_slices(ae_, w_, zz, ny_, nx_);
        at::Tensor gz = torch::autograd::grad({y}, {zz}, {dpdx_.slice(0, s, e)})[0];
        at::Tensor nonzero;
        {
            torch::NoGradGuard no_grad;
            g_.slice(0, s, e).copy_(gz);
            nonzero = (gz.abs().flatten(1).amax(1) > 0).to(at::kCPU);
        }
        r_->info.slices_decoded += e - s;
        r_->info.gradient_slices += e - s;
        for (int64_t i = s; i < e; ++i) {
            g_done_[static_cast<size_t>(i)] = true;
            moving_[static_cast<size_t>(i)] = nonzero[i - s].item<bool>();
        }
        s = e;
    }
    r_->info.seconds[CTCF_TIMER_GRADIENT] += seconds_since(t);
}

// Decodes the chunk's slices of z + lambda g for each lambda: [K, n, H, W]. A slice whose latent gradient is
// zero is z_i itself at every lambda, so its decoding is the cached reconstruction x0_i: only the others are
// decoded.
at::Tensor Engine::decode_chunk(int64_t s, int64_t e, const std::vector<double>& lambdas) {
    torch::NoGradGuard no_grad;
    const int64_t n = e - s;
    const auto k = static_cast<int64_t>(lambdas.size());
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < n; ++i) {
        if (moving_[static_cast<size_t>(s + i)]) idx.push_back(i);
    }
    at::Tensor out = x0_.slice(0, s, e).unsqueeze(0).repeat({k, 1, 1, 1});
    if (idx.empty()) return out;
    const auto m = static_cast<int64_t>(idx.size());
    at::Tensor sel = at::tensor(idx, at::kLong).to(z_.device());
    at::Tensor zc = z_.slice(0, s, e).index_select(0, sel);
    at::Tensor gc = g_.slice(0, s, e).index_select(0, sel);
    std::vector<at::Tensor> zs;
    for (double l : lambdas) zs.push_back(zc + l * gc);
    at::Tensor zk = at::cat(zs, 0);  // [K*m, C, h, w]
    at::Tensor xk = decode_volume(ae_, w_, zk, ny_, nx_, o_.decoder_batch).view({k, m, ny_, nx_});
    r_->info.slices_decoded += zk.size(0);
    out.index_copy_(1, sel, xk);
    return out;
}

// Full volumes with the chunk replaced: [K, D, H, W].
at::Tensor Engine::with_chunk(int64_t s, int64_t e, const at::Tensor& chunk_slices) {
    const int64_t k = chunk_slices.size(0);
    at::Tensor v = x0_.unsqueeze(0).repeat({k, 1, 1, 1});
    v.slice(1, s, e).copy_(chunk_slices);
    return v;
}

std::vector<Eval> Engine::eval_fast(int64_t s, int64_t e, const std::vector<double>& lambdas, bool zero_gradient) {
    std::vector<Eval> out(lambdas.size());
    std::vector<double> todo;
    for (size_t k = 0; k < lambdas.size(); ++k) {
        auto it = memo_.find(lambdas[k]);
        if (it != memo_.end()) {
            out[k] = it->second;
        } else if (lambdas[k] == 0.0 || zero_gradient) {
            // z + lambda * 0 = z: the reconstruction itself, exactly.
            out[k] = Eval{p0_, 0.0};
            memo_[lambdas[k]] = out[k];
        } else {
            todo.push_back(lambdas[k]);
        }
    }
    if (!todo.empty()) {
        at::Tensor chunk = decode_chunk(s, e, todo);
        std::vector<double> preds = score_with_chunk(s, e, chunk);
        at::Tensor dpix = (chunk - x0_.slice(0, s, e).unsqueeze(0)).abs().sum({1, 2, 3}).to(at::kCPU);
        for (size_t j = 0; j < todo.size(); ++j) {
            memo_[todo[j]] = Eval{preds[j], dpix[static_cast<int64_t>(j)].item<double>()};
            r_->info.lambdas_evaluated += 1;
        }
        for (size_t k = 0; k < lambdas.size(); ++k) out[k] = memo_[lambdas[k]];
    }
    return out;
}

// With `known`, the search already ran for this chunk (a sweep's focus): its bound is reused, and memo_ must
// hold that chunk's evaluations.
Engine::ChunkRun Engine::run_chunk_fast(int64_t s, int64_t e, int64_t chunk_index, int64_t chunks, int32_t steps,
                                        const SearchOutcome* known) {
    if (known == nullptr) memo_.clear();
    memo_[0.0] = Eval{p0_, 0.0};
    ChunkRun run;
    latent_gradients(s, e);
    const bool zero_gradient =
        std::none_of(moving_.begin() + s, moving_.begin() + e, [](bool m) { return m; });
    if (o_.fix_range) {
        run.search.bound = o_.fix_lb;
        run.search.reason = CTCF_STOP_NONE;
    } else if (known != nullptr) {
        run.search = *known;
    } else {
        run.search = search(p0_, chunk_index, chunks, o_.lambda_batch, [&](const std::vector<double>& l) {
            return eval_fast(s, e, l, zero_gradient);
        });
    }
    const auto t = Clock::now();
    run.lambdas = frame_lambdas(o_, run.search.bound, steps);
    {
        torch::NoGradGuard no_grad;
        // Frames: the chunk's slices at each lambda (lambda 0, or a zero gradient, is x0 itself).
        std::vector<double> shifted;
        for (double l : run.lambdas) {
            if (l != 0.0 && !zero_gradient) shifted.push_back(l);
        }
        at::Tensor dec = shifted.empty() ? at::Tensor() : decode_chunk(s, e, shifted);
        run.chunk_frames = x0_.slice(0, s, e).unsqueeze(0).repeat({steps, 1, 1, 1});
        std::vector<int64_t> unscored;
        for (size_t i = 0, j = 0; i < run.lambdas.size(); ++i) {
            const double l = run.lambdas[i];
            if (l != 0.0 && !zero_gradient) run.chunk_frames[static_cast<int64_t>(i)].copy_(dec[static_cast<int64_t>(j++)]);
            if (memo_.find(l) == memo_.end()) {
                if (l == 0.0 || zero_gradient) {
                    memo_[l] = Eval{p0_, 0.0};
                } else {
                    unscored.push_back(static_cast<int64_t>(i));
                }
            }
        }
        if (!unscored.empty()) {
            at::Tensor idx = at::tensor(unscored, at::kLong).to(run.chunk_frames.device());
            at::Tensor sel = run.chunk_frames.index_select(0, idx);
            std::vector<double> preds = score_with_chunk(s, e, sel);
            at::Tensor dpix = (sel - x0_.slice(0, s, e).unsqueeze(0)).abs().sum({1, 2, 3}).to(at::kCPU);
            for (size_t k = 0; k < unscored.size(); ++k) {
                memo_[run.lambdas[static_cast<size_t>(unscored[k])]] =
                    Eval{preds[k], dpix[static_cast<int64_t>(k)].item<double>()};
                r_->info.lambdas_evaluated += 1;
            }
        }
        for (size_t i = 0; i < run.lambdas.size(); ++i) {
            run.preds.push_back(memo_[run.lambdas[i]].pred);
            tick(CTCF_PHASE_SWEEP_FRAME, chunk_index, chunks, static_cast<int64_t>(i), run.lambdas[i], run.preds.back());
        }
        run.dpix_at_bound = memo_[run.search.bound].dpix;
    }
    r_->info.seconds[CTCF_TIMER_SWEEP_FRAMES] += seconds_since(t);
    return run;
}

// --- reference mode ------------------------------------------------------------------------------------

// SliceAEFull: all slices decoded without grad, the chunk again with grad; raw dp/dz (zero outside).
void Engine::reference_gradient(int64_t s, int64_t e) {
    const auto t = Clock::now();
    at::Tensor zc = z_.slice(0, s, e).detach().clone().requires_grad_(true);
    at::Tensor xc = decode_slices(ae_, w_, zc, ny_, nx_);
    r_->info.slices_decoded += e - s;
    at::Tensor x = at::cat({x0_.slice(0, 0, s), xc, x0_.slice(0, e, d_)}, 0);
    at::Tensor p = classifier_score(clf_, spec_, x.unsqueeze(0));
    r_->info.classifier_calls += 1;
    at::Tensor gc = torch::autograd::grad({p.sum()}, {zc})[0].detach();
    g_ = at::zeros_like(z_);
    {
        torch::NoGradGuard no_grad;
        g_.slice(0, s, e).copy_(gc);
    }
    r_->info.seconds[CTCF_TIMER_GRADIENT] += seconds_since(t);
}

// shift(lambda) as published: SliceAEFull.decode decodes every slice of z + lambda g without grad and the
// chunk's slices again with grad (a graph through the decoder's parameters), then the classifier runs on
// that volume with its graph. The pixel change is over the whole volume.
std::pair<at::Tensor, Eval> Engine::shift_reference(double lambda, int64_t s, int64_t e) {
    at::Tensor zl;
    at::Tensor all;
    {
        torch::NoGradGuard no_grad;
        zl = z_ + lambda * g_;
        all = decode_volume(ae_, w_, zl, ny_, nx_, o_.decoder_batch);
    }
    at::Tensor xc = decode_slices(ae_, w_, zl.slice(0, s, e), ny_, nx_);
    r_->info.slices_decoded += d_ + (e - s);
    at::Tensor x = at::cat({all.slice(0, 0, s), xc, all.slice(0, e, d_)}, 0);
    at::Tensor p = classifier_score(clf_, spec_, x.unsqueeze(0));
    r_->info.classifier_calls += 1;
    Eval ev;
    ev.pred = p[0].item<double>();
    if (!std::isfinite(ev.pred)) throw InvalidArgument("the classifier returned a non-finite score");
    torch::NoGradGuard no_grad;
    at::Tensor xd = x.detach();
    ev.dpix = (x0_ - xd).abs().sum().item<double>();
    return {xd, ev};
}

Engine::ChunkRun Engine::run_chunk_reference(int64_t s, int64_t e, int64_t chunk_index, int64_t chunks,
                                             int32_t steps, at::Tensor* full_frames) {
    reference_gradient(s, e);
    memo_.clear();
    auto eval = [&](double l) {
        auto it = memo_.find(l);
        if (it != memo_.end()) return it->second;
        Eval ev = shift_reference(l, s, e).second;
        memo_[l] = ev;
        r_->info.lambdas_evaluated += 1;
        return ev;
    };
    const double p0 = eval(0.0).pred;  // p0 = shift(0).p, as published
    if (chunk_index == 0 || chunks == 1) p0_ = p0;
    ChunkRun run;
    if (o_.fix_range) {
        run.search.bound = o_.fix_lb;
    } else {
        run.search = search(p0, chunk_index, chunks, 1, [&](const std::vector<double>& l) {
            std::vector<Eval> out;
            for (double v : l) out.push_back(eval(v));
            return out;
        });
    }
    const auto t = Clock::now();
    run.lambdas = frame_lambdas(o_, run.search.bound, steps);
    std::vector<at::Tensor> frames;
    for (size_t i = 0; i < run.lambdas.size(); ++i) {
        auto fr = shift_reference(run.lambdas[i], s, e);  // every sweep step re-decodes all slices
        frames.push_back(fr.first);
        run.preds.push_back(fr.second.pred);
        tick(CTCF_PHASE_SWEEP_FRAME, chunk_index, chunks, static_cast<int64_t>(i), run.lambdas[i], fr.second.pred);
    }
    at::Tensor all = at::stack(frames, 0);
    run.chunk_frames = all.slice(1, s, e);
    if (full_frames != nullptr) *full_frames = all;
    run.dpix_at_bound = eval(run.search.bound).dpix;
    r_->info.seconds[CTCF_TIMER_SWEEP_FRAMES] += seconds_since(t);
    return run;
}

at::Tensor Engine::gradient_of(int64_t s, int64_t e, bool reference) {
    encode_and_reconstruct();
    if (reference) {
        reference_gradient(s, e);
    } else {
        input_gradient();
        latent_gradients(s, e);
    }
    return g_.slice(0, s, e).detach().to(at::kCPU).contiguous();
}

}  // namespace ctcf
