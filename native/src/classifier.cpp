// classifier.cpp — TorchScript classifiers: loading, defining from source, running on volumes in a layout.
#include "classifier.h"

#include <c10/core/InferenceMode.h>

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "context.h"
#include "guard.h"

namespace ctcf {
namespace {

void require(const void* p, const char* what) {
    if (p == nullptr) throw InvalidArgument(std::string(what) + " is NULL");
}

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

at::Tensor classifier_outputs(ctcf_classifier& clf, const at::Tensor& volumes) {
    TORCH_CHECK(volumes.dim() == 4, "classifier input must be [K, D, H, W], got ", volumes.sizes());
    const int64_t k = volumes.size(0);
    const int64_t step = clf.max_batch > 0 ? clf.max_batch : k;
    std::vector<at::Tensor> outs;
    for (int64_t s = 0; s < k; s += step) {
        at::Tensor v = volumes.slice(0, s, std::min(k, s + step));
        at::Tensor in = clf.layout == CTCF_LAYOUT_BCHWD ? v.permute({0, 3, 2, 1}) : v;  // [k, nx, ny, nz]
        in = in.unsqueeze(1);
        at::Tensor out = clf.module.forward({in}).toTensor();
        if (out.dim() == 1) out = out.unsqueeze(1);
        TORCH_CHECK(out.dim() == 2 && out.size(0) == in.size(0), "the classifier must return [batch, classes], got ",
                    out.sizes(), " for an input of ", in.sizes());
        outs.push_back(out);
    }
    return outs.size() == 1 ? outs[0] : at::cat(outs, 0);
}

at::Tensor classifier_score(ctcf_classifier& clf, const ctcf_score_spec& spec, const at::Tensor& volumes) {
    at::Tensor out = classifier_outputs(clf, volumes);
    TORCH_CHECK(spec.target >= 0 && spec.target < out.size(1), "target index ", spec.target,
                " is outside the classifier's ", out.size(1), " outputs");
    at::Tensor s = out.select(1, spec.target).to(at::kDouble) + spec.offset;
    if (spec.apply_sigmoid) s = torch::sigmoid(s);
    return s;
}

void check_score_spec(const ctcf_score_spec* spec) {
    require(spec, "score spec");
    if (spec->target < 0) throw InvalidArgument("target index must be >= 0");
    if (!std::isfinite(spec->offset)) throw InvalidArgument("score offset must be finite");
}

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
    CTCF_API_BEGIN
    ctcf::require(source, "source");
    ctcf::require(out, "out");
    *out = nullptr;
    ctcf::check_layout(layout);
    if (max_batch < 0) throw ctcf::InvalidArgument("max_batch must be >= 0");
    auto c = std::make_unique<ctcf_classifier>();
    c->module = torch::jit::Module("__torch__.ctcf.DefinedClassifier");
    try {
        c->module.define(source);
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        throw ctcf::InvalidArgument(std::string("the TorchScript source does not compile: ") + e.what());
    }
    c->layout = layout;
    c->max_batch = max_batch;
    ctcf::prepare(*c);
    *out = c.release();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_classifier_save(const ctcf_classifier* clf, const char* path, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(clf, "classifier");
    ctcf::require(path, "path");
    clf->module.save(path);
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_classifier_to(ctcf_classifier* clf, ctcf_context* ctx, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(clf, "classifier");
    ctcf::require(ctx, "context");
    clf->module.to(ctx->device);
    clf->device = ctx->device;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API void ctcf_classifier_free(ctcf_classifier* clf) { delete clf; }

CTCF_API int32_t ctcf_classifier_predict(ctcf_context* ctx, ctcf_classifier* clf, const ctcf_volume* in, float* out,
                                         int64_t cap, int64_t* count, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(ctx, "context");
    ctcf::require(clf, "classifier");
    ctcf::require(in, "volume");
    ctcf::require(in->data, "voxels");
    ctcf::require(count, "count");
    if (clf->device != ctx->device) throw ctcf::InvalidArgument("classifier and context are on different devices");
    c10::InferenceMode guard;
    at::Tensor v = at::from_blob(in->data, {1, in->dims[2], in->dims[1], in->dims[0]}, at::kFloat).to(ctx->device);
    at::Tensor o = ctcf::classifier_outputs(*clf, v).to(at::kCPU, at::kFloat).contiguous();
    *count = o.size(1);
    if (out != nullptr) {
        const int64_t n = std::min(cap, o.size(1));
        std::memcpy(out, o.data_ptr<float>(), static_cast<size_t>(n) * sizeof(float));
    }
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

}  // extern "C"
