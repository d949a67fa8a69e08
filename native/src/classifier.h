// classifier.h — a differentiable 3D classifier (TorchScript) and the score Latent Shift explains.
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <vector>

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "ctcf.h"
#include "params.h"

struct ctcf_classifier {
    bool scripted = true;
    torch::jit::Module module;                  // a TorchScript classifier
    std::shared_ptr<torch::nn::Module> net;     // or a built-in architecture
    std::function<at::Tensor(const at::Tensor&)> net_forward;
    // Built-ins with a dense output before their spatial pooling ([B, C, d, h, w] logits): dense supervision.
    std::function<at::Tensor(const at::Tensor&)> net_dense;
    ctcf_params params;                   // the built-in's parameters by state_dict name
    bool per_slice = false;  // a 2-D model run on every slice of the volume; outputs are stacked back to 3-D
    int32_t layout = CTCF_LAYOUT_BCDHW;
    int32_t orientation = CTCF_ORIENTATION_RAS;  // the in-plane orientation the model sees (ctcf.h)
    int64_t max_batch = 0;   // 0 = any batch size
    int64_t input_nx = 0;    // > 0: volumes are resized in-plane to input_nx x input_ny first
    int64_t input_ny = 0;
    c10::Device device{c10::kCPU};
    // Grad-CAM: the layer used when none is named (built-ins), and the order of a layer's spatial axes as
    // (z, y, x) indices of the layer's [N, C, ...] activations; empty = the input layout's order.
    std::string cam_layer;
    std::vector<int64_t> cam_axes;
    // Fully convolutional built-ins whose output is the spatial max of net_dense's map: output depth position i
    // depends on input slices [stride * i - halo, stride * i + halo] only (0 = not such a model).
    int64_t dense_stride = 0;
    int64_t dense_halo = 0;
};

namespace ctcf {

// Raw outputs [K, classes] for K volumes [K, D, ny, nx]; differentiable. Splits K into allowed batches.
at::Tensor classifier_outputs(ctcf_classifier& clf, const at::Tensor& volumes);

// The explained score [K] (see ctcf_score_spec).
at::Tensor classifier_score(ctcf_classifier& clf, const ctcf_score_spec& spec, const at::Tensor& volumes);

// True for a 2-D (per-slice) classifier with a segmentation reducer: its score is a function of per-slice sums,
// so a volume that differs from a known one in a few slices can be scored by running only those slices.
bool slice_additive(const ctcf_classifier& clf, const ctcf_score_spec& spec);

// Per-slice sums [K, D] (double) of the activated target map of K volumes [K, D, H, W]; *voxels_per_slice gets the
// map's voxels per slice. Differentiable.
at::Tensor classifier_slice_sums(ctcf_classifier& clf, const ctcf_score_spec& spec, const at::Tensor& volumes,
                                 int64_t* voxels_per_slice);

// Scores [K] as doubles on the host; throws InvalidArgument for a non-finite one.
std::vector<double> finite_scores(const at::Tensor& scores);

// The score [K] from per-slice sums [K, D] (the reducer over all D slices, the offset, the optional sigmoid).
at::Tensor score_from_slice_sums(const ctcf_score_spec& spec, const at::Tensor& sums, int64_t voxels_per_slice);

// The score [K] from raw outputs [K, classes] (activation, reducer, offset, sigmoid).
at::Tensor score_from_outputs(const ctcf_score_spec& spec, const at::Tensor& outputs);

// True for a fully convolutional classifier whose output is its dense map's maximum (dense_stride > 0) and a score
// without a reducer: a volume that differs from a known one in a few slices can be scored by re-running the
// network on the slab those slices reach.
bool slab_scorable(const ctcf_classifier& clf, const ctcf_score_spec& spec);

// Dense maps [K, classes, d, h, w] of K volumes [K, D, H, W] (resized in-plane like classifier_outputs).
at::Tensor classifier_dense(ctcf_classifier& clf, const at::Tensor& volumes);

// The rows lo..hi of a slab-scorable classifier's `rows`-row map whose input windows [stride i - halo,
// stride i + halo] meet slices [s, e) (lo > hi: none).
std::pair<int64_t, int64_t> dense_rows(const ctcf_classifier& clf, int64_t s, int64_t e, int64_t rows);

// The input slices [a, b) of a depth-`depth` volume from which a slab-scorable classifier computes its map rows
// lo..hi exactly: their receptive windows, starting at a multiple of the stride so that the slab's map rows align
// with the whole volume's (slab row j = row j + a / stride).
std::pair<int64_t, int64_t> dense_slab(const ctcf_classifier& clf, int64_t lo, int64_t hi, int64_t depth);

// d score / d x for one volume x [D, H, W] and its score (*score). A slab-scorable classifier whose score depends
// on the target's output alone: a no-grad forward finds the depth row of the map's maximum, and the backward runs
// through the slab of input slices that row reads (the gradient is zero elsewhere); others: one full backward.
at::Tensor classifier_input_gradient(ctcf_classifier& clf, const ctcf_score_spec& spec, const at::Tensor& x,
                                     double* score);

void check_score_spec(const ctcf_score_spec* spec);

}  // namespace ctcf
