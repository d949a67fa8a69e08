// perceptual.cpp — LPIPS over VGG-16 (see perceptual.h), and its C ABI.
#include "perceptual.h"

#include <memory>
#include <string>

#include "context.h"
#include "ctcf.h"
#include "guard.h"

namespace ctcf {
namespace {

// torchvision's vgg16 "D" configuration up to relu5_3: channels, 0 = max pool.
const int64_t kVgg16[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512};
// Indices in vgg16.features of the ReLUs whose outputs LPIPS compares.
const int64_t kTaps[] = {3, 8, 15, 22, 29};
const int64_t kTapChannels[] = {64, 128, 256, 512, 512};

}  // namespace

LpipsLinImpl::LpipsLinImpl(int64_t channels) {
    model = register_module("model", torch::nn::Sequential(
        torch::nn::Dropout(0.5),
        torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 1, 1).stride(1).padding(0).bias(false))));
    torch::NoGradGuard no_grad;
    model[1]->as<torch::nn::Conv2dImpl>()->weight.fill_(1.0);
}

LpipsImpl::LpipsImpl() {
    features = register_module("features", torch::nn::Sequential());
    int64_t in = 3;
    for (int64_t c : kVgg16) {
        if (c == 0) {
            features->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
        } else {
            features->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, c, 3).padding(1)));
            features->push_back(torch::nn::ReLU());
            in = c;
        }
    }
    for (int k = 0; k < 5; ++k) lin.push_back(register_module("lin" + std::to_string(k), LpipsLin(kTapChannels[k])));
    for (auto& p : parameters()) p.set_requires_grad(false);  // a fixed metric: gradients reach the inputs only
    eval();
}

std::vector<torch::Tensor> LpipsImpl::taps(const torch::Tensor& x) {
    // LPIPS's scaling layer: ImageNet-like statistics of inputs in [-1, 1].
    const auto opts = x.options();
    torch::Tensor shift = torch::tensor({-0.030, -0.088, -0.188}, opts).view({1, 3, 1, 1});
    torch::Tensor scale = torch::tensor({0.458, 0.448, 0.450}, opts).view({1, 3, 1, 1});
    torch::Tensor h = (x - shift) / scale;
    std::vector<torch::Tensor> out;
    size_t next = 0;
    int64_t i = 0;
    for (auto& m : *features) {
        h = m.forward(h);
        if (i++ == kTaps[next]) {
            out.push_back(h);
            if (++next == 5) break;
        }
    }
    return out;
}

torch::Tensor LpipsImpl::forward(const torch::Tensor& a, const torch::Tensor& b) {
    TORCH_CHECK(a.sizes() == b.sizes() && a.dim() == 4 && (a.size(1) == 1 || a.size(1) == 3),
                "LPIPS compares two batches [B, 1 or 3, H, W] of one shape, got ", a.sizes(), " and ", b.sizes());
    TORCH_CHECK(a.size(2) >= 16 && a.size(3) >= 16, "LPIPS needs images of at least 16 x 16 pixels, got ",
                a.size(2), " x ", a.size(3));
    auto rgb = [](const torch::Tensor& x) { return x.size(1) == 1 ? x.expand({-1, 3, -1, -1}) : x; };
    std::vector<torch::Tensor> fa = taps(rgb(a));
    std::vector<torch::Tensor> fb = taps(rgb(b));
    torch::Tensor d;
    for (size_t k = 0; k < fa.size(); ++k) {
        // unit length over channels at every pixel (LPIPS's normalize_tensor, eps 1e-10)
        auto unit = [](const torch::Tensor& f) { return f / (f.pow(2).sum(1, true).sqrt() + 1e-10); };
        torch::Tensor diff = (unit(fa[k]) - unit(fb[k])).pow(2);
        torch::Tensor v = lin[k]->forward(diff).mean({2, 3}).flatten();  // [B]
        d = d.defined() ? d + v : v;
    }
    return d;
}

}  // namespace ctcf

using ctcf::require;

extern "C" {

CTCF_API int32_t ctcf_perceptual_create(ctcf_context* ctx, ctcf_perceptual** out, ctcf_error* err) {
    CTCF_API_BEGIN
    require(ctx, "context");
    require(out, "out");
    *out = nullptr;
    auto p = std::make_unique<ctcf_perceptual>();
    p->net = ctcf::Lpips();
    p->net->to(ctx->device);
    p->device = ctx->device;
    p->params.collect(*p->net);
    *out = p.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_perceptual_params(ctcf_perceptual* p, ctcf_params** out, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(p, "perceptual");
    ctcf::require(out, "out");
    *out = &p->params;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API void ctcf_perceptual_free(ctcf_perceptual* p) { delete p; }

CTCF_API int32_t ctcf_perceptual_distance(ctcf_context* ctx, ctcf_perceptual* p, const float* a, const float* b,
                                          int64_t n, int64_t channels, int64_t ny, int64_t nx, double* out,
                                          ctcf_error* err) {
    CTCF_API_BEGIN
    require(ctx, "context");
    require(p, "perceptual model");
    require(a, "a");
    require(b, "b");
    require(out, "out");
    if (n < 1 || (channels != 1 && channels != 3) || ny < 1 || nx < 1) {
        throw ctcf::InvalidArgument("images must be [n >= 1, 1 or 3 channels, ny, nx]");
    }
    if (p->device != ctx->device) throw ctcf::InvalidArgument("the perceptual model is not on the context's device");
    torch::NoGradGuard no_grad;
    auto load = [&](const float* v) {
        return at::from_blob(const_cast<float*>(v), {n, channels, ny, nx}, at::kFloat).to(ctx->device);
    };
    at::Tensor d = p->net->forward(load(a), load(b)).to(at::kCPU, at::kDouble).contiguous();
    std::copy(d.data_ptr<double>(), d.data_ptr<double>() + n, out);
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

}  // extern "C"
