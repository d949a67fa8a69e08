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

CTCF_API int32_t ctcf_result_volume_get(const ctcf_result* r, int32_t which, int64_t index, const float** data,
                                        ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(r, "result");
    ctcf::require(data, "data");
    const at::Tensor* t = nullptr;
    switch (which) {
        case CTCF_VOLUME_FRAME:
            if (!r->frames.defined() || index < 0 || index >= r->frames.size(0)) {
                throw ctcf::InvalidArgument("no frame " + std::to_string(index) + " in this result");
            }
            *data = r->frames.data_ptr<float>() + index * r->frames[0].numel();
            return ctcf::set_ok(err);
        case CTCF_VOLUME_HEATMAP: t = &r->heatmap; break;
        case CTCF_VOLUME_RECONSTRUCTION: t = &r->reconstruction; break;
        case CTCF_VOLUME_COUNTERFACTUAL: t = &r->counterfactual; break;
        default: throw ctcf::InvalidArgument("unknown result volume " + std::to_string(which));
    }
    if (!t->defined()) throw ctcf::InvalidArgument("this result has no such volume");
    *data = t->data_ptr<float>();
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
