// preprocess.h — the reference volume preprocessing (reorient, resample, HU window, in-plane pad/crop) and its inverse.
#pragma once

#include <ATen/ATen.h>

#include <array>

#include "ctcf.h"

struct ctcf_context;

namespace ctcf {

// check_volume (volume.h) and spacing > 0 and finite on every axis; throws InvalidArgument.
void validate_volume(const ctcf_volume* v, const char* what, bool need_data);
// Checks params against an input volume; throws InvalidArgument.
void validate_params(const ctcf_preprocess_params* p);

// Output dims (x, y, z) of the pipeline for an input of `in_dims`/`in_spacing`.
std::array<int64_t, 3> preprocess_dims(const std::array<int64_t, 3>& in_dims, const std::array<double, 3>& in_spacing,
                                       const ctcf_preprocess_params& p);

// Linear resampling of tensor dim `dim` to `n_out` samples at positions i * step (border clamped).
at::Tensor resample_axis(const at::Tensor& x, int64_t dim, int64_t n_out, double step);

// Forward pipeline on a [nz, ny, nx] float tensor; returns [nz', ny', nx'] on the same device.
at::Tensor preprocess(const ctcf_context& ctx, const at::Tensor& zyx, const std::array<double, 3>& in_spacing,
                      const ctcf_preprocess_params& p);

// Inverse pipeline: processed [nz', ny', nx'] back onto an original grid of `orig_dims` (x, y, z).
at::Tensor preprocess_inverse(const ctcf_context& ctx, const at::Tensor& processed,
                              const std::array<int64_t, 3>& orig_dims, const std::array<double, 3>& orig_spacing,
                              const ctcf_preprocess_params& p, bool invert_window);

// The same two pipelines as fused CPU loops over caller memory: one pass, no full-volume temporaries
// (each temporary costs a page-fault storm on large volumes). `in`/`out` are x-fastest float32 buffers.
void preprocess_cpu(const ctcf_context& ctx, const float* in, const std::array<int64_t, 3>& in_dims,
                    const std::array<double, 3>& in_spacing, const ctcf_preprocess_params& p, float* out);
void preprocess_inverse_cpu(const ctcf_context& ctx, const float* processed, const std::array<int64_t, 3>& orig_dims,
                            const std::array<double, 3>& orig_spacing, const ctcf_preprocess_params& p,
                            bool invert_window, float* out);

}  // namespace ctcf
