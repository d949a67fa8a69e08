// vqgan.cpp — the VQModel modules; names and forward passes follow architectures.md §1 (taming-transformers).
#include "vqgan.h"

#include <algorithm>
#include <cmath>

#include "guard.h"

namespace ctcf {
namespace {

// taming's Normalize: GroupNorm(32 groups, eps 1e-6, affine).
torch::nn::GroupNorm normalize(int64_t channels) {
    return torch::nn::GroupNorm(torch::nn::GroupNormOptions(32, channels).eps(1e-6).affine(true));
}

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(true));
}

torch::Tensor swish(const torch::Tensor& x) { return torch::silu(x); }

bool has_attention(const VqConfig& c, int64_t res) {
    return std::find(c.attn_resolutions.begin(), c.attn_resolutions.end(), res) != c.attn_resolutions.end();
}

// Index of the nearest codebook entry for every row of zf [N, C] (squared distances as the reference computes
// them), in row blocks so that the N x n_embed distance matrix never exists at once.
torch::Tensor nearest_codes(const torch::Tensor& zf, const torch::Tensor& e) {
    torch::NoGradGuard no_grad;
    const int64_t n = zf.size(0);
    const int64_t rows = std::max<int64_t>(1, (int64_t{1} << 21) / std::max<int64_t>(1, e.size(0)));
    torch::Tensor e2 = torch::sum(e.pow(2), /*dim=*/1);
    torch::Tensor et = e.t();
    std::vector<torch::Tensor> parts;
    for (int64_t r = 0; r < n; r += rows) {
        torch::Tensor z = zf.slice(0, r, std::min(n, r + rows));
        torch::Tensor d = torch::sum(z.pow(2), /*dim=*/1, /*keepdim=*/true) + e2 - 2 * torch::matmul(z, et);
        parts.push_back(torch::argmin(d, /*dim=*/1));
    }
    return parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
}

}  // namespace

void VqConfig::validate() const {
    auto fail = [](const std::string& m) { throw InvalidArgument("VQ-GAN config: " + m); };
    if (ch < 1 || ch_mult.empty() || ch_mult.size() > 12) fail("ch and ch_mult must be set (1..12 levels)");
    for (int64_t m : ch_mult) {
        if (m < 1) fail("ch_mult entries must be >= 1");
        if ((ch * m) % 32 != 0) fail("every ch*ch_mult must be a multiple of 32 (GroupNorm with 32 groups)");
    }
    if (num_res_blocks < 1) fail("num_res_blocks must be >= 1");
    if (in_channels < 1 || out_ch < 1) fail("in_channels and out_ch must be >= 1");
    if (z_channels < 1 || embed_dim < 1 || n_embed < 1) fail("z_channels, embed_dim and n_embed must be >= 1");
    if (double_z) fail("double_z must be false for a VQModel (quant_conv expects z_channels inputs)");
    if (resolution < 1) fail("resolution must be >= 1");
    if (dropout < 0.0 || dropout >= 1.0) fail("dropout must be in [0, 1)");
}

ResnetBlockImpl::ResnetBlockImpl(int64_t in, int64_t out, double p) : in_channels(in), out_channels(out) {
    norm1 = register_module("norm1", normalize(in));
    conv1 = register_module("conv1", conv(in, out, 3, 1, 1));
    norm2 = register_module("norm2", normalize(out));
    dropout = register_module("dropout", torch::nn::Dropout(p));
    conv2 = register_module("conv2", conv(out, out, 3, 1, 1));
    if (in != out) nin_shortcut = register_module("nin_shortcut", conv(in, out, 1, 1, 0));
}

torch::Tensor ResnetBlockImpl::forward(const torch::Tensor& x) {
    torch::Tensor h = conv1(swish(norm1(x)));
    h = conv2(dropout(swish(norm2(h))));
    return (nin_shortcut ? nin_shortcut(x) : x) + h;
}

AttnBlockImpl::AttnBlockImpl(int64_t c) : channels(c) {
    norm = register_module("norm", normalize(c));
    q = register_module("q", conv(c, c, 1, 1, 0));
    k = register_module("k", conv(c, c, 1, 1, 0));
    v = register_module("v", conv(c, c, 1, 1, 0));
    proj_out = register_module("proj_out", conv(c, c, 1, 1, 0));
}

