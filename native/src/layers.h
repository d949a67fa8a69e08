// layers.h — access to a classifier's inner layers for the saliency methods that need it: guided backprop (a
// different backward rule for ReLUs) and Grad-CAM (a layer's activations and their gradients). Built-in
// architectures call activation() and tap() at their ReLUs and layer outputs; TorchScript classifiers get a
// rewritten copy of their forward graph. Both only act while a LayerHooks is installed on the calling thread, so
// every other call runs the plain network (same operations, same numbers).
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace ctcf {

struct LayerHooks {
    bool guided = false;                      // ReLU-family backward: positive gradients only, where the input > 0
    const torch::nn::Module* layer = nullptr;  // built-ins: the module whose outputs Grad-CAM reads
    std::vector<at::Tensor> captured;         // the layer's outputs, in call order
    std::function<at::Tensor(const at::Tensor&)> scripted_forward;  // TorchScript: the rewritten forward
};

// The hooks installed on this thread (nullptr: none).
LayerHooks* active_hooks();

// Installs hooks on this thread for its lifetime.
class HooksScope {
public:
    explicit HooksScope(LayerHooks* hooks);
    ~HooksScope();
    HooksScope(const HooksScope&) = delete;
    HooksScope& operator=(const HooksScope&) = delete;

private:
    LayerHooks* previous_;
};

// ReLU (negative_slope 0) or leaky ReLU; with guided hooks, the guided backward rule.
at::Tensor activation(const at::Tensor& x, double negative_slope);

// y, recorded when m is the hooked layer.
at::Tensor tap(const torch::nn::Module* m, const at::Tensor& y);

// A parameterless ReLU / leaky ReLU module that honours the hooks (for Sequential containers; no state_dict keys).
struct ActImpl : torch::nn::Module {
    explicit ActImpl(double negative_slope = 0.0) : slope(negative_slope) {}
    at::Tensor forward(const at::Tensor& x) { return activation(x, slope); }
    double slope;
};
TORCH_MODULE(Act);

// Runs a Sequential, tapping each entry's output and the whole's.
at::Tensor run_sequential(torch::nn::Sequential s, at::Tensor x);

// TorchScript: a copy of the module's forward graph, inlined, with every aten::relu / relu_ / leaky_relu /
// leaky_relu_ replaced by the guided operator; *count gets how many were replaced.
std::shared_ptr<torch::jit::Graph> guided_graph(const torch::jit::Module& m, int* count);

// TorchScript: a copy of the module's forward graph in which the output of every call of the submodule at `path`
// ("features", "layer4.2", ...) passes through a recording operator; *calls gets how many calls there are.
std::shared_ptr<torch::jit::Graph> tapped_graph(const torch::jit::Module& m, const std::string& path, int* calls);

// A callable running `graph` (whose first input is the module) on the module.
std::function<at::Tensor(const at::Tensor&)> graph_forward(const torch::jit::Module& m,
                                                           std::shared_ptr<torch::jit::Graph> graph);

}  // namespace ctcf
