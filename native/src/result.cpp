// result.cpp — the ctcf_result_* entry points: a result's scalars, arrays, chunk table, volumes and focus.
#include <algorithm>
#include <string>
#include <vector>

#include "ctcf.h"
#include "guard.h"
#include "result.h"

extern "C" {

CTCF_API int32_t ctcf_result_info_get(const ctcf_result* r, ctcf_result_info* info, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(r, "result");
    ctcf::require(info, "info");
    *info = r->info;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_result_array_get(const ctcf_result* r, int32_t which, const double** data, int64_t* n,
                                       ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(r, "result");
    ctcf::require(data, "data");
    ctcf::require(n, "n");
    const std::vector<double>* v = nullptr;
    switch (which) {
        case CTCF_ARRAY_LAMBDAS: v = &r->lambdas; break;
        case CTCF_ARRAY_PREDICTIONS: v = &r->predictions; break;
        case CTCF_ARRAY_SEARCH_LAMBDAS: v = &r->search_lambdas; break;
        case CTCF_ARRAY_SEARCH_PREDICTIONS: v = &r->search_predictions; break;
        case CTCF_ARRAY_SLICE_PREDICTION: v = &r->slice_prediction; break;
        case CTCF_ARRAY_SLICE_CHANGE: v = &r->slice_change; break;
        case CTCF_ARRAY_SLICE_CHANGE_SQUARED: v = &r->slice_change_squared; break;
        case CTCF_ARRAY_COUNTERFACTUAL_CHUNKS: v = &r->counterfactual_chunks; break;
        default: throw ctcf::InvalidArgument("unknown result array " + std::to_string(which));
    }
    *data = v->data();
    *n = static_cast<int64_t>(v->size());
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_result_chunks_get(const ctcf_result* r, ctcf_chunk_row* rows, int64_t cap, int64_t* n,
                                        ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(r, "result");
    ctcf::require(n, "n");
    *n = static_cast<int64_t>(r->chunks.size());
    if (rows != nullptr) {
        for (int64_t i = 0; i < std::min(cap, *n); ++i) rows[i] = r->chunks[static_cast<size_t>(i)];
    }
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_result_volume_read(const ctcf_result* r, int32_t which, int64_t index, int64_t z0,
                                         int64_t z1, float* dst, ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(r, "result");
    ctcf::require(dst, "dst");
    const at::Tensor& x0 = r->reconstruction;
    if (!x0.defined()) throw ctcf::InvalidArgument("this result has no volumes");
    const int64_t depth = x0.size(0);
    if (z0 < 0 || z1 > depth || z0 >= z1) {
        throw ctcf::InvalidArgument("slices [" + std::to_string(z0) + ", " + std::to_string(z1) +
                                    ") are not inside the result's " + std::to_string(depth));
    }
    at::Tensor out = at::from_blob(dst, {z1 - z0, x0.size(1), x0.size(2)}, at::kFloat);
    const at::Tensor* whole = nullptr;
    switch (which) {
        case CTCF_VOLUME_COUNTERFACTUAL:
            if (r->counterfactual.defined()) {
                whole = &r->counterfactual;
                break;
            }
            index = 0;  // a single chunk's counterfactual is frame 0
            [[fallthrough]];
        case CTCF_VOLUME_FRAME: {
            if (!r->frames.defined() || index < 0 || index >= r->frames.size(0)) {
                throw ctcf::InvalidArgument("no frame " + std::to_string(index) + " in this result");
            }
            // The frame's own slices where they overlap [z0, z1), the reconstruction elsewhere.
            const int64_t f0 = r->frames_z0;
            const int64_t f1 = f0 + r->frames.size(1);
            const int64_t a = std::max(z0, f0);
            const int64_t b = std::min(z1, f1);
            if (a >= b) {
                out.copy_(x0.slice(0, z0, z1));
                return ctcf::set_ok(err);
            }
            if (z0 < a) out.slice(0, 0, a - z0).copy_(x0.slice(0, z0, a));
            out.slice(0, a - z0, b - z0).copy_(r->frames[index].slice(0, a - f0, b - f0));
            if (b < z1) out.slice(0, b - z0, z1 - z0).copy_(x0.slice(0, b, z1));
            return ctcf::set_ok(err);
        }
        case CTCF_VOLUME_HEATMAP: whole = &r->heatmap; break;
        case CTCF_VOLUME_RECONSTRUCTION: whole = &x0; break;
        case CTCF_VOLUME_STITCHED: whole = &r->stitched; break;
        case CTCF_VOLUME_STITCHED_HEATMAP: whole = &r->stitched_heatmap; break;
        default: throw ctcf::InvalidArgument("unknown result volume " + std::to_string(which));
    }
    if (!whole->defined()) throw ctcf::InvalidArgument("this result has no such volume");
    out.copy_(whole->slice(0, z0, z1));
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API void ctcf_result_free(ctcf_result* r) { delete r; }

CTCF_API int32_t ctcf_result_take_focus(ctcf_result* r, ctcf_result** focus, int64_t* start, int64_t* end,
                                        ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(r, "result");
    ctcf::require(focus, "focus");
    *focus = r->focus.release();
    if (start != nullptr) *start = r->focus_start;
    if (end != nullptr) *end = r->focus_end;
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

}  // extern "C"
