// train.cpp — training in the kernel: Adam over a model's parameters, the VQ-GAN objective (L1 + VQ loss,
// optional hinge PatchGAN with taming's adaptive weight) and binary cross-entropy for the built-in classifiers.
// The optimiser state is exposed by name so that checkpoints resume exactly.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autoencoder.h"
#include "classifier.h"
#include "context.h"
#include "perceptual.h"
#include "ctcf.h"
#include "guard.h"
#include "params.h"

namespace ctcf {
namespace {

// Adam (Kingma & Ba) with bias correction; weight decay added to the gradient as torch.optim.Adam does.
struct Adam {
    std::vector<std::pair<std::string, at::Tensor>> params;
    std::vector<at::Tensor> m, v;
    double lr = 1e-4, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.0;
    int64_t t = 0;

    void init(std::vector<std::pair<std::string, at::Tensor>> ps) {
        params = std::move(ps);
        for (auto& p : params) {
            m.push_back(torch::zeros_like(p.second));
            v.push_back(torch::zeros_like(p.second));
        }
    }
    void zero_grad() {
        for (auto& p : params) {
            if (p.second.grad().defined()) p.second.mutable_grad() = at::Tensor();
        }
    }
    void step() {
        torch::NoGradGuard no_grad;
        ++t;
        const double c1 = 1.0 - std::pow(b1, static_cast<double>(t));
        const double c2 = 1.0 - std::pow(b2, static_cast<double>(t));
        for (size_t i = 0; i < params.size(); ++i) {
            at::Tensor& p = params[i].second;
            if (!p.grad().defined()) continue;
            at::Tensor g = p.grad();
            if (wd != 0.0) g = g + wd * p;
            m[i].mul_(b1).add_(g, 1.0 - b1);
            v[i].mul_(b2).addcmul_(g, g, 1.0 - b2);
            at::Tensor denom = (v[i] / c2).sqrt_().add_(eps);
            p.addcdiv_(m[i], denom, -lr / c1);
        }
    }
    void expose(NamedParams& state, const std::string& prefix) {
        for (size_t i = 0; i < params.size(); ++i) {
            state.list.emplace_back(prefix + "m." + params[i].first, m[i]);
            state.list.emplace_back(prefix + "v." + params[i].first, v[i]);
        }
    }
};

std::vector<std::pair<std::string, at::Tensor>> trainable(torch::nn::Module& m) {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (auto& p : m.named_parameters(true)) out.emplace_back(p.key(), p.value());
    return out;
}

// taming's NLayerDiscriminator (PatchGAN, BatchNorm) with its weights_init.
struct PatchGanImpl : torch::nn::Module {
    torch::nn::Sequential main{nullptr};
    PatchGanImpl(int64_t in, int64_t ndf, int32_t layers) {
        auto c = [](int64_t i, int64_t o, int64_t s, bool bias) {
            return torch::nn::Conv2d(torch::nn::Conv2dOptions(i, o, 4).stride(s).padding(1).bias(bias));
        };
        auto lrelu = [] { return torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2)); };
        torch::nn::Sequential s;
        s->push_back(c(in, ndf, 2, true));
        s->push_back(lrelu());
        int64_t mult = 1;
        for (int32_t n = 1; n <= layers; ++n) {
            const int64_t prev = mult;
            mult = std::min<int64_t>(int64_t{1} << n, 8);
            s->push_back(c(ndf * prev, ndf * mult, n == layers ? 1 : 2, false));
            s->push_back(torch::nn::BatchNorm2d(ndf * mult));
            s->push_back(lrelu());
        }
        s->push_back(c(ndf * mult, 1, 1, true));
        main = register_module("main", s);
        torch::NoGradGuard no_grad;
        for (auto& m : modules(/*include_self=*/false)) {
            if (auto* conv = m->as<torch::nn::Conv2dImpl>()) {
                conv->weight.normal_(0.0, 0.02);
            } else if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
                bn->weight.normal_(1.0, 0.02);
                bn->bias.zero_();
            }
        }
    }
    at::Tensor forward(const at::Tensor& x) { return main->forward(x); }
};
TORCH_MODULE(PatchGan);

}  // namespace
}  // namespace ctcf

