// volume.h — a caller's ctcf_volume as a [nz, ny, nx] tensor view, behind the one set of checks every entry point
// applies to it.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "ctcf.h"
#include "guard.h"

namespace ctcf {

// Largest voxel count one volume may have (2^34, 64 GiB of float32): far beyond any CT, small enough that no
// product of dims in the arithmetic on it can overflow int64.
constexpr int64_t kMaxVoxels = int64_t{1} << 34;

// Checks a volume descriptor: not NULL, voxels not NULL (unless need_data is false: only its dims are read),
// dims >= 1, at most kMaxVoxels voxels. Messages start with `what` (e.g. "input volume"). Throws InvalidArgument.
inline void check_volume(const ctcf_volume* v, const char* what, bool need_data = true) {
    if (v == nullptr) throw InvalidArgument(std::string(what) + " is NULL");
    if (need_data && v->data == nullptr) throw InvalidArgument(std::string(what) + ": voxel pointer is NULL");
    int64_t total = 1;
    for (int a = 0; a < 3; ++a) {
        if (v->dims[a] < 1) {
            throw InvalidArgument(std::string(what) + ": dim " + "xyz"[a] + " = " + std::to_string(v->dims[a]) +
                                  " (must be >= 1)");
        }
        if (v->dims[a] > kMaxVoxels / total) throw InvalidArgument(std::string(what) + ": voxel count exceeds 2^34");
        total *= v->dims[a];
    }
}

// The voxels as a [nz, ny, nx] float tensor over the caller's memory (no copy: valid only during the call), after
// check_volume.
inline at::Tensor volume_view(const ctcf_volume* v, const char* what) {
    check_volume(v, what);
    return at::from_blob(v->data, {v->dims[2], v->dims[1], v->dims[0]}, at::kFloat);
}

}  // namespace ctcf
