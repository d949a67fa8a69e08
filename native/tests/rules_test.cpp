// rules_test.cpp — pins the pure rules of Latent Shift (src/rules.h) without any model: the lambda schedule, each
// stop rule and their order, the sweep frames' lambdas, a sweep's spans, ranks and stitching, and every heatmap.
//
// No test framework: none (GoogleTest, Catch2, doctest) is installed here or in CI, and CI installs nothing extra;
// pure functions on numbers need no more than the two macros below. A failed check prints where and what, the
// run goes on, and the exit status is 1, which CTest (and so the Maven build) reports.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "guard.h"
#include "rules.h"

namespace {

int failures = 0;

#define EXPECT(cond)                                                                                               \
    do {                                                                                                           \
        if (!(cond)) {                                                                                             \
            std::fprintf(stderr, "%s:%d: EXPECT(%s) failed\n", __FILE__, __LINE__, #cond);                         \
            ++failures;                                                                                            \
        }                                                                                                          \
    } while (0)

#define EXPECT_EQ(a, b)                                                                                            \
    do {                                                                                                           \
        const auto va_ = (a);                                                                                      \
        const auto vb_ = (b);                                                                                      \
        if (!(va_ == vb_)) {                                                                                       \
            std::fprintf(stderr, "%s:%d: EXPECT_EQ(%s, %s) failed: %.17g vs %.17g\n", __FILE__, __LINE__, #a, #b,  \
                         static_cast<double>(va_), static_cast<double>(vb_));                                      \
            ++failures;                                                                                            \
        }                                                                                                          \
    } while (0)

using ctcf::Eval;
using ctcf::SearchOutcome;

// The reference's defaults (ctcf_shift_options_default lives in the kernel; the rules take any options).
ctcf_shift_options reference_options() {
    ctcf_shift_options o{};
    o.search_pred_diff = 0.8;
    o.search_step_size = 10.0;
    o.search_max_steps = 3000.0;
    o.search_max_pixel_diff_pct = 0.05;
    o.stop_below = 0.05;
    o.lambda_sweep_steps = 10;
    o.heatmap = CTCF_HEATMAP_INT;
    o.lambda_batch = 1;
    o.decoder_batch = 16;
    o.gradient_batch = 1;
    return o;
}

// A search over a made-up prediction curve pred(lambda) with pixel change dpix(lambda); records every step.
struct FakeSearch {
    std::vector<double> lambdas, preds;
    int64_t evaluated = 0;

    template <typename Pred, typename Dpix>
    SearchOutcome run(const ctcf_shift_options& o, double s_total, int64_t batch, Pred pred, Dpix dpix) {
        const double p0 = pred(0.0);
        return ctcf::search_bound(
            o, p0, s_total, batch,
            [&](const std::vector<double>& l) {
                std::vector<Eval> out;
                for (double v : l) out.push_back(Eval{pred(v), dpix(v)});
                evaluated += static_cast<int64_t>(l.size());
                return out;
            },
            [&](double lam, double p) {
                lambdas.push_back(lam);
                preds.push_back(p);
            });
    }
};

double no_pixels(double) { return 0.0; }

void lambda_schedule() {
    // lb <- lb - step + floor(lb / 10) from 0, as the reference's Python (// on floats) computes it
    double lb = 0;
    const std::vector<double> expected = {0, -10, -21, -34, -48, -63, -80, -98};
    for (double want : expected) {
        EXPECT_EQ(lb, want);
        lb = ctcf::next_lambda(lb, 10.0);
    }
    EXPECT_EQ(ctcf::next_lambda(0.0, 2.5), -2.5);
    EXPECT_EQ(ctcf::next_lambda(-2.5, 2.5), -6.0);  // floor(-0.25) = -1
    // candidates: a batch of the schedule, cut after the first one at or below -search_max_steps
    ctcf_shift_options o = reference_options();
    o.search_max_steps = 30;
    const std::vector<double> cand = ctcf::search_candidates(0.0, 10, o);
    EXPECT(cand == (std::vector<double>{0, -10, -21, -34}));
    EXPECT(ctcf::search_candidates(-21.0, 1, o) == std::vector<double>{-21});
    EXPECT(ctcf::search_candidates(-34.0, 5, o) == std::vector<double>{-34});
}

void stop_rules() {
    const ctcf_shift_options o = reference_options();
    const double p0 = 0.9, s_total = 100.0;
    // each rule on its own
    EXPECT_EQ(ctcf::stop_reason(o, p0, 0.8, -10, Eval{0.8, 0}, s_total), CTCF_STOP_NONE);
    EXPECT_EQ(ctcf::stop_reason(o, p0, 0.8, -10, Eval{0.81, 0}, s_total), CTCF_STOP_PREDICTION_ROSE);
    EXPECT_EQ(ctcf::stop_reason(o, p0, 0.8, -10, Eval{0.04, 0}, s_total), CTCF_STOP_BELOW);
    EXPECT_EQ(ctcf::stop_reason(o, 0.95, 0.8, -10, Eval{0.1, 0}, s_total), CTCF_STOP_DROPPED);  // 0.95 - 0.8 > 0.1
    EXPECT_EQ(ctcf::stop_reason(o, 0.95, 0.8, -10, Eval{0.16, 0}, s_total), CTCF_STOP_NONE);    // 0.16 > 0.95 - 0.8
    EXPECT_EQ(ctcf::stop_reason(o, p0, 0.8, -3000, Eval{0.8, 0}, s_total), CTCF_STOP_MAX_STEPS);
    EXPECT_EQ(ctcf::stop_reason(o, p0, 0.8, -2999, Eval{0.8, 0}, s_total), CTCF_STOP_NONE);
    EXPECT_EQ(ctcf::stop_reason(o, p0, 0.8, -10, Eval{0.8, 5.0001}, s_total), CTCF_STOP_PIXEL_CAP);  // > 5% of 100
    EXPECT_EQ(ctcf::stop_reason(o, p0, 0.8, -10, Eval{0.8, 5.0}, s_total), CTCF_STOP_NONE);
    // their order: rose before below before dropped before max steps before the pixel cap
    EXPECT_EQ(ctcf::stop_reason(o, p0, 0.01, -3000, Eval{0.02, 99}, s_total), CTCF_STOP_PREDICTION_ROSE);
    EXPECT_EQ(ctcf::stop_reason(o, p0, 0.8, -3000, Eval{0.04, 99}, s_total), CTCF_STOP_BELOW);
    EXPECT_EQ(ctcf::stop_reason(o, p0, 0.8, -3000, Eval{0.06, 99}, s_total), CTCF_STOP_DROPPED);
    EXPECT_EQ(ctcf::stop_reason(o, p0, 0.8, -3000, Eval{0.8, 99}, s_total), CTCF_STOP_MAX_STEPS);
}

void searches() {
    const ctcf_shift_options o = reference_options();
    {  // the prediction falls, then rises at lambda -34: the bound is -34
        FakeSearch f;
        const SearchOutcome r = f.run(o, 100, 1, [](double l) { return l > -30 ? 0.9 + l / 1000 : 0.95; }, no_pixels);
        EXPECT_EQ(r.reason, CTCF_STOP_PREDICTION_ROSE);
        EXPECT_EQ(r.bound, -34.0);
        EXPECT(f.lambdas == (std::vector<double>{0, -10, -21, -34}));
        EXPECT_EQ(f.preds.front(), 0.9);
    }
    {  // below stop_below at -21
        FakeSearch f;
        const SearchOutcome r = f.run(o, 100, 1, [](double l) { return l > -20 ? 0.5 : 0.01; }, no_pixels);
        EXPECT_EQ(r.reason, CTCF_STOP_BELOW);
        EXPECT_EQ(r.bound, -21.0);
    }
    {  // dropped by search_pred_diff (0.8) from p0 = 0.99 at -48 (0.15 < 0.19, not below 0.05)
        FakeSearch f;
        const SearchOutcome r = f.run(o, 100, 1, [](double l) { return l > -40 ? 0.99 : 0.15; }, no_pixels);
        EXPECT_EQ(r.reason, CTCF_STOP_DROPPED);
        EXPECT_EQ(r.bound, -48.0);
    }
    {  // a flat prediction runs to -search_max_steps: the first lambda at or below it
        ctcf_shift_options m = o;
        m.search_max_steps = 50;
        FakeSearch f;
        const SearchOutcome r = f.run(m, 100, 1, [](double) { return 0.7; }, no_pixels);
        EXPECT_EQ(r.reason, CTCF_STOP_MAX_STEPS);
        EXPECT_EQ(r.bound, -63.0);
        EXPECT_EQ(f.lambdas.size(), 6u);
    }
    {  // the pixel change passes 5% of sum|x0| = 200 (10) at -34
        FakeSearch f;
        const SearchOutcome r = f.run(o, 200, 1, [](double) { return 0.7; }, [](double l) { return -l / 3; });
        EXPECT_EQ(r.reason, CTCF_STOP_PIXEL_CAP);
        EXPECT_EQ(r.bound, -34.0);
    }
    {  // batches of candidates change the work, not the outcome or the recorded steps
        auto pred = [](double l) { return l > -60 ? 0.9 + l / 1000 : 0.99; };
        FakeSearch one, four;
        const SearchOutcome a = one.run(o, 100, 1, pred, no_pixels);
        const SearchOutcome b = four.run(o, 100, 4, pred, no_pixels);
        EXPECT_EQ(a.bound, b.bound);
        EXPECT_EQ(a.reason, b.reason);
        EXPECT(one.lambdas == four.lambdas);
        EXPECT(one.preds == four.preds);
        EXPECT_EQ(a.bound, -63.0);
        EXPECT_EQ(one.evaluated, 6);   // 0 .. -63
        EXPECT_EQ(four.evaluated, 8);  // two batches of four: 0 .. -34, -48 .. -98
    }
}

void frame_lambdas() {
    // numpy.linspace: start + i * (stop - start) / (num - 1), the last value exactly stop
    EXPECT(ctcf::linspace(-63, 0, 10) == (std::vector<double>{-63, -56, -49, -42, -35, -28, -21, -14, -7, 0}));
    EXPECT(ctcf::linspace(-34, 0, 2) == (std::vector<double>{-34, 0}));
    EXPECT(ctcf::linspace(5, 7, 1) == std::vector<double>{5});
    const std::vector<double> thirds = ctcf::linspace(-1, 0, 4);
    EXPECT_EQ(thirds[1], 1 * (1.0 / 3.0) + -1.0);
    EXPECT_EQ(thirds[3], 0.0);
    ctcf_shift_options o = reference_options();
    EXPECT(ctcf::frame_lambdas(o, -21, 4) == ctcf::linspace(-21, 0, 4));
    // fix_range: linspace(fix_lb, fix_rb, steps), whatever the bound
    o.fix_range = 1;
    o.fix_lb = -50;
    o.fix_rb = 10;
    EXPECT(ctcf::frame_lambdas(o, -21, 3) == (std::vector<double>{-50, -20, 10}));
}

void sweep_rules() {
    using Spans = std::vector<std::pair<int64_t, int64_t>>;
    EXPECT(ctcf::chunk_spans(16, 16, 0, 0, 64) == (Spans{{0, 16}, {16, 32}, {32, 48}, {48, 64}}));
    EXPECT(ctcf::chunk_spans(16, 8, 0, 0, 40) == (Spans{{0, 16}, {8, 24}, {16, 32}, {24, 40}, {32, 40}}));
    EXPECT(ctcf::chunk_spans(8, 8, 4, 10, 30) == (Spans{{14, 22}, {22, 30}}));
    EXPECT(ctcf::chunk_spans(8, 8, 30, 0, 30).empty());
    // rank 1 = the lowest min prediction; ties keep the sweep's order
    EXPECT(ctcf::rank_order({0.5, 0.2, 0.5, 0.1}) == (std::vector<size_t>{3, 1, 0, 2}));
    // stitching: a slice takes the chunk that lowers most; a tie keeps the earlier chunk
    const double none = std::numeric_limits<double>::quiet_NaN();
    EXPECT(ctcf::stitch_replaces(none, 0.9));
    EXPECT(ctcf::stitch_replaces(0.5, 0.4));
    EXPECT(!ctcf::stitch_replaces(0.5, 0.5));
    EXPECT(!ctcf::stitch_replaces(0.5, 0.6));
}

void heatmaps() {
    // three frames of a 1 x 1 x 2 volume around x0 = [1, 1]
    const at::Tensor frames = at::tensor({1.f, 0.f, 3.f, 0.f, 0.f, 4.f}).view({3, 1, 1, 2});
    const at::Tensor x0 = at::tensor({1.f, 1.f}).view({1, 1, 2});
    auto is = [](const at::Tensor& t, std::vector<float> want) {
        return t.sizes().equals({1, 1, 2}) && at::allclose(t, at::tensor(want).view({1, 1, 2}), 1e-6, 1e-7);
    };
    // INT: mean_i |frame_i - frame_{i+1}| = mean([2, 0], [3, 4])
    EXPECT(is(ctcf::heatmap(CTCF_HEATMAP_INT, frames, x0), {2.5f, 2.f}));
    // MEAN: mean_i |x0 - frame_i| = mean([0, 1], [2, 1], [1, 3])
    EXPECT(is(ctcf::heatmap(CTCF_HEATMAP_MEAN, frames, x0), {1.f, 5.f / 3.f}));
    // MAX: max_i |x0 - frame_i|
    EXPECT(is(ctcf::heatmap(CTCF_HEATMAP_MAX, frames, x0), {2.f, 3.f}));
    // MM: |frame_0 - frame_last|
    EXPECT(is(ctcf::heatmap(CTCF_HEATMAP_MM, frames, x0), {1.f, 4.f}));
    // INT of a single frame: nothing moved between frames
    EXPECT(is(ctcf::heatmap(CTCF_HEATMAP_INT, frames.slice(0, 0, 1), x0), {0.f, 0.f}));
}

void options() {
    ctcf_shift_options o = reference_options();
    auto rejected = [](const ctcf_shift_options& bad) {
        try {
            ctcf::check_shift_options(&bad);
        } catch (const ctcf::InvalidArgument&) {
            return true;
        }
        return false;
    };
    EXPECT(!rejected(o));
    ctcf_shift_options bad = o;
    bad.lambda_sweep_steps = 1;  // the sweep needs the bound and 0
    EXPECT(rejected(bad));
    bad = o;
    bad.search_step_size = 0;  // the schedule would not move
    EXPECT(rejected(bad));
    bad = o;
    bad.heatmap = CTCF_HEATMAP_MM + 1;
    EXPECT(rejected(bad));
    bad = o;
    bad.fix_range = 1;
    bad.fix_lb = std::nan("");
    EXPECT(rejected(bad));
}

}  // namespace

int main() {
    lambda_schedule();
    stop_rules();
    searches();
    frame_lambdas();
    sweep_rules();
    heatmaps();
    options();
    if (failures > 0) {
        std::fprintf(stderr, "rules_test: %d check(s) failed\n", failures);
        return 1;
    }
    std::printf("rules_test: all checks passed\n");
    return 0;
}