struct ctcf_trainer {
    ctcf_autoencoder* ae = nullptr;
    ctcf_classifier* clf = nullptr;
    ctcf_slice_wrapper wrapper{};
    ctcf_train_options opt{};
    ctcf::Adam gen;
    ctcf::Adam disc_opt;
    ctcf::PatchGan disc{nullptr};
    at::Tensor step;  // float32 [1]: steps done (exact up to 2^24)
    at::Tensor usage; // float32 [n_embed]: how often each code was chosen since the last restart
    ctcf_params state;
    c10::Device device{c10::kCPU};
    ctcf_perceptual* perceptual = nullptr;  // borrowed (ctcf_trainer_set_perceptual)
    double perceptual_weight = 0.0;

    void build_state() {
        state.list.clear();
        state.list.emplace_back("step", step);
        if (usage.defined()) state.list.emplace_back("code_usage", usage);
        gen.expose(state, "adam.");
        if (disc) {
            for (auto& p : disc->named_parameters(true)) state.list.emplace_back("disc." + p.key(), p.value());
            for (auto& b : disc->named_buffers(true)) state.list.emplace_back("disc." + b.key(), b.value());
            disc_opt.expose(state, "disc_adam.");
        }
    }
    int64_t steps_done() const { return static_cast<int64_t>(step.item<float>()); }
};

