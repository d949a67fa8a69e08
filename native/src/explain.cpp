// explain.cpp — Latent Shift over a slice autoencoder: the literal published algorithm (reference mode) and the
// fast mode built on the exact identities of reference-algorithm.md §7, plus the chunk sweep of §5.
#include <ATen/autocast_mode.h>
#include <c10/core/InferenceMode.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "autoencoder.h"
#include "classifier.h"
#include "context.h"
#include "ctcf.h"
#include "guard.h"

struct ctcf_result {
    ctcf_result_info info{};
    std::vector<double> lambdas, predictions, search_lambdas, search_predictions, slice_prediction, slice_change;
    std::vector<ctcf_chunk_row> chunks;
    at::Tensor frames;          // [steps, D, H, W] float CPU (single chunk)
    at::Tensor heatmap;         // [D, H, W]
    at::Tensor reconstruction;  // [D, H, W]
    at::Tensor counterfactual;  // [D, H, W]
    std::unique_ptr<ctcf_result> focus;  // a sweep's explanation of its rank-1 chunk (focus_frames > 0)
    int64_t focus_start = 0, focus_end = 0;
};

namespace ctcf {

class AutocastScope {
public:
    AutocastScope(int32_t mode, c10::DeviceType device);
    ~AutocastScope();
    AutocastScope(const AutocastScope&) = delete;
    AutocastScope& operator=(const AutocastScope&) = delete;

private:
    c10::DeviceType device_;
    bool active_ = false;
    bool was_enabled_ = false;
    at::ScalarType was_dtype_ = at::kFloat;
};

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The reference's lambda recurrence: lb <- lb - step + floor(lb / 10) (Python's // on floats).
double next_lambda(double lb, double step) { return lb - step + std::floor(lb / 10.0); }

// numpy.linspace(start, stop, num): start + i * (stop - start) / (num - 1), last value exactly stop.
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

struct Eval {
    double pred = 0;
    double dpix = 0;
};

struct SearchOutcome {
    double bound = 0;
    int32_t reason = CTCF_STOP_NONE;
};

void check_options(const ctcf_shift_options* o) {
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
    if (o->autocast < CTCF_AUTOCAST_OFF || o->autocast > CTCF_AUTOCAST_FP16) {
        throw InvalidArgument("unknown autocast " + std::to_string(o->autocast));
    }
}

}  // namespace

// Autocast of this thread's ops on one device type for a scope (mode CTCF_AUTOCAST_*), restoring what was before;
// CTCF_AUTOCAST_OFF switches it off for the scope (the encoder inside an autocast explanation).
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

namespace {

// One explanation run: shared state of a volume (latents, reconstruction, gradients) and both algorithms.
class Engine {
public:
    Engine(ctcf_context& ctx, ctcf_autoencoder& ae, const ctcf_slice_wrapper& w, ctcf_classifier& clf,
           const ctcf_score_spec& spec, const ctcf_shift_options& o, ctcf_progress_fn progress, void* user,
           const at::Tensor& x, ctcf_result& r)
        : ctx_(ctx), ae_(ae), w_(w), clf_(clf), spec_(spec), o_(o), progress_(progress), user_(user), x_(x), r_(&r) {
        d_ = x.size(0);
        ny_ = x.size(1);
        nx_ = x.size(2);
    }

    // --- shared steps -------------------------------------------------------------------------------------

    void tick(int32_t phase, int64_t chunk, int64_t chunks, int64_t step, double lambda, double pred) {
        ctx_.check_cancelled();
        if (progress_ != nullptr && progress_(user_, phase, chunk, chunks, step, lambda, pred) != 0) {
            throw Cancelled();
        }
    }

    // Encode all slices, decode all slices once (no grad): z and the reconstruction x0.
    void encode_and_reconstruct() {
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
        r_->info.seconds[0] += seconds_since(t);
    }

    std::vector<double> score(const at::Tensor& volumes) {
        torch::NoGradGuard no_grad;
        r_->info.classifier_calls += volumes.size(0);
        return finite_scores(classifier_score(clf_, spec_, volumes));
    }

