// saliency.cpp — classic attribution maps for a classifier's explained score, the baselines the paper compares
// Latent Shift with (its Fig. 4): the input gradient, gradient x input, integrated gradients and occlusion, which
// need nothing but the score, and guided backprop and Grad-CAM, which need the model's ReLUs or a layer
// (layers.h: built-ins natively, TorchScript through a rewritten graph).
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "classifier.h"
#include "context.h"
#include "ctcf.h"
#include "guard.h"
#include "layers.h"
#include "volume.h"

namespace ctcf {
namespace {

struct Run {
    ctcf_context& ctx;
    ctcf_classifier& clf;
    const ctcf_score_spec& spec;
    ctcf_progress_fn progress;
    void* user;

    void tick(int64_t step, int64_t steps, double value) {
        ctx.check_cancelled();
        if (progress != nullptr &&
            progress(user, CTCF_PHASE_SALIENCY, 0, 1, step, static_cast<double>(steps), value) != 0) {
            throw Cancelled();
        }
    }

    // d score / d x for K volumes [K, D, H, W]; also returns the scores.
    at::Tensor gradient(const at::Tensor& xs, at::Tensor* scores) {
        at::Tensor x = xs.detach().clone().requires_grad_(true);
        at::Tensor s = classifier_score(clf, spec, x);
        finite_scores(s);
        at::Tensor g = torch::autograd::grad({s.sum()}, {x})[0].detach();
        if (scores != nullptr) *scores = s.detach();
        return g;
    }

    std::vector<double> score(const at::Tensor& xs) {
        torch::NoGradGuard no_grad;
        return finite_scores(classifier_score(clf, spec, xs));
    }

    // Guided backprop: the input gradient with the guided ReLU rule.
    at::Tensor guided(const at::Tensor& v, at::Tensor* scores) {
        LayerHooks hooks;
        hooks.guided = true;
        if (clf.scripted) {
            int relus = 0;
            auto graph = guided_graph(clf.module, &relus);
            if (relus == 0) {
                throw InvalidArgument("guided backprop needs ReLUs to rewrite, and this TorchScript classifier's "
                                      "forward has none (no aten::relu, relu_, leaky_relu or leaky_relu_)");
            }
            hooks.scripted_forward = graph_forward(clf.module, graph);
        }
        HooksScope scope(&hooks);
        return gradient(v.unsqueeze(0), scores)[0];
    }

    // Names of the layers Grad-CAM can be asked for (the first 40), for error messages.
    std::string layer_names() const {
        std::vector<std::string> names;
        if (clf.scripted) {
            for (const auto& m : clf.module.named_modules()) {
                if (!m.name.empty()) names.push_back(m.name);
            }
        } else {
            for (const auto& m : clf.net->named_modules("", /*include_self=*/false)) names.push_back(m.key());
        }
        if (names.empty()) return "none";
        std::ostringstream o;
        for (size_t i = 0; i < names.size() && i < 40; ++i) o << (i ? ", " : "") << names[i];
        if (names.size() > 40) o << ", ...";
        return o.str();
    }

