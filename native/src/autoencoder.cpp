// autoencoder.cpp — the slice autoencoder entry points: VQModel handles, parameter I/O by name, batched
// volume encode/decode through a slice wrapper, and kernel-owned tensors.
#include <c10/core/InferenceMode.h>
#include <torch/torch.h>

#include <sstream>
#include <string>
#include <vector>

#include "context.h"
#include "ctcf.h"
#include "guard.h"
#include "autoencoder.h"
#include "vqgan.h"
#include "volume.h"

namespace {

using ctcf::InvalidArgument;
using ctcf::require;

std::string shape_str(at::IntArrayRef s) {
    std::ostringstream o;
    o << "[";
    for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
    o << "]";
    return o.str();
}

ctcf::VqConfig to_config(const ctcf_vq_config& c) {
    if (c.n_ch_mult < 1 || c.n_ch_mult > CTCF_MAX_LEVELS) throw InvalidArgument("n_ch_mult out of range");
    if (c.n_attn_resolutions < 0 || c.n_attn_resolutions > CTCF_MAX_LEVELS) {
        throw InvalidArgument("n_attn_resolutions out of range");
    }
    ctcf::VqConfig v;
    v.ch = c.ch;
    v.out_ch = c.out_ch;
    v.in_channels = c.in_channels;
    v.resolution = c.resolution;
    v.z_channels = c.z_channels;
    v.num_res_blocks = c.num_res_blocks;
    v.embed_dim = c.embed_dim;
    v.n_embed = c.n_embed;
    v.double_z = c.double_z != 0;
    v.resamp_with_conv = c.resamp_with_conv != 0;
    v.ch_mult.assign(c.ch_mult, c.ch_mult + c.n_ch_mult);
    v.attn_resolutions.assign(c.attn_resolutions, c.attn_resolutions + c.n_attn_resolutions);
    v.dropout = c.dropout;
    return v;
}

void check_device(const ctcf_context* ctx, const ctcf_autoencoder* ae) {
    require(ctx, "context");
    require(ae, "autoencoder");
    if (ctx->device != ae->device) {
        throw InvalidArgument("the autoencoder is on " + ae->device.str() + " but the context is on " +
                              ctx->device.str() + "; move it with ctcf_autoencoder_to");
    }
}

}  // namespace

void ctcf::check_wrapper(const ctcf_slice_wrapper* w) {
    require(w, "slice wrapper");
    if (!std::isfinite(w->in_scale) || !std::isfinite(w->in_shift) || !std::isfinite(w->out_scale) ||
        !std::isfinite(w->out_shift)) {
        throw InvalidArgument("slice wrapper maps must be finite");
    }
    if (w->resize < 0 || w->resize > 8192) throw InvalidArgument("slice wrapper resize out of range");
    if (w->reserved != 0) throw InvalidArgument("slice wrapper: reserved field must be 0");
}

namespace {

// Bilinear, half-pixel centres: F.interpolate(align_corners=False, antialias=...), which is what torchvision's
// Resize runs on tensors (it passes its antialias flag on in both directions).
at::Tensor resize(const at::Tensor& x, int64_t h, int64_t w, bool antialias) {
    if (x.size(2) == h && x.size(3) == w) return x;
    return torch::nn::functional::interpolate(
        x, torch::nn::functional::InterpolateFuncOptions()
               .size(std::vector<int64_t>{h, w})
               .mode(torch::kBilinear)
               .align_corners(false)
               .antialias(antialias));
}

// Slices [n, H, W] -> model input [n, in_channels, h, w].
at::Tensor to_model(const ctcf_autoencoder& ae, const ctcf_slice_wrapper& w, at::Tensor s) {
    at::Tensor x = s.unsqueeze(1);
    if (w.transpose) x = x.transpose(2, 3);
    x = x * w.in_scale + w.in_shift;
    if (w.resize > 0) x = resize(x, w.resize, w.resize, w.antialias != 0);
    if (w.reference_orientation) x = torch::rot90(x, 1, {2, 3}).flip({3});
    const int64_t c = ae.model->config.in_channels;
    if (c > 1) x = x.expand({-1, c, -1, -1});
    return x.contiguous();
}

// Model output [n, out_ch, h, w] -> slices [n, H, W] (H, W = the volume's ny, nx).
at::Tensor from_model(const ctcf_autoencoder& ae, const ctcf_slice_wrapper& w, at::Tensor y, int64_t ny, int64_t nx) {
    if (y.size(1) > 1) y = y.mean(1, /*keepdim=*/true);
    if (w.reference_orientation) y = torch::rot90(y.flip({3}), 3, {2, 3});
    const int64_t h = w.transpose ? nx : ny;
    const int64_t ww = w.transpose ? ny : nx;
    y = resize(y, h, ww, w.antialias != 0);
    y = y * w.out_scale + w.out_shift;
    if (w.transpose) y = y.transpose(2, 3);
    if (y.scalar_type() != at::kFloat) y = y.to(at::kFloat);  // under autocast: slices are float32 again
    return y.squeeze(1);
}

}  // namespace