torch::Tensor AttnBlockImpl::forward(const torch::Tensor& x) {
    const int64_t b = x.size(0), c = x.size(1), hh = x.size(2), ww = x.size(3);
    const int64_t n = hh * ww;
    torch::Tensor hn = norm(x);
    torch::Tensor qq = q(hn) * std::pow(static_cast<double>(c), -0.5);
    torch::Tensor kk = k(hn);
    torch::Tensor vv = v(hn);
    // softmax_j(q_i . k_j / sqrt(c)) v_j per sample, with both products written as 1x1 convolutions (the
    // convolution backend is far faster than a generic BLAS on CPU): weights[j, i] = conv(q, k as [n, c, 1, 1]),
    // softmax over j (dim 1), out[c, i] = conv(weights, v as [c, n, 1, 1]).
    std::vector<torch::Tensor> outs;
    outs.reserve(static_cast<size_t>(b));
    for (int64_t i = 0; i < b; ++i) {
        torch::Tensor kw = kk[i].reshape({c, n}).t().reshape({n, c, 1, 1});
        torch::Tensor w = at::conv2d(qq.slice(0, i, i + 1), kw);  // [1, n(j), h, w(i)]
        w = torch::softmax(w, /*dim=*/1);
        torch::Tensor vw = vv[i].reshape({c, n, 1, 1});
        outs.push_back(at::conv2d(w, vw));  // [1, c, h, w]
    }
    torch::Tensor out = b == 1 ? outs[0] : torch::cat(outs, 0);
    return x + proj_out(out);
}

ResampleImpl::ResampleImpl(int64_t c, bool wc, bool u) : with_conv(wc), up(u) {
    if (with_conv) conv = register_module("conv", u ? ::ctcf::conv(c, c, 3, 1, 1) : ::ctcf::conv(c, c, 3, 2, 0));
}

torch::Tensor ResampleImpl::forward(const torch::Tensor& x) {
    if (up) {
        torch::Tensor h = at::upsample_nearest2d(x, {x.size(2) * 2, x.size(3) * 2});
        return with_conv ? conv(h) : h;
    }
    if (with_conv) return conv(at::constant_pad_nd(x, {0, 1, 0, 1}, 0.0));  // asymmetric: right and bottom
    return at::avg_pool2d(x, {2, 2}, {2, 2});
}

torch::Tensor LevelImpl::forward(torch::Tensor h) {
    for (size_t j = 0; j < block->size(); ++j) {
        h = block[j]->as<ResnetBlockImpl>()->forward(h);
        if (!attn->is_empty()) h = attn[j]->as<AttnBlockImpl>()->forward(h);
    }
    if (resample) h = resample(h);
    return h;
}

MidImpl::MidImpl(int64_t c, double p) {
    block_1 = register_module("block_1", ResnetBlock(c, c, p));
    attn_1 = register_module("attn_1", AttnBlock(c));
    block_2 = register_module("block_2", ResnetBlock(c, c, p));
}

torch::Tensor MidImpl::forward(const torch::Tensor& x) { return block_2(attn_1(block_1(x))); }

EncoderImpl::EncoderImpl(const VqConfig& c) {
    const auto levels = static_cast<int64_t>(c.ch_mult.size());
    conv_in = register_module("conv_in", conv(c.in_channels, c.ch, 3, 1, 1));
    down = register_module("down", torch::nn::ModuleList());
    int64_t res = c.resolution;
    int64_t block_in = c.ch;
    for (int64_t i = 0; i < levels; ++i) {
        auto level = Level();
        const int64_t block_out = c.ch * c.ch_mult[static_cast<size_t>(i)];
        for (int64_t j = 0; j < c.num_res_blocks; ++j) {
            level->block->push_back(ResnetBlock(block_in, block_out, c.dropout));
            block_in = block_out;
            if (has_attention(c, res)) level->attn->push_back(AttnBlock(block_in));
        }
        if (i != levels - 1) {
            level->resample = level->register_module("downsample", Resample(block_in, c.resamp_with_conv, false));
            res /= 2;
        }
        down->push_back(level);
    }
    mid = register_module("mid", Mid(block_in, c.dropout));
    norm_out = register_module("norm_out", normalize(block_in));
    conv_out = register_module("conv_out", conv(block_in, c.double_z ? 2 * c.z_channels : c.z_channels, 3, 1, 1));
}

torch::Tensor EncoderImpl::forward(const torch::Tensor& x) {
    torch::Tensor h = conv_in(x);
    for (size_t i = 0; i < down->size(); ++i) h = down[i]->as<LevelImpl>()->forward(h);
    h = mid(h);
    return conv_out(swish(norm_out(h)));
}

