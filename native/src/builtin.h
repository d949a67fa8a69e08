// builtin.h — the paper's two classifiers, registered under their published state_dict names:
// lungmask's U-Net (R231: 3 classes) and Merlin's I3D-inflated ResNet-152 image encoder (1692 phenotypes).
#pragma once

#include <torch/torch.h>

namespace ctcf {

struct UNetConvBlockImpl : torch::nn::Module {
    UNetConvBlockImpl(int64_t in, int64_t out);
    torch::Tensor forward(const torch::Tensor& x);
    torch::nn::Conv2d residual_input_conv{nullptr};
    torch::nn::BatchNorm2d residual_batchnorm{nullptr};
    torch::nn::Sequential block{nullptr};
};
TORCH_MODULE(UNetConvBlock);

struct UNetUpBlockImpl : torch::nn::Module {
    UNetUpBlockImpl(int64_t in, int64_t out);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& bridge);
    torch::nn::Conv2d residual_input_conv{nullptr};
    torch::nn::BatchNorm2d residual_batchnorm{nullptr};
    torch::nn::Sequential up{nullptr};
    UNetConvBlock conv_block{nullptr};
};
TORCH_MODULE(UNetUpBlock);

// lungmask UNet(n_classes, padding=True, depth=5, wf=6, up_mode='upsample', batch_norm=True): log-probabilities.
struct LungmaskUNetImpl : torch::nn::Module {
    explicit LungmaskUNetImpl(int64_t n_classes);
    torch::Tensor forward(const torch::Tensor& x);  // [N, 1, H, W] -> [N, n_classes, H, W] (log-softmax)
    torch::nn::ModuleList down_path{nullptr};
    torch::nn::ModuleList up_path{nullptr};
    torch::nn::Conv2d last{nullptr};
};
TORCH_MODULE(LungmaskUNet);

struct Bottleneck3dImpl : torch::nn::Module {
    Bottleneck3dImpl(int64_t in, int64_t width, int64_t stride, bool downsample);
    torch::Tensor forward(const torch::Tensor& x);
    torch::nn::Conv3d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
    torch::nn::BatchNorm3d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
    torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck3d);

// Merlin's I3ResNet (ResNet-152 inflated, conv_class=True): input [B, 1, H, W, D] -> phenotype logits [B, classes].
struct I3ResNetImpl : torch::nn::Module {
    I3ResNetImpl(int64_t classes, std::vector<int64_t> blocks = {3, 8, 36, 3});
    torch::Tensor forward(const torch::Tensor& x);
    torch::nn::Conv3d conv1{nullptr};
    torch::nn::BatchNorm3d bn1{nullptr};
    torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
    torch::nn::Conv3d classifier{nullptr};
    torch::nn::Conv3d contrastive_head{nullptr};
};
TORCH_MODULE(I3ResNet);

// ctcf's demo lung segmenter: a two-level 2-D U-Net (GroupNorm, ReLU), [N, 1, H, W] in [0, 1] window units ->
// one lung logit per pixel [N, 1, H, W]. Any H, W (padded to a multiple of 4 inside).
struct LungSegNetImpl : torch::nn::Module {
    explicit LungSegNetImpl(int64_t width = 16, int64_t classes = 1);
    torch::Tensor forward(const torch::Tensor& x);
    torch::nn::Sequential enc1{nullptr}, enc2{nullptr}, bottom{nullptr}, dec2{nullptr}, dec1{nullptr};
    torch::nn::Conv2d up2{nullptr}, up1{nullptr}, last{nullptr};
};
TORCH_MODULE(LungSegNet);

// ctcf's demo nodule detector: a fully convolutional 3-D CNN whose logit map is max-pooled to one logit per volume:
// [B, 1, D, H, W] -> [B, classes]. Training on crops and explaining whole volumes use the same network.
struct NoduleNetImpl : torch::nn::Module {
    explicit NoduleNetImpl(int64_t width = 8, int64_t classes = 1);
    torch::Tensor forward(const torch::Tensor& x);
    torch::Tensor logit_map(const torch::Tensor& x);  // [B, classes, d, h, w] before the max
    torch::nn::Sequential features{nullptr};
    torch::nn::Conv3d head{nullptr};
};
TORCH_MODULE(NoduleNet);

}  // namespace ctcf