at::Tensor ctcf::to_model_input(const ctcf_autoencoder& ae, const ctcf_slice_wrapper& w, const at::Tensor& slices) {
    return to_model(ae, w, slices);
}

at::Tensor ctcf::encode_slices(ctcf_autoencoder& ae, const ctcf_slice_wrapper& w, const at::Tensor& slices) {
    return ae.model->encode(to_model(ae, w, slices));
}

at::Tensor ctcf::decode_slices(ctcf_autoencoder& ae, const ctcf_slice_wrapper& w, const at::Tensor& z,
                               int64_t ny, int64_t nx) {
    return from_model(ae, w, ae.model->decode(z), ny, nx);
}

at::Tensor ctcf::encode_volume(ctcf_autoencoder& ae, const ctcf_slice_wrapper& w, const at::Tensor& vol,
                               int64_t batch) {
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> parts;
    for (int64_t s = 0; s < vol.size(0); s += batch) {
        parts.push_back(encode_slices(ae, w, vol.slice(0, s, std::min(vol.size(0), s + batch))));
    }
    return at::cat(parts, 0);
}

at::Tensor ctcf::decode_volume(ctcf_autoencoder& ae, const ctcf_slice_wrapper& w, const at::Tensor& z,
                               int64_t ny, int64_t nx, int64_t batch) {
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> parts;
    for (int64_t s = 0; s < z.size(0); s += batch) {
        parts.push_back(decode_slices(ae, w, z.slice(0, s, std::min(z.size(0), s + batch)), ny, nx));
    }
    return at::cat(parts, 0);
}