    // Grad-CAM (Selvaraju et al. 2017): A = the layer's activations [N, C, ...], alpha_c = the spatial mean of
    // d score / d A_c, map = ReLU(sum_c alpha_c A_c), resized (trilinear / bilinear per slice) to the volume's grid.
    // 2-D (per-slice) classifiers: one map per slice, each with its own weights.
    at::Tensor grad_cam(const at::Tensor& v, const char* layer_arg, at::Tensor* scores) {
        std::string layer = layer_arg != nullptr ? layer_arg : "";
        if (layer.empty()) layer = clf.cam_layer;
        if (layer.empty()) {
            throw InvalidArgument("Grad-CAM needs a layer for a TorchScript classifier: name one of its submodules (" +
                                  layer_names() + ")");
        }
        LayerHooks hooks;
        if (clf.scripted) {
            int calls = 0;
            auto graph = tapped_graph(clf.module, layer, &calls);
            if (calls == 0) {
                throw InvalidArgument("Grad-CAM layer '" + layer + "': the classifier's forward never calls such a "
                                      "submodule (submodules: " + layer_names() + ")");
            }
            hooks.scripted_forward = graph_forward(clf.module, graph);
        } else {
            for (const auto& m : clf.net->named_modules("", /*include_self=*/false)) {
                if (m.key() == layer) hooks.layer = m.value().get();
            }
            if (hooks.layer == nullptr) {
                throw InvalidArgument("Grad-CAM layer '" + layer + "' is not a layer of this built-in (layers: " +
                                      layer_names() + ")");
            }
        }
        at::Tensor s;
        {
            HooksScope scope(&hooks);
            at::Tensor x = v.unsqueeze(0).detach().clone().requires_grad_(true);  // so that the graph is recorded
            s = classifier_score(clf, spec, x);
        }
        finite_scores(s);
        if (hooks.captured.empty()) {
            throw InvalidArgument("Grad-CAM layer '" + layer + "' produced no activation in the forward pass (Grad-CAM "
                                  "reads whole layers and the entries of sequential blocks, e.g. features.3, layer4)");
        }
        std::vector<at::Tensor> acts = hooks.captured;
        std::vector<at::Tensor> grads = torch::autograd::grad({s.sum()}, acts, {}, false, false, /*allow_unused=*/true);
        const int64_t spatial = acts[0].dim() - 2;
        const int64_t want = clf.per_slice ? 2 : 3;
        if (spatial != want) {
            std::ostringstream o;
            o << "Grad-CAM layer '" << layer << "' gives activations " << acts[0].sizes() << "; a "
              << (clf.per_slice ? "2-D (per-slice)" : "3-D") << " classifier needs [N, C, " << (want == 2 ? "H, W]" : "D, H, W]");
            throw InvalidArgument(o.str());
        }
        std::vector<at::Tensor> cams;
        for (size_t i = 0; i < acts.size(); ++i) {
            const at::Tensor a = acts[i].detach();
            if (a.dim() != acts[0].dim()) throw InvalidArgument("Grad-CAM layer '" + layer + "' changes rank between calls");
            const at::Tensor g = grads[i].defined() ? grads[i].detach() : at::zeros_like(a);
            std::vector<int64_t> dims;
            for (int64_t d = 2; d < a.dim(); ++d) dims.push_back(d);
            const at::Tensor alpha = g.mean(dims, /*keepdim=*/true);
            cams.push_back(at::relu((alpha * a).sum(1)));  // [N, ...spatial]
        }
        at::Tensor cam;
        const int64_t d = v.size(0), h = v.size(1), w = v.size(2);
        std::vector<int64_t> axes = clf.cam_axes;
        const bool display = clf.orientation == CTCF_ORIENTATION_DISPLAY;  // in-plane axes reversed, see model_view
        if (axes.empty()) {
            const bool xyz = clf.layout == CTCF_LAYOUT_BCHWD;  // the model sees [x, y, z] (per slice [x, y])
            if (display) {  // [y', x', z] (per slice [y', x']) or [z, y', x']
                axes = clf.per_slice ? std::vector<int64_t>{0, 1}
                                     : (xyz ? std::vector<int64_t>{2, 0, 1} : std::vector<int64_t>{0, 1, 2});
            } else {
                axes = clf.per_slice ? (xyz ? std::vector<int64_t>{1, 0} : std::vector<int64_t>{0, 1})
                                     : (xyz ? std::vector<int64_t>{2, 1, 0} : std::vector<int64_t>{0, 1, 2});
            }
        }
        namespace F = torch::nn::functional;
        if (clf.per_slice) {
            cam = at::cat(cams, 0);  // [slices, a, b]
            if (cam.size(0) != d) {
                throw InvalidArgument("Grad-CAM layer '" + layer + "' ran on " + std::to_string(cam.size(0)) +
                                      " slices, not the volume's " + std::to_string(d));
            }
            cam = cam.permute({0, axes[0] + 1, axes[1] + 1}).unsqueeze(1);
            cam = F::interpolate(cam, F::InterpolateFuncOptions()
                                          .size(std::vector<int64_t>{h, w})
                                          .mode(torch::kBilinear)
                                          .align_corners(false));
            cam = cam.squeeze(1);
        } else {
            if (cams.size() != 1 || cams[0].size(0) != 1) {
                throw InvalidArgument("Grad-CAM layer '" + layer + "' ran " + std::to_string(cams.size()) +
                                      " times in one forward pass; name a layer that runs once");
            }
            cam = cams[0].permute({0, axes[0] + 1, axes[1] + 1, axes[2] + 1}).unsqueeze(1);
            cam = F::interpolate(cam, F::InterpolateFuncOptions()
                                          .size(std::vector<int64_t>{d, h, w})
                                          .mode(torch::kTrilinear)
                                          .align_corners(false));
            cam = cam.squeeze(0).squeeze(0);
        }
        if (display) cam = cam.flip({1, 2});
        if (scores != nullptr) *scores = s.detach();
        return cam;
    }