namespace {

using ctcf::InvalidArgument;

void check_options(const ctcf_train_options* o) {
    ctcf::require(o, "train options");
    auto finite_pos = [](double v) { return std::isfinite(v) && v > 0.0; };
    if (!finite_pos(o->learning_rate) || !finite_pos(o->disc_learning_rate)) {
        throw InvalidArgument("learning rates must be finite and > 0");
    }
    if (!(o->beta1 >= 0.0 && o->beta1 < 1.0 && o->beta2 >= 0.0 && o->beta2 < 1.0)) {
        throw InvalidArgument("Adam betas must be in [0, 1)");
    }
    if (!(o->weight_decay >= 0.0) || !(o->codebook_weight >= 0.0) || !(o->commitment >= 0.0) ||
        !(o->disc_weight >= 0.0) || !std::isfinite(o->weight_decay + o->codebook_weight + o->commitment + o->disc_weight)) {
        throw InvalidArgument("loss weights must be finite and >= 0");
    }
    if (o->code_restart_every < 0) throw InvalidArgument("code_restart_every must be >= 0");
    if (!(o->label_smoothing >= 0.0 && o->label_smoothing < 1.0)) {
        throw InvalidArgument("label_smoothing must be in [0, 1)");
    }
    if (o->disc_start >= 0 && (o->disc_channels < 1 || o->disc_channels > 1024 || o->disc_layers < 1 ||
                               o->disc_layers > 6)) {
        throw InvalidArgument("discriminator: channels 1..1024 and layers 1..6");
    }
}

void setup_adam(ctcf::Adam& a, double lr, const ctcf_train_options& o) {
    a.lr = lr;
    a.b1 = o.beta1;
    a.b2 = o.beta2;
    a.wd = o.weight_decay;
}

at::Tensor from_caller(const float* data, int32_t ndim, const int64_t* shape, int32_t want, const char* what,
                       c10::Device device) {
    ctcf::require(data, what);
    ctcf::require(shape, "shape");
    if (ndim != want) {
        throw InvalidArgument(std::string(what) + " must have " + std::to_string(want) + " dimensions, got " +
                              std::to_string(ndim));
    }
    std::vector<int64_t> s(shape, shape + ndim);
    for (int64_t d : s) {
        if (d < 1 || d > (int64_t{1} << 31)) throw InvalidArgument(std::string(what) + ": every size must be >= 1");
    }
    at::Tensor t = torch::from_blob(const_cast<float*>(data), s, torch::kFloat32).clone();
    if (!torch::isfinite(t).all().item<bool>()) throw InvalidArgument(std::string(what) + " holds NaN or Inf");
    return t.to(device);
}

// Adaptive generator weight: |grad nll| / (|grad g| + 1e-4) at the decoder's last layer, clamped to [0, 1e4].
at::Tensor adaptive_weight(const at::Tensor& nll, const at::Tensor& g, const at::Tensor& last) {
    auto gn = torch::autograd::grad({nll}, {last}, {}, /*retain_graph=*/true)[0];
    auto gg = torch::autograd::grad({g}, {last}, {}, /*retain_graph=*/true)[0];
    at::Tensor w = torch::norm(gn) / (torch::norm(gg) + 1e-4);
    return torch::clamp(w, 0.0, 1e4).detach();
}

void step_autoencoder(ctcf_trainer& t, const at::Tensor& slices, ctcf_train_stats& st) {
    auto& model = t.ae->model;
    model->train();
    at::Tensor x = ctcf::to_model_input(*t.ae, t.wrapper, slices);
    at::Tensor qloss, idx;
    at::Tensor z = model->encode_continuous(x);
    at::Tensor zq = model->quantize->forward_with_loss(z, t.opt.commitment, &qloss, &idx);
    at::Tensor xrec = model->decode(zq);
    at::Tensor rec = torch::abs(x - xrec).mean();
    // taming's nll: mean |x - x_rec| plus the weighted LPIPS distance; the adaptive weight balances it.
    at::Tensor nll = rec;
    at::Tensor perceptual;
    if (t.perceptual != nullptr && t.perceptual_weight != 0.0) {
        perceptual = t.perceptual->net->forward(x.contiguous(), xrec.contiguous()).mean();
        nll = rec + t.perceptual_weight * perceptual;
    }
    at::Tensor loss = nll + t.opt.codebook_weight * qloss;
    const int64_t done = t.steps_done();
    const bool gan = t.disc && done >= t.opt.disc_start;
    double gen_v = 0.0, w_v = 0.0, d_v = 0.0;
    if (gan) {
        t.disc->eval();  // the generator step reads D without updating its batch statistics
        for (auto& p : t.disc->parameters()) p.set_requires_grad(false);
        at::Tensor g = -t.disc->forward(xrec).mean();
        at::Tensor w = adaptive_weight(nll, g, model->decoder->conv_out->weight) * t.opt.disc_weight;
        loss = loss + w * g;
        gen_v = g.item<double>();
        w_v = w.item<double>();
        for (auto& p : t.disc->parameters()) p.set_requires_grad(true);
    }
    t.gen.zero_grad();
    loss.backward();
    t.gen.step();
    if (gan) {
        t.disc->train();
        t.disc_opt.zero_grad();
        at::Tensor real = t.disc->forward(x.detach());
        at::Tensor fake = t.disc->forward(xrec.detach());
        at::Tensor d = 0.5 * (torch::relu(1.0 - real).mean() + torch::relu(1.0 + fake).mean());
        d.backward();
        t.disc_opt.step();
        d_v = d.item<double>();
    }
    if (t.opt.code_restart_every > 0) {
        torch::NoGradGuard no_grad;
        t.usage.index_add_(0, idx, torch::ones({idx.numel()}, t.usage.options()));
        if ((done + 1) % t.opt.code_restart_every == 0) {
            at::Tensor dead = (t.usage == 0).nonzero().flatten();
            if (dead.numel() > 0) {
                at::Tensor zf = z.detach().permute({0, 2, 3, 1}).reshape({-1, z.size(1)});
                // A generator seeded by the step: a resumed run restarts the same codes as an uninterrupted one.
                auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(done + 1));
                at::Tensor pick = at::randint(zf.size(0), {dead.numel()}, gen, torch::kLong).to(zf.device());
                at::Tensor jitter = at::randn({dead.numel(), zf.size(1)}, gen, torch::kFloat32).to(zf.device());
                at::Tensor& e = model->quantize->embedding->weight;
                e.index_copy_(0, dead, zf.index_select(0, pick) + 1e-3 * jitter);
            }
            t.usage.zero_();
        }
    }
    model->eval();
    st.loss = loss.item<double>();
    st.reconstruction = rec.item<double>();
    st.codebook = qloss.item<double>();
    st.generator = gen_v;
    st.adaptive_weight = w_v;
    st.discriminator = d_v;
    st.codes_used = std::get<0>(at::_unique(idx.cpu())).numel();
    st.perceptual = perceptual.defined() ? perceptual.item<double>() : 0.0;
}

at::Tensor resize_to(const at::Tensor& y, at::IntArrayRef size) {
    if (y.sizes().slice(2) == size) return y;
    return torch::nn::functional::interpolate(
        y, torch::nn::functional::InterpolateFuncOptions()
               .size(std::vector<int64_t>(size.begin(), size.end()))
               .mode(torch::kTrilinear)
               .align_corners(false));
}