extern "C" {

CTCF_API int32_t ctcf_autoencoder_create(const ctcf_vq_config* config, ctcf_autoencoder** out, ctcf_error* err) {
    CTCF_API_BEGIN
    require(config, "config");
    require(out, "out");
    *out = nullptr;
    auto ae = std::make_unique<ctcf_autoencoder>();
    ae->model = ctcf::VQModel(to_config(*config));
    ae->model->eval();
    ae->params.collect(*ae->model);
    *out = ae.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API void ctcf_autoencoder_free(ctcf_autoencoder* ae) { delete ae; }

CTCF_API int32_t ctcf_autoencoder_params(ctcf_autoencoder* ae, ctcf_params** out, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(ae, "autoencoder");
    ctcf::require(out, "out");
    *out = &ae->params;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}


CTCF_API int32_t ctcf_autoencoder_to(ctcf_autoencoder* ae, ctcf_context* ctx, ctcf_error* err) {
    CTCF_API_BEGIN
    require(ae, "autoencoder");
    require(ctx, "context");
    ae->model->to(ctx->device);
    ae->device = ctx->device;
    ae->params.collect(*ae->model);
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_autoencoder_encode_volume(ctcf_context* ctx, ctcf_autoencoder* ae,
                                                const ctcf_slice_wrapper* wrapper, const ctcf_volume* in,
                                                int64_t batch, ctcf_tensor** latents, ctcf_error* err) {
    CTCF_API_BEGIN
    check_device(ctx, ae);
    ctcf::check_wrapper(wrapper);
    at::Tensor vol = ctcf::volume_view(in, "input volume");
    require(latents, "latents");
    *latents = nullptr;
    if (batch < 1) throw InvalidArgument("batch size must be >= 1");
    const int64_t nz = vol.size(0);
    c10::InferenceMode guard;
    std::vector<at::Tensor> parts;
    for (int64_t s = 0; s < nz; s += batch) {
        ctx->check_cancelled();
        const int64_t e = std::min(nz, s + batch);
        at::Tensor x = to_model(*ae, *wrapper, vol.slice(0, s, e).to(ctx->device));
        parts.push_back(ae->model->encode(x));
    }
    auto t = std::make_unique<ctcf_tensor>();
    t->t = at::cat(parts, 0).contiguous();
    *latents = t.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_autoencoder_decode_volume(ctcf_context* ctx, ctcf_autoencoder* ae,
                                                const ctcf_slice_wrapper* wrapper, const ctcf_tensor* latents,
                                                int64_t batch, ctcf_volume* out, ctcf_error* err) {
    CTCF_API_BEGIN
    check_device(ctx, ae);
    ctcf::check_wrapper(wrapper);
    require(latents, "latents");
    at::Tensor dst = ctcf::volume_view(out, "output volume");
    if (batch < 1) throw InvalidArgument("batch size must be >= 1");
    const int64_t nz = dst.size(0), ny = dst.size(1), nx = dst.size(2);
    const at::Tensor& z = latents->t;
    if (z.dim() != 4 || z.size(0) != nz || z.size(1) != ae->model->config.embed_dim) {
        throw InvalidArgument("latents " + shape_str(z.sizes()) + " do not fit a volume of " + std::to_string(nz) +
                              " slices and embed_dim " + std::to_string(ae->model->config.embed_dim));
    }
    c10::InferenceMode guard;
    for (int64_t s = 0; s < nz; s += batch) {
        ctx->check_cancelled();
        const int64_t e = std::min(nz, s + batch);
        at::Tensor y = ae->model->decode(z.slice(0, s, e).to(ctx->device));
        dst.slice(0, s, e).copy_(from_model(*ae, *wrapper, y, ny, nx).to(at::kCPU));
    }
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_autoencoder_run(ctcf_context* ctx, ctcf_autoencoder* ae, int32_t op, const float* in,
                                      const int64_t shape[4], ctcf_tensor** out, ctcf_error* err) {
    CTCF_API_BEGIN
    check_device(ctx, ae);
    require(in, "input");
    require(shape, "shape");
    require(out, "out");
    *out = nullptr;
    for (int d = 0; d < 4; ++d) {
        if (shape[d] < 1) throw InvalidArgument("input shape must be positive");
    }
    c10::InferenceMode guard;
    at::Tensor x = at::from_blob(const_cast<float*>(in), {shape[0], shape[1], shape[2], shape[3]}, at::kFloat)
                       .to(ctx->device);
    at::Tensor r;
    switch (op) {
        case 0: r = ae->model->encode(x); break;
        case 1: r = ae->model->decode(x); break;
        case 2: r = ae->model->encode_continuous(x); break;
        case 3: {
            at::Tensor idx;
            ae->model->encode(x, &idx);
            r = idx.to(at::kFloat);
            break;
        }
        default: throw InvalidArgument("unknown autoencoder op " + std::to_string(op));
    }
    auto t = std::make_unique<ctcf_tensor>();
    t->t = r.to(at::kCPU).contiguous();
    *out = t.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_tensor_info(const ctcf_tensor* t, int32_t* ndim, int64_t shape[CTCF_MAX_DIMS], ctcf_error* err) {
    CTCF_API_BEGIN
    require(t, "tensor");
    require(ndim, "ndim");
    require(shape, "shape");
    *ndim = static_cast<int32_t>(t->t.dim());
    for (int64_t d = 0; d < t->t.dim() && d < CTCF_MAX_DIMS; ++d) shape[d] = t->t.size(d);
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_tensor_read(const ctcf_tensor* t, float* dst, int64_t numel, ctcf_error* err) {
    CTCF_API_BEGIN
    require(t, "tensor");
    require(dst, "dst");
    if (t->t.numel() != numel) {
        throw InvalidArgument("tensor has " + std::to_string(t->t.numel()) + " elements, not " + std::to_string(numel));
    }
    at::from_blob(dst, {numel}, at::kFloat).copy_(t->t.reshape({numel}).to(at::kCPU, at::kFloat));
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_tensor_create(const float* data, int32_t ndim, const int64_t* shape, ctcf_tensor** out,
                                    ctcf_error* err) {
    CTCF_API_BEGIN
    require(data, "data");
    require(out, "out");
    *out = nullptr;
    if (ndim < 0 || ndim > CTCF_MAX_DIMS) throw InvalidArgument("ndim out of range");
    if (ndim > 0) require(shape, "shape");
    std::vector<int64_t> sz(shape, shape + ndim);
    for (int64_t s : sz) {
        if (s < 0) throw InvalidArgument("negative tensor size");
    }
    auto t = std::make_unique<ctcf_tensor>();
    t->t = at::from_blob(const_cast<float*>(data), sz, at::kFloat).clone();
    *out = t.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API void ctcf_tensor_free(ctcf_tensor* t) { delete t; }

}  // extern "C"