    // Integrated gradients (Sundararajan et al. 2017) from a constant baseline, midpoint rule with `steps` points:
    // (x - x') * mean_k grad f(x' + (k - 1/2)/steps (x - x')); completeness: the sum approaches f(x) - f(x').
    at::Tensor integrated(const at::Tensor& x, double baseline, int32_t steps, int64_t batch) {
        at::Tensor base = at::full_like(x, baseline);
        at::Tensor total = at::zeros_like(x);
        for (int32_t k = 0; k < steps;) {
            std::vector<at::Tensor> pts;
            for (int64_t b = 0; b < batch && k < steps; ++b, ++k) {
                const double a = (static_cast<double>(k) + 0.5) / static_cast<double>(steps);
                pts.push_back(base + a * (x - base));
            }
            total += gradient(at::stack(pts, 0), nullptr).sum(0);
            tick(k, steps, 0);
        }
        return (x - base) * total / static_cast<double>(steps);
    }

    // Occlusion (Zeiler & Fergus 2014): the score drop when a window (z, y, x sizes) is set to `fill`, at every
    // stride; each voxel gets the mean drop of the windows covering it (0 where none does).
    at::Tensor occlusion(const at::Tensor& x, const int64_t* window, const int64_t* stride, double fill,
                         int64_t batch) {
        const int64_t d = x.size(0), h = x.size(1), w = x.size(2);
        const double p0 = score(x.unsqueeze(0))[0];
        std::vector<std::array<int64_t, 3>> starts;
        auto positions = [](int64_t n, int64_t win, int64_t st) {
            std::vector<int64_t> v;
            for (int64_t i = 0; i < n; i += st) {
                v.push_back(std::min(i, std::max<int64_t>(0, n - win)));
                if (i + win >= n) break;
            }
            v.erase(std::unique(v.begin(), v.end()), v.end());
            return v;
        };
        for (int64_t z : positions(d, window[0], stride[0])) {
            for (int64_t y : positions(h, window[1], stride[1])) {
                for (int64_t xx : positions(w, window[2], stride[2])) starts.push_back({z, y, xx});
            }
        }
        at::Tensor sum = at::zeros({d, h, w}, x.options());
        at::Tensor count = at::zeros({d, h, w}, x.options());
        const auto n = static_cast<int64_t>(starts.size());
        for (int64_t i = 0; i < n;) {
            const int64_t e = std::min(n, i + batch);
            at::Tensor vols = x.unsqueeze(0).repeat({e - i, 1, 1, 1});
            for (int64_t j = i; j < e; ++j) {
                const auto& s = starts[static_cast<size_t>(j)];
                vols[j - i]
                    .slice(0, s[0], std::min(d, s[0] + window[0]))
                    .slice(1, s[1], std::min(h, s[1] + window[1]))
                    .slice(2, s[2], std::min(w, s[2] + window[2]))
                    .fill_(fill);
            }
            std::vector<double> sc = score(vols);
            for (int64_t j = i; j < e; ++j) {
                const auto& s = starts[static_cast<size_t>(j)];
                auto region = [&](at::Tensor t) {
                    return t.slice(0, s[0], std::min(d, s[0] + window[0]))
                        .slice(1, s[1], std::min(h, s[1] + window[1]))
                        .slice(2, s[2], std::min(w, s[2] + window[2]));
                };
                region(sum).add_(p0 - sc[static_cast<size_t>(j - i)]);
                region(count).add_(1.0);
            }
            tick(e, n, 0);
            i = e;
        }
        return torch::where(count > 0, sum / count.clamp_min(1.0), at::zeros_like(sum));
    }
};

}  // namespace
}  // namespace ctcf

