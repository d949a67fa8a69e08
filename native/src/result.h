// result.h — what ctcf_explain and ctcf_sweep hand back (the opaque ctcf_result of ctcf.h); result.cpp reads it out.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "ctcf.h"

struct ctcf_result {
    ctcf_result_info info{};
    std::vector<double> lambdas, predictions, search_lambdas, search_predictions, slice_prediction, slice_change;
    std::vector<ctcf_chunk_row> chunks;
    at::Tensor frames;          // [steps, D, H, W] float CPU (single chunk)
    at::Tensor heatmap;         // [D, H, W]
    at::Tensor reconstruction;  // [D, H, W]
    at::Tensor counterfactual;  // [D, H, W]
    std::unique_ptr<ctcf_result> focus;  // a sweep's explanation of its rank-1 chunk (focus_frames > 0)
    int64_t focus_start = 0, focus_end = 0;
};
