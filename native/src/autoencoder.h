// autoencoder.h — the slice autoencoder handle and the slice <-> model-image mapping shared by the engine.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "ctcf.h"
#include "params.h"
#include "vqgan.h"

struct ctcf_autoencoder {
    ctcf::VQModel model{nullptr};
    c10::Device device{c10::kCPU};
    ctcf_params params;
};

struct ctcf_tensor {
    at::Tensor t;
};

namespace ctcf {

void check_wrapper(const ctcf_slice_wrapper* w);

// Slices [n, ny, nx] -> model images [n, in_channels, h, w] (the wrapper's input map, resize, orientation).
at::Tensor to_model_input(const ctcf_autoencoder& ae, const ctcf_slice_wrapper& w, const at::Tensor& slices);

// Slices [n, ny, nx] -> quantized latents [n, C, h, w]. Differentiable unless called under a no-grad guard.
at::Tensor encode_slices(ctcf_autoencoder& ae, const ctcf_slice_wrapper& w, const at::Tensor& slices);

// Latents [n, C, h, w] -> slices [n, ny, nx]. Differentiable with respect to z.
at::Tensor decode_slices(ctcf_autoencoder& ae, const ctcf_slice_wrapper& w, const at::Tensor& z, int64_t ny,
                         int64_t nx);

// Encodes every slice of a [D, ny, nx] volume in batches (no autograd).
at::Tensor encode_volume(ctcf_autoencoder& ae, const ctcf_slice_wrapper& w, const at::Tensor& vol, int64_t batch);

// Decodes latents [n, C, h, w] in batches (no autograd) into [n, ny, nx].
at::Tensor decode_volume(ctcf_autoencoder& ae, const ctcf_slice_wrapper& w, const at::Tensor& z, int64_t ny,
                         int64_t nx, int64_t batch);

}  // namespace ctcf
