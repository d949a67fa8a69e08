// vqgan.h — taming-transformers VQModel (Encoder, Decoder, VectorQuantizer2, quant convs) in LibTorch, with
// submodules registered under the published state_dict names so checkpoints load by name.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ctcf {

// model.params.ddconfig + embed_dim + n_embed of a taming VQModel config.
struct VqConfig {
    int64_t ch = 128;
    int64_t out_ch = 3;
    int64_t in_channels = 3;
    int64_t resolution = 256;
    int64_t z_channels = 256;
    int64_t num_res_blocks = 2;
    int64_t embed_dim = 256;
    int64_t n_embed = 1024;
    bool double_z = false;
    bool resamp_with_conv = true;
    std::vector<int64_t> ch_mult = {1, 1, 2, 2, 4};
    std::vector<int64_t> attn_resolutions = {16};
    double dropout = 0.0;

    // Throws InvalidArgument for configs the modules cannot be built from (GroupNorm needs multiples of 32, ...).
    void validate() const;
    int64_t downsampling() const { return int64_t{1} << (ch_mult.size() - 1); }
};

struct ResnetBlockImpl : torch::nn::Module {
    ResnetBlockImpl(int64_t in, int64_t out, double dropout);
    torch::Tensor forward(const torch::Tensor& x);
    int64_t in_channels;
    int64_t out_channels;
    torch::nn::GroupNorm norm1{nullptr};
    torch::nn::Conv2d conv1{nullptr};
    torch::nn::GroupNorm norm2{nullptr};
    torch::nn::Dropout dropout{nullptr};
    torch::nn::Conv2d conv2{nullptr};
    torch::nn::Conv2d nin_shortcut{nullptr};
};
TORCH_MODULE(ResnetBlock);

struct AttnBlockImpl : torch::nn::Module {
    explicit AttnBlockImpl(int64_t channels);
    torch::Tensor forward(const torch::Tensor& x);
    int64_t channels;
    torch::nn::GroupNorm norm{nullptr};
    torch::nn::Conv2d q{nullptr}, k{nullptr}, v{nullptr}, proj_out{nullptr};
};
TORCH_MODULE(AttnBlock);

// Downsample (encoder) or Upsample (decoder): optional 3x3 conv named "conv".
struct ResampleImpl : torch::nn::Module {
    ResampleImpl(int64_t channels, bool with_conv, bool up);
    torch::Tensor forward(const torch::Tensor& x);
    bool with_conv;
    bool up;
    torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Resample);

// One resolution level: "block" and "attn" lists and, except at the last level, "downsample"/"upsample".
struct LevelImpl : torch::nn::Module {
    torch::nn::ModuleList block;
    torch::nn::ModuleList attn;
    Resample resample{nullptr};
    LevelImpl() {
        block = register_module("block", torch::nn::ModuleList());
        attn = register_module("attn", torch::nn::ModuleList());
    }
    torch::Tensor forward(torch::Tensor h);
};
TORCH_MODULE(Level);

struct MidImpl : torch::nn::Module {
    MidImpl(int64_t channels, double dropout);
    torch::Tensor forward(const torch::Tensor& x);
    ResnetBlock block_1{nullptr};
    AttnBlock attn_1{nullptr};
    ResnetBlock block_2{nullptr};
};
TORCH_MODULE(Mid);

struct EncoderImpl : torch::nn::Module {
    explicit EncoderImpl(const VqConfig& c);
    torch::Tensor forward(const torch::Tensor& x);
    torch::nn::Conv2d conv_in{nullptr};
    torch::nn::ModuleList down;
    Mid mid{nullptr};
    torch::nn::GroupNorm norm_out{nullptr};
    torch::nn::Conv2d conv_out{nullptr};
};
TORCH_MODULE(Encoder);

struct DecoderImpl : torch::nn::Module {
    explicit DecoderImpl(const VqConfig& c);
    torch::Tensor forward(const torch::Tensor& z);
    torch::nn::Conv2d conv_in{nullptr};
    Mid mid{nullptr};
    torch::nn::ModuleList up;
    torch::nn::GroupNorm norm_out{nullptr};
    torch::nn::Conv2d conv_out{nullptr};
};
TORCH_MODULE(Decoder);

// taming's VectorQuantizer2 (legacy=True), eval path: nearest codebook entry, straight-through value.
struct VectorQuantizerImpl : torch::nn::Module {
    VectorQuantizerImpl(int64_t n_embed, int64_t embed_dim);
    // Returns the quantized latent [B, C, H, W]; *indices (if given) receives [B*H*W] int64.
    torch::Tensor forward(const torch::Tensor& z, torch::Tensor* indices = nullptr);
    // Training path: the straight-through latent and taming's legacy VQ loss
    // mean((zq.detach() - z)^2) + beta * mean((zq - z.detach())^2).
    torch::Tensor forward_with_loss(const torch::Tensor& z, double beta, torch::Tensor* loss, torch::Tensor* indices);
    torch::nn::Embedding embedding{nullptr};
};
TORCH_MODULE(VectorQuantizer);

struct VQModelImpl : torch::nn::Module {
    explicit VQModelImpl(const VqConfig& c);
    // encoder -> quant_conv (the continuous latent before the codebook)
    torch::Tensor encode_continuous(const torch::Tensor& x);
    // encoder -> quant_conv -> quantize: the quantized latent
    torch::Tensor encode(const torch::Tensor& x, torch::Tensor* indices = nullptr);
    // post_quant_conv -> decoder
    torch::Tensor decode(const torch::Tensor& z);
    VqConfig config;
    Encoder encoder{nullptr};
    Decoder decoder{nullptr};
    VectorQuantizer quantize{nullptr};
    torch::nn::Conv2d quant_conv{nullptr};
    torch::nn::Conv2d post_quant_conv{nullptr};
};
TORCH_MODULE(VQModel);

}  // namespace ctcf