extern "C" {

CTCF_API void ctcf_saliency_options_default(ctcf_saliency_options* o) {
    if (o == nullptr) return;
    *o = ctcf_saliency_options{};
    o->steps = 32;
    o->baseline = 0.0;
    for (int a = 0; a < 3; ++a) {
        o->window[a] = 8;
        o->stride[a] = 8;
    }
    o->fill = 0.0;
    o->batch = 4;
    o->layer = nullptr;
}

CTCF_API int32_t ctcf_saliency(ctcf_context* ctx, ctcf_classifier* clf, const ctcf_score_spec* score,
                               const ctcf_volume* x, int32_t method, const ctcf_saliency_options* opts,
                               ctcf_progress_fn progress, void* user, float* out, double* value, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(ctx, "context");
    ctcf::require(clf, "classifier");
    at::Tensor vol = ctcf::volume_view(x, "volume");
    ctcf::require(opts, "options");
    ctcf::require(out, "out");
    ctcf::check_score_spec(score);
    if (clf->device != ctx->device) throw ctcf::InvalidArgument("classifier and context are on different devices");
    if (opts->batch < 1) throw ctcf::InvalidArgument("batch must be >= 1");
    at::Tensor v = vol.to(ctx->device);
    ctcf::Run run{*ctx, *clf, *score, progress, user};
    at::Tensor map;
    at::Tensor s;
    switch (method) {
        case CTCF_SALIENCY_GRADIENT: map = run.gradient(v.unsqueeze(0), &s)[0]; break;
        case CTCF_SALIENCY_GRADIENT_X_INPUT: map = run.gradient(v.unsqueeze(0), &s)[0] * v; break;
        case CTCF_SALIENCY_INTEGRATED_GRADIENTS:
            if (opts->steps < 1 || opts->steps > 10000) throw ctcf::InvalidArgument("steps must be in 1..10000");
            if (!std::isfinite(opts->baseline)) throw ctcf::InvalidArgument("the baseline must be finite");
            map = run.integrated(v, opts->baseline, opts->steps, opts->batch);
            break;
        case CTCF_SALIENCY_OCCLUSION:
            for (int a = 0; a < 3; ++a) {
                if (opts->window[a] < 1 || opts->stride[a] < 1) {
                    throw ctcf::InvalidArgument("occlusion window and stride must be >= 1");
                }
            }
            if (!std::isfinite(opts->fill)) throw ctcf::InvalidArgument("the occlusion fill value must be finite");
            map = run.occlusion(v, opts->window, opts->stride, opts->fill, opts->batch);
            break;
        case CTCF_SALIENCY_GUIDED_BACKPROP: map = run.guided(v, &s); break;
        case CTCF_SALIENCY_GRAD_CAM: map = run.grad_cam(v, opts->layer, &s); break;
        default:
            throw ctcf::InvalidArgument("unknown saliency method " + std::to_string(method));
    }
    if (value != nullptr) *value = s.defined() ? s[0].item<double>() : run.score(v.unsqueeze(0))[0];
    at::Tensor m = map.to(at::kCPU, at::kFloat).contiguous();
    std::copy(m.data_ptr<float>(), m.data_ptr<float>() + m.numel(), out);
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

}  // extern "C"