    // Scores of K volumes that equal x0 except in slices [s, e), given as chunk [K, e - s, H, W]. A per-slice
    // classifier with a reducer re-runs only those slices (its score is a function of per-slice sums, the others
    // are x0's); any other classifier sees the whole volumes.
    std::vector<double> score_with_chunk(int64_t s, int64_t e, const at::Tensor& chunk) {
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
    std::vector<double> score_slab(int64_t s, int64_t e, const at::Tensor& chunk) {
        torch::NoGradGuard no_grad;
        if (!dense0_.defined()) dense0_ = classifier_dense(clf_, x0_.unsqueeze(0))[0];  // [C, d, h, w]
        const int64_t stride = clf_.dense_stride, halo = clf_.dense_halo, n = dense0_.size(1);
        auto floor_div = [](int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
        const int64_t lo = std::max<int64_t>(0, -floor_div(-(s - halo), stride));  // ceil((s - halo) / stride)
        const int64_t hi = std::min<int64_t>(n - 1, floor_div(e - 1 + halo, stride));
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

    // The search of reference-algorithm.md §4. eval(lambdas) must return one Eval per lambda, in order.
    template <typename EvalFn>
    SearchOutcome search(double p0, int64_t chunk, int64_t chunks, int64_t batch, EvalFn eval) {
        const auto t = Clock::now();
        SearchOutcome out;
        double lb = 0;
        double last = p0;
        int64_t step = 0;
        while (true) {
            std::vector<double> cand;
            double l = lb;
            for (int64_t k = 0; k < batch; ++k) {
                cand.push_back(l);
                if (l <= -o_.search_max_steps) break;  // the search stops here at the latest
                l = next_lambda(l, o_.search_step_size);
            }
            std::vector<Eval> res = eval(cand);
            for (size_t k = 0; k < cand.size(); ++k) {
                const double lam = cand[k];
                const double cur = res[k].pred;
                r_->search_lambdas.push_back(lam);
                r_->search_predictions.push_back(cur);
                tick(2, chunk, chunks, step++, lam, cur);
                int32_t reason = CTCF_STOP_NONE;
                if (last < cur) {
                    reason = CTCF_STOP_PREDICTION_ROSE;
                } else if (cur < o_.stop_below) {
                    reason = CTCF_STOP_BELOW;
                } else if (p0 - o_.search_pred_diff > cur) {
                    reason = CTCF_STOP_DROPPED;
                } else if (lam <= -o_.search_max_steps) {
                    reason = CTCF_STOP_MAX_STEPS;
                } else if (res[k].dpix > s_total_ * o_.search_max_pixel_diff_pct) {
                    reason = CTCF_STOP_PIXEL_CAP;
                }
                if (reason != CTCF_STOP_NONE) {
                    out.bound = lam;
                    out.reason = reason;
                    r_->info.seconds[2] += seconds_since(t);
                    return out;
                }
                last = cur;
            }
            lb = next_lambda(cand.back(), o_.search_step_size);
        }
    }

    static at::Tensor heatmap(int32_t method, const at::Tensor& frames, const at::Tensor& x0) {
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

    // --- fast mode -----------------------------------------------------------------------------------------

    // dp/dx at x0 for the whole volume: one classifier forward + backward (for a max-pooled detector, the
    // backward through the slab that its maximum reads).
    void input_gradient() {
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
        r_->info.seconds[1] += seconds_since(t);
    }

    // Per-slice vector-Jacobian products through the decoder: g_i = J_D(z_i)^T (dp/dx)_i, micro-batched.
    void latent_gradients(int64_t a, int64_t b) {
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
        r_->info.seconds[1] += seconds_since(t);
    }

    // Decodes the chunk's slices of z + lambda g for each lambda: [K, n, H, W]. A slice whose latent gradient is
    // zero is z_i itself at every lambda, so its decoding is the cached reconstruction x0_i: only the others are
    // decoded.
    at::Tensor decode_chunk(int64_t s, int64_t e, const std::vector<double>& lambdas) {
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
    at::Tensor with_chunk(int64_t s, int64_t e, const at::Tensor& chunk_slices) {
        const int64_t k = chunk_slices.size(0);
        at::Tensor v = x0_.unsqueeze(0).repeat({k, 1, 1, 1});
        v.slice(1, s, e).copy_(chunk_slices);
        return v;
    }

    std::vector<Eval> eval_fast(int64_t s, int64_t e, const std::vector<double>& lambdas, bool zero_gradient) {
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

    // Search + sweep frames for one chunk in fast mode. Returns the chunk's frames [steps, n, H, W] and preds.
    struct ChunkRun {
        SearchOutcome search;
        std::vector<double> lambdas, preds;
        at::Tensor chunk_frames;  // [steps, n, H, W]
        double dpix_at_bound = 0;
    };

    // With `known`, the search already ran for this chunk (a sweep's focus): its bound is reused, and memo_ must
    // hold that chunk's evaluations.
    ChunkRun run_chunk_fast(int64_t s, int64_t e, int64_t chunk_index, int64_t chunks, int32_t steps,
                            const SearchOutcome* known = nullptr) {
        if (known == nullptr) memo_.clear();
        memo_[0.0] = Eval{p0_, 0.0};
        ChunkRun run;
        latent_gradients(s, e);
        const bool zero_gradient =
            std::none_of(moving_.begin() + s, moving_.begin() + e, [](bool m) { return m; });
        double rb = 0;
        if (o_.fix_range) {
            run.search.bound = o_.fix_lb;
            run.search.reason = CTCF_STOP_NONE;
            rb = o_.fix_rb;
        } else if (known != nullptr) {
            run.search = *known;
        } else {
            run.search = search(p0_, chunk_index, chunks, o_.lambda_batch, [&](const std::vector<double>& l) {
                return eval_fast(s, e, l, zero_gradient);
            });
        }
        const auto t = Clock::now();
        run.lambdas = linspace(run.search.bound, rb, steps);
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
                tick(3, chunk_index, chunks, static_cast<int64_t>(i), run.lambdas[i], run.preds.back());
            }
            run.dpix_at_bound = memo_[run.search.bound].dpix;
        }
        r_->info.seconds[3] += seconds_since(t);
        return run;
    }

    // --- reference mode ------------------------------------------------------------------------------------

    // SliceAEFull: all slices decoded without grad, the chunk again with grad; raw dp/dz (zero outside).
    void reference_gradient(int64_t s, int64_t e) {
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
        r_->info.seconds[1] += seconds_since(t);
    }

    // shift(lambda) as published: SliceAEFull.decode decodes every slice of z + lambda g without grad and the
    // chunk's slices again with grad (a graph through the decoder's parameters), then the classifier runs on
    // that volume with its graph. The pixel change is over the whole volume.
    std::pair<at::Tensor, Eval> shift_reference(double lambda, int64_t s, int64_t e) {
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

    ChunkRun run_chunk_reference(int64_t s, int64_t e, int64_t chunk_index, int64_t chunks, int32_t steps,
                                 at::Tensor* full_frames) {
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
        double rb = 0;
        if (o_.fix_range) {
            run.search.bound = o_.fix_lb;
            rb = o_.fix_rb;
        } else {
            run.search = search(p0, chunk_index, chunks, 1, [&](const std::vector<double>& l) {
                std::vector<Eval> out;
                for (double v : l) out.push_back(eval(v));
                return out;
            });
        }
        const auto t = Clock::now();
        run.lambdas = linspace(run.search.bound, rb, steps);
        std::vector<at::Tensor> frames;
        for (size_t i = 0; i < run.lambdas.size(); ++i) {
            auto fr = shift_reference(run.lambdas[i], s, e);  // every sweep step re-decodes all slices
            frames.push_back(fr.first);
            run.preds.push_back(fr.second.pred);
            tick(3, chunk_index, chunks, static_cast<int64_t>(i), run.lambdas[i], fr.second.pred);
        }
        at::Tensor all = at::stack(frames, 0);
        run.chunk_frames = all.slice(1, s, e);
        if (full_frames != nullptr) *full_frames = all;
        run.dpix_at_bound = eval(run.search.bound).dpix;
        r_->info.seconds[3] += seconds_since(t);
        return run;
    }

    // --- entry points ---------------------------------------------------------------------------------------

    void explain(int64_t s, int64_t e) {
        const auto t0 = Clock::now();
        const int32_t steps = o_.lambda_sweep_steps;
        tick(0, 0, 1, 0, 0, 0);
        encode_and_reconstruct();
        ChunkRun run;
        at::Tensor frames;
        if (o_.reference_mode) {
            run = run_chunk_reference(s, e, 0, 1, steps, &frames);
        } else {
            input_gradient();
            tick(1, 0, 1, 0, 0, p0_);
            run = run_chunk_fast(s, e, 0, 1, steps);
            torch::NoGradGuard no_grad;
            frames = x0_.unsqueeze(0).repeat({steps, 1, 1, 1});
            frames.slice(1, s, e).copy_(run.chunk_frames);
        }
        torch::NoGradGuard no_grad;
        r_->info.p0 = p0_;
        r_->info.bound = run.search.bound;
        r_->info.stop_reason = run.search.reason;
        r_->info.frames = steps;
        r_->lambdas = run.lambdas;
        r_->predictions = run.preds;
        r_->frames = frames.to(at::kCPU).contiguous();
        r_->reconstruction = x0_.to(at::kCPU).contiguous();
        r_->heatmap = heatmap(o_.heatmap, frames, x0_).to(at::kCPU).contiguous();
        r_->counterfactual = r_->frames[0];
        r_->info.seconds[5] = seconds_since(t0);
    }

    at::Tensor gradient_of(int64_t s, int64_t e, bool reference) {
        encode_and_reconstruct();
        if (reference) {
            reference_gradient(s, e);
        } else {
            input_gradient();
            latent_gradients(s, e);
        }
        return g_.slice(0, s, e).detach().to(at::kCPU).contiguous();
    }

    void sweep(int64_t chunk, int64_t stride, int64_t offset, int64_t first, int64_t last) {
        const auto t0 = Clock::now();
        const int32_t steps = o_.lambda_sweep_steps;
        std::vector<std::pair<int64_t, int64_t>> spans;
        for (int64_t i = first + offset; i < last; i += stride) spans.emplace_back(i, std::min(i + chunk, last));
        if (spans.empty()) throw InvalidArgument("the chunk sweep has no chunk inside the slice range");
        const auto chunks = static_cast<int64_t>(spans.size());
        tick(0, 0, chunks, 0, 0, 0);
        encode_and_reconstruct();
        if (!o_.reference_mode) {
            input_gradient();
            tick(1, 0, chunks, 0, 0, p0_);
            latent_gradients(spans.front().first, spans.back().second);  // shared by every chunk
        }
        at::Tensor cf = x0_.detach().clone();
        at::Tensor hm = at::zeros_like(x0_);
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
            for (int64_t i = s; i < e; ++i) {
                double& b = best[static_cast<size_t>(i)];
                if (std::isnan(b) || row.min_prediction < b) {  // overlapping chunks: the one that lowers most wins
                    b = row.min_prediction;
                    cf[i].copy_(run.chunk_frames[0][i - s]);
                    hm[i].copy_(chunk_heat[i - s]);
                }
            }
            tick(4, c, chunks, 0, row.bound, row.min_prediction);
        }
        torch::NoGradGuard no_grad;
        const auto t = Clock::now();
        r_->info.stitched_prediction = score(cf.unsqueeze(0))[0];
        r_->info.seconds[4] = seconds_since(t);
        // Rank: 1 = the chunk whose counterfactual lowers the prediction most.
        std::vector<size_t> order(r_->chunks.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
            return r_->chunks[a].min_prediction < r_->chunks[b].min_prediction;
        });
        for (size_t k = 0; k < order.size(); ++k) r_->chunks[order[k]].rank = static_cast<int32_t>(k + 1);
        r_->slice_prediction = best;
        // Σ|h| per slice, as the reference's per-slice plot (pleural-effusion notebook) sums it
        at::Tensor change = hm.abs().sum({1, 2}).to(at::kCPU, at::kDouble);
        r_->slice_change.resize(static_cast<size_t>(d_));
        for (int64_t i = 0; i < d_; ++i) r_->slice_change[static_cast<size_t>(i)] = change[i].item<double>();
        r_->info.p0 = p0_;
        r_->info.chunks = chunks;
        r_->reconstruction = x0_.to(at::kCPU).contiguous();
        r_->counterfactual = cf.to(at::kCPU).contiguous();
        r_->heatmap = hm.to(at::kCPU).contiguous();
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
            for (int k = 0; k < 5; ++k) r_->info.seconds[k] += fi.seconds[k];
            r_->info.lambdas_evaluated += fi.lambdas_evaluated;
            r_->info.slices_decoded += fi.slices_decoded;
            r_->info.gradient_slices += fi.gradient_slices;
            r_->info.classifier_calls += fi.classifier_calls;
        }
        r_->info.seconds[5] = seconds_since(t0);
    }

    // The rank-1 chunk of a fast-mode sweep explained with focus_frames steps: the latents, reconstruction and
    // gradients are the sweep's, the lambda bound is the chunk's search result (the same search ctcf_explain runs,
    // so the same numbers), and only the frames not evaluated yet are decoded.
    void focus(int64_t s, int64_t e, int64_t chunk_index, int64_t chunks, const SearchOutcome& outcome,
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
        at::Tensor frames = x0_.unsqueeze(0).repeat({steps, 1, 1, 1});
        frames.slice(1, s, e).copy_(run.chunk_frames);
        f.info.p0 = p0_;
        f.info.bound = run.search.bound;
        f.info.stop_reason = run.search.reason;
        f.info.frames = steps;
        f.lambdas = run.lambdas;
        f.predictions = run.preds;
        f.frames = frames.to(at::kCPU).contiguous();
        f.reconstruction = sweep_result->reconstruction;  // the same x0 (CPU tensors are immutable once published)
        f.heatmap = heatmap(o_.heatmap, frames, x0_).to(at::kCPU).contiguous();
        f.counterfactual = f.frames[0];
        f.info.seconds[5] = seconds_since(t0);
    }

private:
    ctcf_context& ctx_;
    ctcf_autoencoder& ae_;
    const ctcf_slice_wrapper& w_;
    ctcf_classifier& clf_;
    const ctcf_score_spec& spec_;
    const ctcf_shift_options& o_;
    ctcf_progress_fn progress_;
    void* user_;
    at::Tensor x_;
    ctcf_result* r_;  // where counters and arrays go: the run's result, or a sweep's focus result while it is built
    int64_t d_ = 0, ny_ = 0, nx_ = 0;
    at::Tensor z_, x0_, dpdx_, g_;
    at::Tensor dense0_;  // x0's dense map (slab-scorable classifiers), on first use
    at::Tensor sums0_;  // per-slice sums of x0's target map (slice-additive classifiers), on first use
    int64_t per_slice_ = 0;
    std::vector<bool> g_done_;
    std::vector<bool> moving_;  // fast mode: slices whose latent gradient is not exactly zero
    double p0_ = 0;
    double s_total_ = 0;
    std::map<double, Eval> memo_;
};

at::Tensor volume_tensor(const ctcf_context& ctx, const ctcf_volume* x) {
    require(x, "volume");
    require(x->data, "voxels");
    for (int a = 0; a < 3; ++a) {
        if (x->dims[a] < 1) throw InvalidArgument("volume dims must be >= 1");
    }
    return at::from_blob(x->data, {x->dims[2], x->dims[1], x->dims[0]}, at::kFloat).to(ctx.device).clone();
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
    check_options(opts);
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

CTCF_API int32_t ctcf_result_info_get(const ctcf_result* r, ctcf_result_info* info, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(r, "result");
    ctcf::require(info, "info");
    *info = r->info;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_result_array_get(const ctcf_result* r, int32_t which, const double** data, int64_t* n,
                                       ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(r, "result");
    ctcf::require(data, "data");
    ctcf::require(n, "n");
    const std::vector<double>* v = nullptr;
    switch (which) {
        case CTCF_ARRAY_LAMBDAS: v = &r->lambdas; break;
        case CTCF_ARRAY_PREDICTIONS: v = &r->predictions; break;
        case CTCF_ARRAY_SEARCH_LAMBDAS: v = &r->search_lambdas; break;
        case CTCF_ARRAY_SEARCH_PREDICTIONS: v = &r->search_predictions; break;
        case CTCF_ARRAY_SLICE_PREDICTION: v = &r->slice_prediction; break;
        case CTCF_ARRAY_SLICE_CHANGE: v = &r->slice_change; break;
        default: throw ctcf::InvalidArgument("unknown result array " + std::to_string(which));
    }
    *data = v->data();
    *n = static_cast<int64_t>(v->size());
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_result_chunks_get(const ctcf_result* r, ctcf_chunk_row* rows, int64_t cap, int64_t* n,
                                        ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(r, "result");
    ctcf::require(n, "n");
    *n = static_cast<int64_t>(r->chunks.size());
    if (rows != nullptr) {
        for (int64_t i = 0; i < std::min(cap, *n); ++i) rows[i] = r->chunks[static_cast<size_t>(i)];
    }
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_result_volume_get(const ctcf_result* r, int32_t which, int64_t index, const float** data,
                                        ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(r, "result");
    ctcf::require(data, "data");
    const at::Tensor* t = nullptr;
    at::Tensor frame;
    switch (which) {
        case CTCF_VOLUME_FRAME:
            if (!r->frames.defined() || index < 0 || index >= r->frames.size(0)) {
                throw ctcf::InvalidArgument("no frame " + std::to_string(index) + " in this result");
            }
            *data = r->frames.data_ptr<float>() + index * r->frames[0].numel();
            return ctcf::set_ok(err);
        case CTCF_VOLUME_HEATMAP: t = &r->heatmap; break;
        case CTCF_VOLUME_RECONSTRUCTION: t = &r->reconstruction; break;
        case CTCF_VOLUME_COUNTERFACTUAL: t = &r->counterfactual; break;
        default: throw ctcf::InvalidArgument("unknown result volume " + std::to_string(which));
    }
    if (!t->defined()) throw ctcf::InvalidArgument("this result has no such volume");
    *data = t->data_ptr<float>();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API void ctcf_result_free(ctcf_result* r) { delete r; }

CTCF_API int32_t ctcf_result_take_focus(ctcf_result* r, ctcf_result** focus, int64_t* start, int64_t* end,
                                        ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(r, "result");
    ctcf::require(focus, "focus");
    *focus = r->focus.release();
    if (start != nullptr) *start = r->focus_start;
    if (end != nullptr) *end = r->focus_end;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

}  // extern "C"
