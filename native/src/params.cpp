// params.cpp — copying checkpoint tensors into a model by name, with shape checks.
#include "params.h"

#include <cstdio>
#include <sstream>

#include "guard.h"

namespace ctcf {
namespace {

std::string shape_str(at::IntArrayRef s) {
    std::ostringstream o;
    o << "[";
    for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
    o << "]";
    return o.str();
}

at::ScalarType scalar_type(int32_t dtype) {
    switch (dtype) {
        case CTCF_DTYPE_F32: return at::kFloat;
        case CTCF_DTYPE_F64: return at::kDouble;
        case CTCF_DTYPE_F16: return at::kHalf;
        case CTCF_DTYPE_BF16: return at::kBFloat16;
        case CTCF_DTYPE_I64: return at::kLong;
        case CTCF_DTYPE_I32: return at::kInt;
        case CTCF_DTYPE_I16: return at::kShort;
        case CTCF_DTYPE_I8: return at::kChar;
        case CTCF_DTYPE_U8: return at::kByte;
        case CTCF_DTYPE_BOOL: return at::kBool;
        default: throw InvalidArgument("unknown dtype code " + std::to_string(dtype));
    }
}

}  // namespace

void NamedParams::collect(torch::nn::Module& m) {
    list.clear();
    for (auto& p : m.named_parameters(/*recurse=*/true)) list.emplace_back(p.key(), p.value());
    for (auto& b : m.named_buffers(/*recurse=*/true)) list.emplace_back(b.key(), b.value());
}

void NamedParams::info(int64_t index, char* name, size_t cap, int32_t* ndim, int64_t* shape) const {
    require(name, "name");
    require(ndim, "ndim");
    require(shape, "shape");
    if (index < 0 || index >= count()) throw InvalidArgument("parameter index out of range");
    const auto& p = list[static_cast<size_t>(index)];
    std::snprintf(name, cap, "%s", p.first.c_str());
    *ndim = static_cast<int32_t>(p.second.dim());
    for (int64_t d = 0; d < p.second.dim() && d < CTCF_MAX_DIMS; ++d) shape[d] = p.second.size(d);
}

void NamedParams::set(const char* name, int32_t dtype, const void* data, int32_t ndim, const int64_t* shape,
                      const int64_t* strides) {
    require(name, "name");
    require(data, "data");
    if (ndim < 0 || ndim > CTCF_MAX_DIMS) throw InvalidArgument("ndim out of range");
    if (ndim > 0) require(shape, "shape");
    for (auto& p : list) {
        if (p.first != name) continue;
        std::vector<int64_t> sz(shape, shape + ndim);
        if (!p.second.sizes().equals(sz)) {
            throw InvalidArgument(std::string("shape mismatch for ") + name + ": checkpoint " + shape_str(sz) +
                                  ", model " + shape_str(p.second.sizes()));
        }
        auto opts = at::TensorOptions().dtype(scalar_type(dtype));
        at::Tensor src = strides != nullptr
                             ? at::from_blob(const_cast<void*>(data), sz, std::vector<int64_t>(strides, strides + ndim),
                                             opts)
                             : at::from_blob(const_cast<void*>(data), sz, opts);
        torch::NoGradGuard no_grad;
        p.second.copy_(src.to(p.second.scalar_type()));
        return;
    }
    throw InvalidArgument(std::string("the model has no parameter named ") + name);
}

void NamedParams::get(const char* name, float* dst, int64_t numel) const {
    require(name, "name");
    require(dst, "destination");
    for (const auto& p : list) {
        if (p.first != name) continue;
        if (p.second.numel() != numel) {
            throw InvalidArgument(std::string(name) + " has " + std::to_string(p.second.numel()) + " elements, not " +
                                  std::to_string(numel));
        }
        at::from_blob(dst, {numel}, at::kFloat).copy_(p.second.detach().reshape({numel}).to(at::kCPU, at::kFloat));
        return;
    }
    throw InvalidArgument(std::string("the model has no parameter named ") + name);
}

}  // namespace ctcf

// ---- The ABI's named-tensor view (one set of entry points for every kind of object) ------------------------------

CTCF_API int32_t ctcf_params_count(const ctcf_params* p, int64_t* count, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(p, "params");
    ctcf::require(count, "count");
    *count = p->count();
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_params_info(const ctcf_params* p, int64_t index, char* name, size_t name_cap, int32_t* ndim,
                                  int64_t shape[CTCF_MAX_DIMS], ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(p, "params");
    p->info(index, name, name_cap, ndim, shape);
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_params_set(ctcf_params* p, const char* name, int32_t dtype, const void* data, int32_t ndim,
                                 const int64_t* shape, const int64_t* strides, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(p, "params");
    p->set(name, dtype, data, ndim, shape, strides);
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_params_get(const ctcf_params* p, const char* name, float* dst, int64_t numel, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(p, "params");
    p->get(name, dst, numel);
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}