void step_classifier(ctcf_trainer& t, const at::Tensor& vols, const at::Tensor& target, ctcf_train_stats& st) {
    t.clf->net->train();
    at::Tensor y = target;
    if ((y.min().item<double>() < 0.0) || (y.max().item<double>() > 1.0)) {
        throw InvalidArgument("targets must lie in [0, 1]");
    }
    at::Tensor loss;
    if (t.clf->net_dense && y.dim() == 4) {
        // Dense supervision of a pooled detector: BCE on its logit map (positives weighted by the map's
        // imbalance) plus BCE of the pooled logit against "the map has a positive".
        if (t.clf->input_nx > 0 || t.clf->layout != CTCF_LAYOUT_BCDHW) {
            throw InvalidArgument("dense targets need the BCDHW layout and no input resize");
        }
        if (y.size(0) != vols.size(0)) throw InvalidArgument("map targets must be [B, D, ny, nx]");
        at::Tensor map = t.clf->net_dense(vols.unsqueeze(1));  // [B, 1, d, h, w]
        at::Tensor ym = resize_to(y.unsqueeze(1), map.sizes().slice(2));
        const double pos = ym.sum().item<double>();
        const double weight = pos > 0 ? std::min(100.0, (static_cast<double>(ym.numel()) - pos) / pos) : 1.0;
        at::Tensor w = 1.0 + (weight - 1.0) * ym;
        // the weighted mean: nodule and background voxels count about equally
        // label smoothing moves the targets (not the weights) towards 1/2: logits stay bounded
        const double e = t.opt.label_smoothing;
        at::Tensor dense = (torch::binary_cross_entropy_with_logits(map, ym * (1.0 - e) + e / 2, w, {},
                                                                    at::Reduction::None)).sum() / w.sum();
        at::Tensor pooled = std::get<0>(map.flatten(2).max(2));
        at::Tensor label = (y.flatten(1).amax(1, true) >= 0.5).to(pooled.dtype());
        loss = dense + torch::binary_cross_entropy_with_logits(pooled, label * (1.0 - e) + e / 2);
    } else {
        at::Tensor out = ctcf::classifier_outputs(*t.clf, vols);
        if (out.dim() == 2) {
            if (y.dim() != 2 || y.size(0) != out.size(0) || y.size(1) != out.size(1)) {
                throw InvalidArgument("targets must be [B, classes] = [" + std::to_string(out.size(0)) + ", " +
                                      std::to_string(out.size(1)) + "]");
            }
        } else {
            if (out.size(1) != 1) throw InvalidArgument("map targets need a one-channel segmentation output");
            if (y.dim() != 4 || y.size(0) != out.size(0)) throw InvalidArgument("map targets must be [B, D, ny, nx]");
            y = resize_to(y.unsqueeze(1), out.sizes().slice(2));
        }
        loss = torch::binary_cross_entropy_with_logits(out, y * (1.0 - t.opt.label_smoothing) +
                                                                 t.opt.label_smoothing / 2);
    }
    t.gen.zero_grad();
    loss.backward();
    t.gen.step();
    t.clf->net->eval();
    st.loss = loss.item<double>();
}

}  // namespace

CTCF_API void ctcf_train_options_default(ctcf_train_options* o) {
    if (o == nullptr) return;
    *o = ctcf_train_options{};
    o->learning_rate = 1e-4;
    o->beta1 = 0.5;
    o->beta2 = 0.9;
    o->weight_decay = 0.0;
    o->codebook_weight = 1.0;
    o->commitment = 0.25;
    o->disc_weight = 0.8;
    o->disc_learning_rate = 1e-4;
    o->disc_start = -1;
    o->disc_channels = 64;
    o->disc_layers = 3;
    o->code_restart_every = 0;
    o->label_smoothing = 0.0;
}

