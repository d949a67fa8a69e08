// classifier_load.cpp — making a classifier: TorchScript loaded from a file or defined from source (with nested
// submodules), or one of the built-in architectures; its settings (input size, orientation), device, parameters.
#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "builtin.h"
#include "classifier.h"
#include "context.h"
#include "ctcf.h"
#include "guard.h"

namespace ctcf {
namespace {

void check_layout(int32_t layout) {
    if (layout != CTCF_LAYOUT_BCDHW && layout != CTCF_LAYOUT_BCHWD) {
        throw InvalidArgument("unknown classifier layout " + std::to_string(layout));
    }
}

void prepare(ctcf_classifier& c) {
    c.module.eval();
    for (auto p : c.module.parameters()) p.set_requires_grad(false);
}

}  // namespace

}  // namespace ctcf

extern "C" {

CTCF_API int32_t ctcf_classifier_load(const char* path, int32_t layout, int64_t max_batch, ctcf_classifier** out,
                                      ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(path, "path");
    ctcf::require(out, "out");
    *out = nullptr;
    ctcf::check_layout(layout);
    if (max_batch < 0) throw ctcf::InvalidArgument("max_batch must be >= 0");
    auto c = std::make_unique<ctcf_classifier>();
    try {
        c->module = torch::jit::load(path, c10::Device(c10::kCPU));
    } catch (const c10::Error& e) {
        throw ctcf::InvalidArgument(std::string("cannot load TorchScript classifier ") + path + ": " +
                                    e.what_without_backtrace());
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        throw ctcf::InvalidArgument(std::string("cannot load TorchScript classifier ") + path + ": " + e.what());
    }
    c->layout = layout;
    c->max_batch = max_batch;
    ctcf::prepare(*c);
    *out = c.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_classifier_define(const char* source, int32_t layout, int64_t max_batch, ctcf_classifier** out,
                                        ctcf_error* err) {
    return ctcf_classifier_define_nested(source, nullptr, nullptr, 0, layout, max_batch, out, err);
}

CTCF_API int32_t ctcf_classifier_define_nested(const char* source, const char* const* names,
                                               const char* const* sources, int32_t count, int32_t layout,
                                               int64_t max_batch, ctcf_classifier** out, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(source, "source");
    ctcf::require(out, "out");
    *out = nullptr;
    ctcf::check_layout(layout);
    if (max_batch < 0) throw ctcf::InvalidArgument("max_batch must be >= 0");
    if (count < 0) throw ctcf::InvalidArgument("count must be >= 0");
    if (count > 0) {
        ctcf::require(names, "names");
        ctcf::require(sources, "sources");
    }
    auto compile = [](torch::jit::Module& m, const char* src, const std::string& what) {
        try {
            m.define(src);
        } catch (const std::bad_alloc&) {
            throw;
        } catch (const std::exception& e) {
            throw ctcf::InvalidArgument("the TorchScript source" + what + " does not compile: " + e.what());
        }
    };
    // Submodules deepest first: each is compiled once its own submodules are registered, then registered in its
    // parent (compiled later).
    std::map<std::string, torch::jit::Module> modules;
    std::vector<std::pair<std::string, const char*>> subs;
    for (int32_t i = 0; i < count; ++i) {
        ctcf::require(names[i], "submodule name");
        ctcf::require(sources[i], "submodule source");
        const std::string name = names[i];
        bool ok = !name.empty() && name.front() != '.' && name.back() != '.' && name.find("..") == std::string::npos;
        for (char ch : name) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.');
        if (!ok) throw ctcf::InvalidArgument("bad submodule name '" + name + "' (dotted identifiers, e.g. features.0)");
        if (modules.count(name) != 0) throw ctcf::InvalidArgument("submodule '" + name + "' is given twice");
        modules.emplace(name, torch::jit::Module("__torch__.ctcf.DefinedSubmodule" + std::to_string(i)));
        subs.emplace_back(name, sources[i]);
    }
    auto depth = [](const std::string& n) { return std::count(n.begin(), n.end(), '.'); };
    std::stable_sort(subs.begin(), subs.end(), [&](const auto& a, const auto& b) { return depth(a.first) > depth(b.first); });
    auto c = std::make_unique<ctcf_classifier>();
    c->module = torch::jit::Module("__torch__.ctcf.DefinedClassifier");
    for (const auto& [name, src] : subs) {
        torch::jit::Module& m = modules.at(name);
        compile(m, src, " of submodule '" + name + "'");
        const auto dot = name.rfind('.');
        torch::jit::Module* parent = &c->module;
        if (dot != std::string::npos) {
            auto it = modules.find(name.substr(0, dot));
            if (it == modules.end()) {
                throw ctcf::InvalidArgument("submodule '" + name + "' has no parent '" + name.substr(0, dot) + "'");
            }
            parent = &it->second;
        }
        parent->register_module(dot == std::string::npos ? name : name.substr(dot + 1), m);
    }
    compile(c->module, source, "");
    c->layout = layout;
    c->max_batch = max_batch;
    ctcf::prepare(*c);
    *out = c.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_classifier_builtin(const char* architecture, int64_t classes, int32_t layout, int64_t max_batch,
                                         ctcf_classifier** out, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(architecture, "architecture");
    ctcf::require(out, "out");
    *out = nullptr;
    ctcf::check_layout(layout);
    if (classes < 1 || classes > 100000) throw ctcf::InvalidArgument("classes must be in 1..100000");
    if (max_batch < 0) throw ctcf::InvalidArgument("max_batch must be >= 0");
    auto c = std::make_unique<ctcf_classifier>();
    const std::string arch = architecture;
    if (arch == "lungmask-unet") {
        ctcf::LungmaskUNet m(classes);
        c->net = m.ptr();
        c->net_forward = [m](const at::Tensor& x) mutable { return m->forward(x); };
        c->per_slice = true;
        c->cam_layer = "up_path.3";
    } else if (arch == "i3resnet152") {
        ctcf::I3ResNet m(classes);
        c->net = m.ptr();
        c->net_forward = [m](const at::Tensor& x) mutable { return m->forward(x); };
        c->cam_layer = "layer4";
        c->cam_axes = {0, 2, 1};  // the network permutes its [x, y, z] input to [z, x, y]
    } else if (arch == "ctcf-lungseg") {
        ctcf::LungSegNet m(16, classes);
        c->net = m.ptr();
        c->net_forward = [m](const at::Tensor& x) mutable { return m->forward(x); };
        c->per_slice = true;
        c->cam_layer = "dec1";
    } else if (arch == "ctcf-nodule3d" || arch.rfind("ctcf-nodule3d-w", 0) == 0) {
        // ctcf-nodule3d has 8 base channels (8, 16, 16, 32); ctcf-nodule3d-wN has N (N, 2N, 2N, 4N), N in 4..64
        int64_t width = 8;
        if (arch != "ctcf-nodule3d") {
            const std::string n = arch.substr(15);
            if (n.empty() || n.size() > 2 || n.find_first_not_of("0123456789") != std::string::npos ||
                std::stoi(n) < 4 || std::stoi(n) > 64) {
                throw ctcf::InvalidArgument("architecture '" + arch + "': the width after -w must be 4..64");
            }
            width = std::stoi(n);
        }
        ctcf::NoduleNet m(width, classes);
        c->net = m.ptr();
        c->net_forward = [m](const at::Tensor& x) mutable { return m->forward(x); };
        c->net_dense = [m](const at::Tensor& x) mutable { return m->logit_map(x); };
        c->cam_layer = "features";
        // 3^3 convolutions with depth strides 2, 1, 2, 1 (padding 1), then 1^3: output i reads input 4i-9 .. 4i+9
        c->dense_stride = 4;
        c->dense_halo = 9;
    } else {
        throw ctcf::InvalidArgument("unknown architecture '" + arch +
                                    "' (lungmask-unet, i3resnet152, ctcf-lungseg, ctcf-nodule3d, ctcf-nodule3d-wN)");
    }
    c->scripted = false;
    c->net->eval();
    c->params.collect(*c->net);
    for (auto& p : c->net->parameters()) p.set_requires_grad(false);
    c->layout = layout;
    c->max_batch = max_batch;
    *out = c.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_classifier_set_input_size(ctcf_classifier* clf, int64_t nx, int64_t ny, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(clf, "classifier");
    if (nx < 0 || ny < 0 || nx > 8192 || ny > 8192 || (nx == 0) != (ny == 0)) {
        throw ctcf::InvalidArgument("input size must be 0 x 0 or two sizes in 1..8192");
    }
    clf->input_nx = nx;
    clf->input_ny = ny;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_classifier_set_orientation(ctcf_classifier* clf, int32_t orientation, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(clf, "classifier");
    if (orientation != CTCF_ORIENTATION_RAS && orientation != CTCF_ORIENTATION_DISPLAY) {
        throw ctcf::InvalidArgument("unknown classifier orientation " + std::to_string(orientation));
    }
    if (orientation == CTCF_ORIENTATION_DISPLAY && !clf->cam_axes.empty()) {
        throw ctcf::InvalidArgument("this built-in reorders its input axes itself; it takes the RAS orientation only");
    }
    clf->orientation = orientation;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_classifier_save(const ctcf_classifier* clf, const char* path, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(clf, "classifier");
    ctcf::require(path, "path");
    if (!clf->scripted) throw ctcf::Unsupported("a built-in classifier is saved as a state_dict, not TorchScript");
    clf->module.save(path);
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_classifier_to(ctcf_classifier* clf, ctcf_context* ctx, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(clf, "classifier");
    ctcf::require(ctx, "context");
    if (clf->scripted) {
        clf->module.to(ctx->device);
    } else {
        clf->net->to(ctx->device);
        clf->params.collect(*clf->net);
    }
    clf->device = ctx->device;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_classifier_params(ctcf_classifier* clf, ctcf_params** out, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(clf, "classifier");
    ctcf::require(out, "out");
    *out = &clf->params;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API void ctcf_classifier_free(ctcf_classifier* clf) { delete clf; }

}  // extern "C"
