// abi.cpp — the extern "C" entry points of ctcf.h: argument checks, exception fencing, tensor views of caller memory.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/InferenceMode.h>
#include <torch/version.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#include "context.h"
#if __has_include(<c10/core/CachingDeviceAllocator.h>)
#include <c10/core/CachingDeviceAllocator.h>
#endif
#include "ctcf.h"
#include "guard.h"
#include "preprocess.h"
#include "volume.h"

#ifndef CTCF_VERSION
#define CTCF_VERSION "0.0.0-dev"
#endif

namespace {

// On some virtual machines page faults dominate large tensor allocations: a freshly mapped block costs far more
// than a reused one. Keeping freed memory in the process heap lets LibTorch reuse it. Process-wide, applied once
// when the first context is created; CTCF_MALLOC_TUNING=off leaves glibc's defaults alone.
void tune_allocator_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        // NNPACK: on CPUs it does not support, every convolution that would try it logs "Could not initialize
        // NNPACK! Reason: Unsupported hardware"; ctcf's convolutions gain nothing from it, so it is off everywhere
        // (the same numbers on every CPU, and a clean output)
        at::globalContext().setUserEnabledNNPACK(false);
#if defined(__GLIBC__)
        const char* env = std::getenv("CTCF_MALLOC_TUNING");
        if (env != nullptr && std::string(env) == "off") return;
        mallopt(M_MMAP_MAX, 0);                       // large blocks from the heap too, so they can be reused
        mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);  // keep up to 1 GiB of freed heap for reuse
#endif
    });
}

std::array<int64_t, 3> dims_of(const ctcf_volume* v) { return {v->dims[0], v->dims[1], v->dims[2]}; }
std::array<double, 3> spacing_of(const ctcf_volume* v) { return {v->spacing[0], v->spacing[1], v->spacing[2]}; }

void copy_out(const at::Tensor& result, ctcf_volume* out) {
    at::Tensor dst = ctcf::volume_view(out, "output");
    if (!result.sizes().equals(dst.sizes())) {
        throw ctcf::InvalidArgument("output buffer dims do not match the result");
    }
    dst.copy_(result.to(at::kCPU));
}

}  // namespace