CTCF_API int32_t ctcf_manual_seed(uint64_t seed, ctcf_error* err) {
    CTCF_API_BEGIN
    torch::manual_seed(seed);
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_trainer_create_autoencoder(ctcf_context* ctx, ctcf_autoencoder* ae,
                                                 const ctcf_slice_wrapper* wrapper, const ctcf_train_options* options,
                                                 ctcf_trainer** out, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(ctx, "context");
    ctcf::require(ae, "autoencoder");
    ctcf::require(out, "out");
    *out = nullptr;
    ctcf::check_wrapper(wrapper);
    check_options(options);
    if (ae->device != ctx->device) throw InvalidArgument("the autoencoder is not on the context's device");
    if (ae->model->config.in_channels != ae->model->config.out_ch) {
        throw InvalidArgument("training needs in_channels == out_ch");
    }
    auto t = std::make_unique<ctcf_trainer>();
    t->ae = ae;
    t->wrapper = *wrapper;
    t->opt = *options;
    t->device = ctx->device;
    for (auto& p : ae->model->parameters()) p.set_requires_grad(true);
    setup_adam(t->gen, options->learning_rate, *options);
    t->gen.init(ctcf::trainable(*ae->model));
    if (options->disc_start >= 0) {
        t->disc = ctcf::PatchGan(ae->model->config.out_ch, options->disc_channels, options->disc_layers);
        t->disc->to(ctx->device);
        setup_adam(t->disc_opt, options->disc_learning_rate, *options);
        t->disc_opt.init(ctcf::trainable(*t->disc));
    }
    t->step = torch::zeros({1}, torch::kFloat32).to(ctx->device);
    if (options->code_restart_every > 0) {
        t->usage = torch::zeros({ae->model->config.n_embed}, torch::kFloat32).to(ctx->device);
    }
    t->build_state();
    *out = t.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_trainer_create_classifier(ctcf_context* ctx, ctcf_classifier* clf,
                                                const ctcf_train_options* options, ctcf_trainer** out,
                                                ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(ctx, "context");
    ctcf::require(clf, "classifier");
    ctcf::require(out, "out");
    *out = nullptr;
    check_options(options);
    if (clf->scripted || !clf->net) throw ctcf::Unsupported("only built-in classifiers can be trained");
    if (clf->device != ctx->device) throw InvalidArgument("the classifier is not on the context's device");
    auto t = std::make_unique<ctcf_trainer>();
    t->clf = clf;
    t->opt = *options;
    t->device = ctx->device;
    for (auto& p : clf->net->parameters()) p.set_requires_grad(true);
    setup_adam(t->gen, options->learning_rate, *options);
    t->gen.init(ctcf::trainable(*clf->net));
    t->step = torch::zeros({1}, torch::kFloat32).to(ctx->device);
    t->build_state();
    *out = t.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_trainer_set_perceptual(ctcf_trainer* t, ctcf_perceptual* p, double weight, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(t, "trainer");
    if (t->ae == nullptr) throw ctcf::InvalidArgument("a perceptual loss needs an autoencoder trainer");
    if (!std::isfinite(weight) || weight < 0) throw ctcf::InvalidArgument("the perceptual weight must be >= 0");
    if (p != nullptr && p->device != t->device) {
        throw ctcf::InvalidArgument("the perceptual model (" + p->device.str() + ") and the trainer (" +
                                    t->device.str() + ") must be on the same device");
    }
    if (p != nullptr && t->ae->model->encoder->conv_in->weight.size(1) != 1 &&
        t->ae->model->encoder->conv_in->weight.size(1) != 3) {
        throw ctcf::InvalidArgument("LPIPS compares 1- or 3-channel images");
    }
    t->perceptual = p;
    t->perceptual_weight = p == nullptr ? 0.0 : weight;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_trainer_step(ctcf_context* ctx, ctcf_trainer* t, const float* x, int32_t x_ndim,
                                   const int64_t* x_shape, const float* y, int32_t y_ndim, const int64_t* y_shape,
                                   ctcf_train_stats* stats, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(ctx, "context");
    ctcf::require(t, "trainer");
    ctcf::require(stats, "stats");
    if (ctx->device != t->device) throw InvalidArgument("the trainer lives on another device than the context");
    ctx->check_cancelled();
    *stats = ctcf_train_stats{};
    // Steps are restored as floats from checkpoints; Adam's t follows the stored count.
    t->gen.t = t->steps_done();
    t->disc_opt.t = t->gen.t;
    if (t->ae != nullptr) {
        if (y != nullptr) throw InvalidArgument("the autoencoder takes no targets");
        at::Tensor s = from_caller(x, x_ndim, x_shape, 3, "slices", t->device);
        step_autoencoder(*t, s, *stats);
    } else {
        at::Tensor v = from_caller(x, x_ndim, x_shape, 4, "volumes", t->device);
        ctcf::require(y, "targets");
        at::Tensor target = from_caller(y, y_ndim, y_shape, y_ndim, "targets", t->device);
        step_classifier(*t, v, target, *stats);
    }
    {
        torch::NoGradGuard no_grad;
        t->step.add_(1.0);
    }
    if (!std::isfinite(stats->loss)) throw std::runtime_error("the loss is not finite (diverged); lower the learning rate");
    stats->step = t->steps_done();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_trainer_state(ctcf_trainer* t, ctcf_params** out, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(t, "trainer");
    ctcf::require(out, "out");
    *out = &t->state;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API void ctcf_trainer_free(ctcf_trainer* t) {
    if (t == nullptr) return;
    try {
        if (t->clf != nullptr && t->clf->net) {
            for (auto& p : t->clf->net->parameters()) p.set_requires_grad(false);
            t->clf->net->eval();
        }
        if (t->ae != nullptr) t->ae->model->eval();
    } catch (...) {
    }
    delete t;
}
