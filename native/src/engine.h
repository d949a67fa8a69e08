// engine.h — one Latent Shift run over a slice autoencoder: the literal published algorithm (reference mode) and
// the fast mode built on the exact identities of reference-algorithm.md §7 (engine.cpp), and what a run does with
// them: one chunk, a chunk sweep with stitching and its focus (explain.cpp).
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "autoencoder.h"
#include "classifier.h"
#include "context.h"
#include "ctcf.h"
#include "result.h"
#include "rules.h"

namespace ctcf {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// Autocast of this thread's ops on one device type for a scope (mode CTCF_AUTOCAST_*), restoring what was before;
// CTCF_AUTOCAST_OFF switches it off for the scope (the encoder inside an autocast explanation).
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

    // Latent Shift of chunk [s, e): frames, heatmap, counterfactual (explain.cpp).
    void explain(int64_t s, int64_t e);
    // The chunk sweep: per-chunk search and frames, the stitched counterfactual, the focus (explain.cpp).
    void sweep(int64_t chunk, int64_t stride, int64_t offset, int64_t first, int64_t last);
    // The latent gradient of chunk [s, e) as the run computes it (diagnostics; engine.cpp).
    at::Tensor gradient_of(int64_t s, int64_t e, bool reference);

private:
    // Search + sweep frames of one chunk: the chunk's frames [steps, n, H, W] and predictions.
    struct ChunkRun {
        SearchOutcome search;
        std::vector<double> lambdas, preds;
        at::Tensor chunk_frames;  // [steps, n, H, W]
        double dpix_at_bound = 0;
    };

    // One chunk's own counterfactual in a sweep: slices [start, end) of its lowest-scoring frame and its heatmap.
    struct ChunkCounterfactual {
        int64_t index = -1, start = 0, end = 0;
        double prediction = 0;
        at::Tensor slices, heat;  // [end - start, H, W]
    };

    // --- shared steps (engine.cpp) ---
    void tick(int32_t phase, int64_t chunk, int64_t chunks, int64_t step, double lambda, double pred);
    void encode_and_reconstruct();
    std::vector<double> score(const at::Tensor& volumes);
    std::vector<double> score_with_chunk(int64_t s, int64_t e, const at::Tensor& chunk);
    std::vector<double> score_slab(int64_t s, int64_t e, const at::Tensor& chunk);
    template <typename EvalFn>
    SearchOutcome search(double p0, int64_t chunk, int64_t chunks, int64_t batch, EvalFn eval);

    // --- fast mode (engine.cpp) ---
    void input_gradient();
    void latent_gradients(int64_t a, int64_t b);
    at::Tensor decode_chunk(int64_t s, int64_t e, const std::vector<double>& lambdas);
    at::Tensor with_chunk(int64_t s, int64_t e, const at::Tensor& chunk_slices);
    std::vector<Eval> eval_fast(int64_t s, int64_t e, const std::vector<double>& lambdas, bool zero_gradient);
    ChunkRun run_chunk_fast(int64_t s, int64_t e, int64_t chunk_index, int64_t chunks, int32_t steps,
                            const SearchOutcome* known = nullptr);

    // --- reference mode (engine.cpp) ---
    void reference_gradient(int64_t s, int64_t e);
    std::pair<at::Tensor, Eval> shift_reference(double lambda, int64_t s, int64_t e);
    ChunkRun run_chunk_reference(int64_t s, int64_t e, int64_t chunk_index, int64_t chunks, int32_t steps,
                                 at::Tensor* full_frames);

    // --- a sweep's counterfactual and focus (explain.cpp) ---
    void compose_counterfactual(const std::vector<ChunkCounterfactual>& ranked, bool greedy);
    void keep_frames(ctcf_result& r, const at::Tensor& frames, int64_t z0);
    void focus(int64_t s, int64_t e, int64_t chunk_index, int64_t chunks, const SearchOutcome& outcome,
               const std::map<double, Eval>& memo, std::pair<size_t, size_t> entries);

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

}  // namespace ctcf