extern "C" {

CTCF_API int32_t ctcf_abi_version(void) { return CTCF_ABI_VERSION; }

CTCF_API int32_t ctcf_build_info(char* buf, size_t cap) {
    if (buf == nullptr || cap == 0) return CTCF_ERR_INVALID_ARGUMENT;
    bool cuda = false;
    try {
        cuda = at::hasCUDA();
    } catch (...) {
        cuda = false;
    }
    std::snprintf(buf, cap, "ctcf %s; LibTorch %s; CUDA %s; threads %d", CTCF_VERSION, TORCH_VERSION,
                  cuda ? "yes" : "no", at::get_num_threads());
    return CTCF_OK;
}

CTCF_API int32_t ctcf_context_create(int32_t device, int32_t device_index, int32_t num_threads, int32_t flags,
                                     ctcf_context** out, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(out, "out");
    *out = nullptr;
    if (num_threads < 0) throw ctcf::InvalidArgument("num_threads must be >= 0");
    if ((flags & ~CTCF_CONTEXT_TENSOR_OPS_ONLY) != 0) {
        throw ctcf::InvalidArgument("unknown context flags " + std::to_string(flags));
    }
    c10::Device dev(c10::kCPU);
    if (device == CTCF_DEVICE_CPU) {
        dev = c10::Device(c10::kCPU);
    } else if (device == CTCF_DEVICE_CUDA) {
        if (!at::hasCUDA()) throw ctcf::Unsupported("CUDA requested but this LibTorch build has no usable CUDA device");
        const int count = at::detail::getCUDAHooks().getNumGPUs();
        if (device_index < 0 || device_index >= count) {
            throw ctcf::InvalidArgument("CUDA device index " + std::to_string(device_index) + " out of range (" +
                                        std::to_string(count) + " devices)");
        }
        dev = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(device_index));
    } else {
        throw ctcf::InvalidArgument("unknown device kind " + std::to_string(device));
    }
    if (num_threads > 0) at::set_num_threads(num_threads);
    tune_allocator_once();
    auto* ctx = new ctcf_context();
    ctx->device = dev;
    ctx->tensor_ops_only = (flags & CTCF_CONTEXT_TENSOR_OPS_ONLY) != 0;
    *out = ctx;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API void ctcf_context_free(ctcf_context* ctx) { delete ctx; }

CTCF_API int32_t ctcf_context_cancel(ctcf_context* ctx, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(ctx, "context");
    ctx->cancelled.store(true);
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_context_reset_cancel(ctcf_context* ctx, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(ctx, "context");
    ctx->cancelled.store(false);
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_context_device_memory(ctcf_context* ctx, int32_t reset, int64_t* peak_bytes, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(ctx, "context");
    ctcf::require(peak_bytes, "peak_bytes");
    *peak_bytes = -1;
#if __has_include(<c10/core/CachingDeviceAllocator.h>)
    if (!ctx->device.is_cpu()) {
        c10::DeviceAllocator* a = c10::getDeviceAllocator(ctx->device.type());
        const c10::DeviceIndex idx = ctx->device.has_index() ? ctx->device.index() : 0;
        if (reset != 0) a->resetPeakStats(idx);
        const auto stats = a->getDeviceStats(idx);
        *peak_bytes = stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
    }
#endif
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_preprocess_dims(const ctcf_volume* in, const ctcf_preprocess_params* params,
                                      int64_t out_dims[3], ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::validate_volume(in, "input", false);
    ctcf::validate_params(params);
    ctcf::require(out_dims, "out_dims");
    const auto d = ctcf::preprocess_dims(dims_of(in), spacing_of(in), *params);
    for (int a = 0; a < 3; ++a) out_dims[a] = d[a];
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_preprocess(ctcf_context* ctx, const ctcf_volume* in, const ctcf_preprocess_params* params,
                                 ctcf_volume* out, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(ctx, "context");
    ctcf::validate_volume(in, "input", true);
    ctcf::validate_params(params);
    ctcf::require(out, "output");
    ctcf::require(out->data, "output voxels");
    const auto expected = ctcf::preprocess_dims(dims_of(in), spacing_of(in), *params);
    for (int a = 0; a < 3; ++a) {
        if (out->dims[a] != expected[a]) {
            throw ctcf::InvalidArgument("output dims " + std::to_string(out->dims[0]) + "x" +
                                        std::to_string(out->dims[1]) + "x" + std::to_string(out->dims[2]) +
                                        " differ from the pipeline's " + std::to_string(expected[0]) + "x" +
                                        std::to_string(expected[1]) + "x" + std::to_string(expected[2]));
        }
    }
    if (ctx->use_fused_cpu()) {
        ctcf::preprocess_cpu(*ctx, in->data, dims_of(in), spacing_of(in), *params, out->data);
    } else {
        at::Tensor x = ctcf::volume_view(in, "input").to(ctx->device);
        at::Tensor y = ctcf::preprocess(*ctx, x, spacing_of(in), *params);
        copy_out(y, out);
    }
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_preprocess_inverse(ctcf_context* ctx, const ctcf_volume* processed,
                                         const ctcf_preprocess_params* params, int32_t invert_window,
                                         ctcf_volume* out, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(ctx, "context");
    ctcf::validate_volume(processed, "processed", true);
    ctcf::validate_volume(out, "output", true);
    ctcf::validate_params(params);
    const auto expected = ctcf::preprocess_dims(dims_of(out), spacing_of(out), *params);
    for (int a = 0; a < 3; ++a) {
        if (processed->dims[a] != expected[a]) {
            throw ctcf::InvalidArgument("processed volume dims do not match what preprocessing the target grid gives");
        }
    }
    if (ctx->use_fused_cpu()) {
        ctcf::preprocess_inverse_cpu(*ctx, processed->data, dims_of(out), spacing_of(out), *params,
                                     invert_window != 0, out->data);
    } else {
        at::Tensor x = ctcf::volume_view(processed, "processed").to(ctx->device);
        at::Tensor y = ctcf::preprocess_inverse(*ctx, x, dims_of(out), spacing_of(out), *params, invert_window != 0);
        copy_out(y, out);
    }
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_selftest(ctcf_context* ctx, int32_t what, int64_t arg, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(ctx, "context");
    c10::InferenceMode guard;
    const auto opts = at::TensorOptions().dtype(at::kFloat).device(ctx->device);
    switch (what) {
        case 0: {
            const double s = at::matmul(at::ones({2, 3}, opts), at::ones({3, 2}, opts)).sum().item<double>();
            if (s != 12.0) throw std::runtime_error("LibTorch computed a wrong matrix product");
            break;
        }
        case 1:
            (void)at::matmul(at::ones({2, 3}, opts), at::ones({2, 3}, opts));
            break;
        case 2:
            throw std::runtime_error("selftest: a std::runtime_error from inside the kernel");
        case 3:
            throw 42;  // deliberately not derived from std::exception
        case 4:
            throw std::bad_alloc();
        case 5:
            for (int64_t i = 0; i < arg; ++i) {
                ctx->check_cancelled();
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            break;
        default:
            throw ctcf::InvalidArgument("unknown selftest " + std::to_string(what));
    }
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

}  // extern "C"

// ---- Layouts: what a binding compares its struct copies with (ctcf_abi_layout) ---------------------------------

namespace {

struct FieldOffset {
    const char* type;   // without the ctcf_ prefix
    const char* field;  // nullptr: the row holds sizeof(type)
    int64_t value;
};

#define CTCF_SIZE(T) {#T, nullptr, static_cast<int64_t>(sizeof(ctcf_##T))}
#define CTCF_FIELD(T, F) {#T, #F, static_cast<int64_t>(offsetof(ctcf_##T, F))}

// Every struct ctcf.h shares with callers, every field. A field added to the header but not here makes
// LayoutCheckTest (Java) fail: it asks for every member of its own layouts.
const FieldOffset kLayouts[] = {
    CTCF_SIZE(error),
    CTCF_FIELD(error, code), CTCF_FIELD(error, message),
    CTCF_SIZE(volume),
    CTCF_FIELD(volume, data), CTCF_FIELD(volume, dims), CTCF_FIELD(volume, spacing),
    CTCF_SIZE(preprocess_params),
    CTCF_FIELD(preprocess_params, axis_perm), CTCF_FIELD(preprocess_params, axis_flip), CTCF_FIELD(preprocess_params, target_spacing),
    CTCF_FIELD(preprocess_params, window_low), CTCF_FIELD(preprocess_params, window_high), CTCF_FIELD(preprocess_params, in_plane_size),
    CTCF_FIELD(preprocess_params, pad_value),
    CTCF_SIZE(vq_config),
    CTCF_FIELD(vq_config, ch), CTCF_FIELD(vq_config, out_ch), CTCF_FIELD(vq_config, in_channels),
    CTCF_FIELD(vq_config, resolution), CTCF_FIELD(vq_config, z_channels), CTCF_FIELD(vq_config, num_res_blocks),
    CTCF_FIELD(vq_config, embed_dim), CTCF_FIELD(vq_config, n_embed), CTCF_FIELD(vq_config, double_z),
    CTCF_FIELD(vq_config, resamp_with_conv), CTCF_FIELD(vq_config, n_ch_mult), CTCF_FIELD(vq_config, n_attn_resolutions),
    CTCF_FIELD(vq_config, ch_mult), CTCF_FIELD(vq_config, attn_resolutions), CTCF_FIELD(vq_config, dropout),
    CTCF_SIZE(slice_wrapper),
    CTCF_FIELD(slice_wrapper, in_scale), CTCF_FIELD(slice_wrapper, in_shift), CTCF_FIELD(slice_wrapper, out_scale),
    CTCF_FIELD(slice_wrapper, out_shift), CTCF_FIELD(slice_wrapper, resize), CTCF_FIELD(slice_wrapper, transpose),
    CTCF_FIELD(slice_wrapper, reference_orientation), CTCF_FIELD(slice_wrapper, antialias), CTCF_FIELD(slice_wrapper, reserved),
    CTCF_SIZE(score_spec),
    CTCF_FIELD(score_spec, target), CTCF_FIELD(score_spec, apply_sigmoid), CTCF_FIELD(score_spec, activation),
    CTCF_FIELD(score_spec, offset), CTCF_FIELD(score_spec, reducer), CTCF_FIELD(score_spec, reserved),
    CTCF_SIZE(shift_options),
    CTCF_FIELD(shift_options, search_pred_diff), CTCF_FIELD(shift_options, search_step_size), CTCF_FIELD(shift_options, search_max_steps),
    CTCF_FIELD(shift_options, search_max_pixel_diff_pct), CTCF_FIELD(shift_options, stop_below), CTCF_FIELD(shift_options, fix_lb),
    CTCF_FIELD(shift_options, fix_rb), CTCF_FIELD(shift_options, lambda_sweep_steps), CTCF_FIELD(shift_options, heatmap),
    CTCF_FIELD(shift_options, fix_range), CTCF_FIELD(shift_options, reference_mode), CTCF_FIELD(shift_options, lambda_batch),
    CTCF_FIELD(shift_options, decoder_batch), CTCF_FIELD(shift_options, gradient_batch), CTCF_FIELD(shift_options, focus_frames),
    CTCF_FIELD(shift_options, autocast), CTCF_FIELD(shift_options, stitch), CTCF_FIELD(shift_options, reserved),
    CTCF_SIZE(result_info),
    CTCF_FIELD(result_info, p0), CTCF_FIELD(result_info, bound), CTCF_FIELD(result_info, stitched_prediction),
    CTCF_FIELD(result_info, counterfactual_prediction),
    CTCF_FIELD(result_info, seconds), CTCF_FIELD(result_info, dims), CTCF_FIELD(result_info, frames),
    CTCF_FIELD(result_info, lambdas_evaluated), CTCF_FIELD(result_info, slices_decoded), CTCF_FIELD(result_info, classifier_calls),
    CTCF_FIELD(result_info, gradient_slices), CTCF_FIELD(result_info, chunks), CTCF_FIELD(result_info, stop_reason),
    CTCF_FIELD(result_info, counterfactual_chunks),
    CTCF_SIZE(chunk_row),
    CTCF_FIELD(chunk_row, start), CTCF_FIELD(chunk_row, end), CTCF_FIELD(chunk_row, min_prediction),
    CTCF_FIELD(chunk_row, bound), CTCF_FIELD(chunk_row, pixel_change), CTCF_FIELD(chunk_row, stop_reason),
    CTCF_FIELD(chunk_row, rank),
    CTCF_SIZE(train_options),
    CTCF_FIELD(train_options, learning_rate), CTCF_FIELD(train_options, beta1), CTCF_FIELD(train_options, beta2),
    CTCF_FIELD(train_options, weight_decay), CTCF_FIELD(train_options, codebook_weight), CTCF_FIELD(train_options, commitment),
    CTCF_FIELD(train_options, disc_weight), CTCF_FIELD(train_options, disc_learning_rate), CTCF_FIELD(train_options, disc_start),
    CTCF_FIELD(train_options, disc_channels), CTCF_FIELD(train_options, disc_layers), CTCF_FIELD(train_options, reserved),
    CTCF_FIELD(train_options, code_restart_every), CTCF_FIELD(train_options, label_smoothing),
    CTCF_SIZE(train_stats),
    CTCF_FIELD(train_stats, step), CTCF_FIELD(train_stats, loss), CTCF_FIELD(train_stats, reconstruction),
    CTCF_FIELD(train_stats, codebook), CTCF_FIELD(train_stats, generator), CTCF_FIELD(train_stats, discriminator),
    CTCF_FIELD(train_stats, adaptive_weight), CTCF_FIELD(train_stats, codes_used), CTCF_FIELD(train_stats, perceptual),
    CTCF_SIZE(saliency_options),
    CTCF_FIELD(saliency_options, steps), CTCF_FIELD(saliency_options, reserved), CTCF_FIELD(saliency_options, baseline),
    CTCF_FIELD(saliency_options, window), CTCF_FIELD(saliency_options, stride), CTCF_FIELD(saliency_options, fill),
    CTCF_FIELD(saliency_options, batch), CTCF_FIELD(saliency_options, layer),
};

#undef CTCF_SIZE
#undef CTCF_FIELD

}  // namespace

CTCF_API int32_t ctcf_abi_layout(const char* type, const char* field, int64_t* value, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(type, "type");
    ctcf::require(value, "value");
    const bool size = field == nullptr || field[0] == '\0';
    for (const auto& row : kLayouts) {
        if (std::strcmp(row.type, type) != 0) continue;
        if (size ? row.field == nullptr : row.field != nullptr && std::strcmp(row.field, field) == 0) {
            *value = row.value;
            return ctcf::set_ok(err);
        }
    }
    throw ctcf::InvalidArgument(std::string("ctcf_abi_layout: no ") + (size ? "struct ctcf_" + std::string(type)
                                                                            : "field " + std::string(type) + "." + field));
    CTCF_API_END(err)
}
