// perceptual.h — the LPIPS perceptual distance (Zhang et al. 2018) over torchvision's VGG-16 features, as the
// taming VQ-GAN objective uses it. Weights come from the user (torchvision's vgg16 state dict and LPIPS's
// linear layers); without linear layers every channel weighs 1 (LPIPS's "baseline" variant).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "params.h"

namespace ctcf {

// LPIPS's per-layer head: dropout then a 1x1 convolution without bias ("linK.model.1.weight").
struct LpipsLinImpl : torch::nn::Module {
    explicit LpipsLinImpl(int64_t channels);
    torch::nn::Sequential model{nullptr};
    torch::Tensor forward(const torch::Tensor& x) { return model->forward(x); }
};
TORCH_MODULE(LpipsLin);

struct LpipsImpl : torch::nn::Module {
    LpipsImpl();
    // Distance per sample [B] between two batches [B, 1 or 3, H, W] in [-1, 1]; one channel is repeated to three.
    torch::Tensor forward(const torch::Tensor& a, const torch::Tensor& b);
    // VGG-16 activations after relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 of inputs in [-1, 1], 3 channels.
    std::vector<torch::Tensor> taps(const torch::Tensor& x);

    torch::nn::Sequential features{nullptr};  // torchvision vgg16.features[0:30], the same state_dict names
    std::vector<LpipsLin> lin;
};
TORCH_MODULE(Lpips);

}  // namespace ctcf

struct ctcf_perceptual {
    ctcf::Lpips net{nullptr};
    ctcf_params params;
    c10::Device device{c10::kCPU};
};
