// result.h — what ctcf_explain and ctcf_sweep hand back (the opaque ctcf_result of ctcf.h); result.cpp reads it out.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "ctcf.h"

struct ctcf_result {
    ctcf_result_info info{};
    std::vector<double> lambdas, predictions, search_lambdas, search_predictions, slice_prediction, slice_change,
        slice_change_squared, counterfactual_chunks;
    std::vector<ctcf_chunk_row> chunks;
    // The sweep frames of one chunk (single chunk and focus): [steps, d, H, W] float CPU for slices
    // [frames_z0, frames_z0 + d); every other slice of a frame is the reconstruction's, composed when read, so a
    // result holds one chunk per frame instead of a volume per frame (fast mode: d = the chunk; the reference mode
    // re-decodes every slice at every step, so there d is the whole depth).
    at::Tensor frames;
    int64_t frames_z0 = 0;
    at::Tensor heatmap;         // [D, H, W]
    at::Tensor reconstruction;  // [D, H, W]
    at::Tensor counterfactual;  // [D, H, W] (sweep: ctcf_stitch's counterfactual; single chunk: frame 0, composed)
    at::Tensor stitched, stitched_heatmap;  // [D, H, W] sweep: the display mosaic of every chunk
    std::unique_ptr<ctcf_result> focus;  // a sweep's explanation of its rank-1 chunk (focus_frames > 0)
    int64_t focus_start = 0, focus_end = 0;
};
