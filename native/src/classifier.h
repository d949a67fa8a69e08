// classifier.h — a differentiable 3D classifier (TorchScript) and the score Latent Shift explains.
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include "ctcf.h"

struct ctcf_classifier {
    torch::jit::Module module;
    int32_t layout = CTCF_LAYOUT_BCDHW;
    int64_t max_batch = 0;  // 0 = any batch size
    c10::Device device{c10::kCPU};
};

namespace ctcf {

// Raw outputs [K, classes] for K volumes [K, D, ny, nx]; differentiable. Splits K into allowed batches.
at::Tensor classifier_outputs(ctcf_classifier& clf, const at::Tensor& volumes);

// The explained score [K]: outputs[:, target] + offset, then sigmoid if asked.
at::Tensor classifier_score(ctcf_classifier& clf, const ctcf_score_spec& spec, const at::Tensor& volumes);

void check_score_spec(const ctcf_score_spec* spec);

}  // namespace ctcf