DecoderImpl::DecoderImpl(const VqConfig& c) {
    const auto levels = static_cast<int64_t>(c.ch_mult.size());
    int64_t block_in = c.ch * c.ch_mult.back();
    int64_t res = c.resolution / c.downsampling();
    conv_in = register_module("conv_in", conv(c.z_channels, block_in, 3, 1, 1));
    mid = register_module("mid", Mid(block_in, c.dropout));
    // Built from the deepest level up, stored so that up[i] is level i.
    std::vector<Level> built(static_cast<size_t>(levels), nullptr);
    for (int64_t i = levels - 1; i >= 0; --i) {
        auto level = Level();
        const int64_t block_out = c.ch * c.ch_mult[static_cast<size_t>(i)];
        for (int64_t j = 0; j <= c.num_res_blocks; ++j) {
            level->block->push_back(ResnetBlock(block_in, block_out, c.dropout));
            block_in = block_out;
            if (has_attention(c, res)) level->attn->push_back(AttnBlock(block_in));
        }
        if (i != 0) {
            level->resample = level->register_module("upsample", Resample(block_in, c.resamp_with_conv, true));
            res *= 2;
        }
        built[static_cast<size_t>(i)] = level;
    }
    up = register_module("up", torch::nn::ModuleList());
    for (auto& level : built) up->push_back(level);
    norm_out = register_module("norm_out", normalize(block_in));
    conv_out = register_module("conv_out", conv(block_in, c.out_ch, 3, 1, 1));
}

torch::Tensor DecoderImpl::forward(const torch::Tensor& z) {
    torch::Tensor h = mid(conv_in(z));
    for (auto i = static_cast<int64_t>(up->size()) - 1; i >= 0; --i) {
        h = up[static_cast<size_t>(i)]->as<LevelImpl>()->forward(h);
    }
    return conv_out(swish(norm_out(h)));
}

VectorQuantizerImpl::VectorQuantizerImpl(int64_t n_embed, int64_t embed_dim) {
    embedding = register_module("embedding", torch::nn::Embedding(n_embed, embed_dim));
    torch::NoGradGuard no_grad;
    embedding->weight.uniform_(-1.0 / static_cast<double>(n_embed), 1.0 / static_cast<double>(n_embed));
}

torch::Tensor VectorQuantizerImpl::forward(const torch::Tensor& z, torch::Tensor* indices) {
    const int64_t b = z.size(0), c = z.size(1), hh = z.size(2), ww = z.size(3);
    torch::Tensor zp = z.permute({0, 2, 3, 1}).contiguous();  // b,h,w,c
    torch::Tensor zf = zp.view({-1, c});
    const torch::Tensor& e = embedding->weight;
    torch::Tensor idx = nearest_codes(zf, e);
    torch::Tensor zq = e.index_select(0, idx).view({b, hh, ww, c});
    zq = zp + (zq - zp).detach();  // straight-through, same expression as the reference
    if (indices != nullptr) *indices = idx;
    return zq.permute({0, 3, 1, 2}).contiguous();
}

torch::Tensor VectorQuantizerImpl::forward_with_loss(const torch::Tensor& z, double beta, torch::Tensor* loss,
                                                     torch::Tensor* indices) {
    const int64_t b = z.size(0), c = z.size(1), hh = z.size(2), ww = z.size(3);
    torch::Tensor zp = z.permute({0, 2, 3, 1}).contiguous();
    torch::Tensor zf = zp.view({-1, c});
    const torch::Tensor& e = embedding->weight;
    torch::Tensor idx = nearest_codes(zf, e);
    torch::Tensor zq = e.index_select(0, idx).view({b, hh, ww, c});
    *loss = torch::mean((zq.detach() - zp).pow(2)) + beta * torch::mean((zq - zp.detach()).pow(2));
    if (indices != nullptr) *indices = idx;
    return (zp + (zq - zp).detach()).permute({0, 3, 1, 2}).contiguous();
}

VQModelImpl::VQModelImpl(const VqConfig& c) : config(c) {
    c.validate();
    encoder = register_module("encoder", Encoder(c));
    decoder = register_module("decoder", Decoder(c));
    quantize = register_module("quantize", VectorQuantizer(c.n_embed, c.embed_dim));
    quant_conv = register_module("quant_conv", conv(c.z_channels, c.embed_dim, 1, 1, 0));
    post_quant_conv = register_module("post_quant_conv", conv(c.embed_dim, c.z_channels, 1, 1, 0));
}

torch::Tensor VQModelImpl::encode_continuous(const torch::Tensor& x) { return quant_conv(encoder(x)); }

torch::Tensor VQModelImpl::encode(const torch::Tensor& x, torch::Tensor* indices) {
    return quantize->forward(encode_continuous(x), indices);
}

torch::Tensor VQModelImpl::decode(const torch::Tensor& z) { return decoder(post_quant_conv(z)); }

}  // namespace ctcf
