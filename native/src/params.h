// params.h — a model's parameters and buffers by state_dict name: listing, copying in from caller memory
// (any dtype, strides) and out. Shared by the autoencoder and the built-in classifiers.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "ctcf.h"

namespace ctcf {

struct NamedParams {
    std::vector<std::pair<std::string, torch::Tensor>> list;  // parameters, then buffers (registration order)

    void collect(torch::nn::Module& m);
    int64_t count() const { return static_cast<int64_t>(list.size()); }
    void info(int64_t index, char* name, size_t cap, int32_t* ndim, int64_t* shape) const;
    void set(const char* name, int32_t dtype, const void* data, int32_t ndim, const int64_t* shape,
             const int64_t* strides);
    void get(const char* name, float* dst, int64_t numel) const;
};

}  // namespace ctcf

// The ABI's ctcf_params: the named tensors of one object, owned by it (see ctcf.h).
struct ctcf_params : ctcf::NamedParams {};
