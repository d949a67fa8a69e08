// builtin.cpp — lungmask U-Net and Merlin I3ResNet-152, written from architectures.md §2 and §3.
#include "builtin.h"

#include "layers.h"

namespace ctcf {
namespace {

torch::nn::Conv2d conv2d(int64_t in, int64_t out, int64_t k, int64_t pad) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).padding(pad).bias(true));
}

torch::nn::BatchNorm2d bn2d(int64_t c) {
    return torch::nn::BatchNorm2d(torch::nn::BatchNormOptions(c).eps(1e-5).momentum(0.1));
}

torch::nn::Conv3d conv3d(int64_t in, int64_t out, std::vector<int64_t> k, std::vector<int64_t> s,
                         std::vector<int64_t> p, bool bias) {
    return torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, torch::ExpandingArray<3>(k))
                                 .stride(torch::ExpandingArray<3>(s))
                                 .padding(torch::ExpandingArray<3>(p))
                                 .bias(bias));
}

torch::nn::BatchNorm3d bn3d(int64_t c) {
    return torch::nn::BatchNorm3d(torch::nn::BatchNormOptions(c).eps(1e-5).momentum(0.1));
}

}  // namespace

UNetConvBlockImpl::UNetConvBlockImpl(int64_t in, int64_t out) {
    // Registered although the forward never uses them: they are in the published state_dict.
    residual_input_conv = register_module("residual_input_conv", conv2d(in, out, 1, 0));
    residual_batchnorm = register_module("residual_batchnorm", bn2d(out));
    // conv -> ReLU -> BN, twice; the ReLUs hold indices 1 and 4 so that the BN keys are block.2 and block.5.
    block = register_module("block", torch::nn::Sequential(conv2d(in, out, 3, 1), Act(), bn2d(out),
                                                           conv2d(out, out, 3, 1), Act(), bn2d(out)));
}

torch::Tensor UNetConvBlockImpl::forward(const torch::Tensor& x) { return run_sequential(block, x); }

UNetUpBlockImpl::UNetUpBlockImpl(int64_t in, int64_t out) {
    residual_input_conv = register_module("residual_input_conv", conv2d(in, out, 1, 0));
    residual_batchnorm = register_module("residual_batchnorm", bn2d(out));
    up = register_module("up", torch::nn::Sequential(
                                   torch::nn::Upsample(torch::nn::UpsampleOptions()
                                                           .scale_factor(std::vector<double>{2.0, 2.0})
                                                           .mode(torch::kBilinear)
                                                           .align_corners(false)),
                                   conv2d(in, out, 1, 0)));
    conv_block = register_module("conv_block", UNetConvBlock(in, out));
}

torch::Tensor UNetUpBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& bridge) {
    torch::Tensor u = up->forward(x);
    const int64_t dy = (bridge.size(2) - u.size(2)) / 2;
    const int64_t dx = (bridge.size(3) - u.size(3)) / 2;
    torch::Tensor c = bridge.slice(2, dy, dy + u.size(2)).slice(3, dx, dx + u.size(3));
    return conv_block(torch::cat({u, c}, 1));  // up first, bridge second
}

LungmaskUNetImpl::LungmaskUNetImpl(int64_t n_classes) {
    down_path = register_module("down_path", torch::nn::ModuleList());
    int64_t prev = 1;
    for (int i = 0; i < 5; ++i) {
        const int64_t c = int64_t{1} << (6 + i);
        down_path->push_back(UNetConvBlock(prev, c));
        prev = c;
    }
    up_path = register_module("up_path", torch::nn::ModuleList());
    for (int i = 3; i >= 0; --i) {
        const int64_t c = int64_t{1} << (6 + i);
        up_path->push_back(UNetUpBlock(prev, c));
        prev = c;
    }
    last = register_module("last", conv2d(prev, n_classes, 1, 0));
}

torch::Tensor LungmaskUNetImpl::forward(const torch::Tensor& input) {
    std::vector<torch::Tensor> bridges;
    torch::Tensor x = input;
    for (size_t i = 0; i < down_path->size(); ++i) {
        x = tap(down_path[i].get(), down_path[i]->as<UNetConvBlockImpl>()->forward(x));
        if (i + 1 != down_path->size()) {
            bridges.push_back(x);
            x = torch::avg_pool2d(x, 2);
        }
    }
    for (size_t j = 0; j < up_path->size(); ++j) {
        x = tap(up_path[j].get(), up_path[j]->as<UNetUpBlockImpl>()->forward(x, bridges[bridges.size() - 1 - j]));
    }
    return torch::log_softmax(tap(last.get(), last(x)), /*dim=*/1);
}

Bottleneck3dImpl::Bottleneck3dImpl(int64_t in, int64_t width, int64_t stride, bool ds) {
    conv1 = register_module("conv1", conv3d(in, width, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, false));
    bn1 = register_module("bn1", bn3d(width));
    conv2 = register_module("conv2", conv3d(width, width, {3, 3, 3}, {stride, stride, stride}, {1, 1, 1}, false));
    bn2 = register_module("bn2", bn3d(width));
    conv3 = register_module("conv3", conv3d(width, 4 * width, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, false));
    bn3 = register_module("bn3", bn3d(4 * width));
    if (ds) {
        downsample = register_module(
            "downsample",
            torch::nn::Sequential(conv3d(in, 4 * width, {1, 1, 1}, {stride, stride, stride}, {0, 0, 0}, false),
                                  bn3d(4 * width)));
    }
}

torch::Tensor Bottleneck3dImpl::forward(const torch::Tensor& x) {
    torch::Tensor out = activation(bn1(conv1(x)), 0.0);
    out = activation(bn2(conv2(out)), 0.0);
    out = bn3(conv3(out));
    out = out + (downsample ? downsample->forward(x) : x);
    return activation(out, 0.0);
}

I3ResNetImpl::I3ResNetImpl(int64_t classes, std::vector<int64_t> blocks) {
    conv1 = register_module("conv1", conv3d(3, 64, {3, 7, 7}, {1, 2, 2}, {1, 3, 3}, false));
    bn1 = register_module("bn1", bn3d(64));
    int64_t in = 64;
    const int64_t widths[4] = {64, 128, 256, 512};
    torch::nn::Sequential* layers[4] = {&layer1, &layer2, &layer3, &layer4};
    for (int l = 0; l < 4; ++l) {
        torch::nn::Sequential seq;
        const int64_t stride = l == 0 ? 1 : 2;
        for (int64_t b = 0; b < blocks[static_cast<size_t>(l)]; ++b) {
            seq->push_back(Bottleneck3d(in, widths[l], b == 0 ? stride : 1, b == 0));
            in = 4 * widths[l];
        }
        *layers[l] = register_module("layer" + std::to_string(l + 1), seq);
    }
    classifier = register_module("classifier", conv3d(in, classes, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, true));
    contrastive_head = register_module("contrastive_head", conv3d(in, 512, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, true));
}

torch::Tensor I3ResNetImpl::forward(const torch::Tensor& input) {
    torch::Tensor x = input.permute({0, 1, 4, 2, 3});  // [B,1,H,W,D] -> [B,1,D,H,W]
    x = torch::cat({x, x, x}, 1);
    x = activation(bn1(conv1(x)), 0.0);
    x = torch::max_pool3d(x, {3, 3, 3}, {2, 2, 2}, {1, 1, 1});
    for (const auto& layer : {layer1, layer2, layer3, layer4}) x = run_sequential(layer, x);
    torch::Tensor f = torch::adaptive_avg_pool3d(x, {1, 1, 1});
    return classifier(f).flatten(1);  // [B, classes]: the phenotype logits
}

namespace {

torch::nn::Sequential conv_gn_relu2d(int64_t in, int64_t out) {
    auto block = [](int64_t i, int64_t o) {
        return torch::nn::Sequential(conv2d(i, o, 3, 1), torch::nn::GroupNorm(torch::nn::GroupNormOptions(4, o)),
                                     Act());
    };
    torch::nn::Sequential s;
    s->extend(*block(in, out));
    s->extend(*block(out, out));
    return s;
}

}  // namespace

LungSegNetImpl::LungSegNetImpl(int64_t w, int64_t classes) {
    enc1 = register_module("enc1", conv_gn_relu2d(1, w));
    enc2 = register_module("enc2", conv_gn_relu2d(w, 2 * w));
    bottom = register_module("bottom", conv_gn_relu2d(2 * w, 4 * w));
    up2 = register_module("up2", conv2d(4 * w, 2 * w, 1, 0));
    dec2 = register_module("dec2", conv_gn_relu2d(4 * w, 2 * w));
    up1 = register_module("up1", conv2d(2 * w, w, 1, 0));
    dec1 = register_module("dec1", conv_gn_relu2d(2 * w, w));
    last = register_module("last", conv2d(w, classes, 1, 0));
}

torch::Tensor LungSegNetImpl::forward(const torch::Tensor& input) {
    const int64_t h = input.size(2), w = input.size(3);
    const int64_t ph = (4 - h % 4) % 4, pw = (4 - w % 4) % 4;
    torch::Tensor x = (ph || pw) ? at::replication_pad2d(input, {0, pw, 0, ph}) : input;
    torch::Tensor e1 = run_sequential(enc1, x);
    torch::Tensor e2 = run_sequential(enc2, torch::avg_pool2d(e1, 2));
    torch::Tensor b = run_sequential(bottom, torch::avg_pool2d(e2, 2));
    auto up = [](const torch::Tensor& t) { return at::upsample_nearest2d(t, {t.size(2) * 2, t.size(3) * 2}); };
    torch::Tensor d2 = run_sequential(dec2, torch::cat({up2(up(b)), e2}, 1));
    torch::Tensor d1 = run_sequential(dec1, torch::cat({up1(up(d2)), e1}, 1));
    torch::Tensor out = tap(last.get(), last(d1));
    return (ph || pw) ? out.slice(2, 0, h).slice(3, 0, w) : out;
}

NoduleNetImpl::NoduleNetImpl(int64_t w, int64_t classes) {
    auto c = [](int64_t i, int64_t o, int64_t s) { return conv3d(i, o, {3, 3, 3}, {s, s, s}, {1, 1, 1}, true); };
    auto act = [] { return Act(0.1); };
    features = register_module("features", torch::nn::Sequential(
        c(1, w, 2), act(), c(w, 2 * w, 1), act(), c(2 * w, 2 * w, 2), act(), c(2 * w, 4 * w, 1), act()));
    head = register_module("head", conv3d(4 * w, classes, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, true));
}

// Inputs are window units in [0, 1]; centring them at 0.5 (-1000 .. 1000 HU -> -0.5 .. 0.5) keeps the first
// layer's activations balanced. Leaky ReLUs keep every unit trainable through the spatial max.
torch::Tensor NoduleNetImpl::logit_map(const torch::Tensor& x) {
    return tap(head.get(), head(run_sequential(features, x - 0.5)));
}

torch::Tensor NoduleNetImpl::forward(const torch::Tensor& x) {
    return std::get<0>(logit_map(x).flatten(2).max(2));
}

}  // namespace ctcf
