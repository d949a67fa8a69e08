// layers.cpp — guided ReLUs, layer taps and the TorchScript graph rewrites behind them (see layers.h).
#include "layers.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>

#include "guard.h"

namespace ctcf {
namespace {

thread_local LayerHooks* current_hooks = nullptr;

at::Tensor plain_activation(const at::Tensor& x, double slope) {
    return slope == 0.0 ? at::relu(x) : at::leaky_relu(x, slope);
}

// Guided backprop (Springenberg et al. 2015): the backward pass of a ReLU lets a gradient through only where the
// forward input was positive (the ReLU's own rule) and the gradient itself is positive. A leaky ReLU keeps its own
// derivative (slope where the input is negative) and likewise drops negative gradients.
struct GuidedActivation : torch::autograd::Function<GuidedActivation> {
    static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, double slope) {
        ctx->save_for_backward({x});
        ctx->saved_data["slope"] = slope;
        return plain_activation(x, slope);
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        const at::Tensor x = ctx->get_saved_variables()[0];
        const double slope = ctx->saved_data["slope"].toDouble();
        const at::Tensor positive = grads[0].clamp_min(0.0);
        at::Tensor g = slope == 0.0 ? positive.masked_fill(x <= 0, 0.0) : at::where(x > 0, positive, positive * slope);
        return {g, at::Tensor()};
    }
};

at::Tensor guided_relu_op(const at::Tensor& x, const at::Scalar& slope) {
    return GuidedActivation::apply(x, slope.toDouble());
}

// Identity that records its input for Grad-CAM (a fresh tensor out, so that no aliasing is declared).
at::Tensor tap_op(const at::Tensor& x) {
    if (LayerHooks* h = current_hooks) h->captured.push_back(x);
    return x.clone();
}

}  // namespace
}  // namespace ctcf

namespace ctcf {
namespace {

// The TorchScript operators of the graph rewrites, registered on first use under a namespace of this copy of the
// library: a process may load two copies (from two paths), and static TORCH_LIBRARY registration of one namespace
// twice aborts the process. Each copy's operators use that copy's hooks. The Library objects live as long as the
// process (freeing them at exit could outlive the dispatcher).
const std::string& op_namespace() {
    static const std::string ns = [] {
        static const char anchor = 0;
        const std::string name = "ctcf_" + std::to_string(reinterpret_cast<std::uintptr_t>(&anchor));
        auto* defs = new torch::Library(torch::Library::DEF, name, c10::optional<c10::DispatchKey>(), __FILE__, __LINE__);
        defs->def("guided_relu(Tensor x, Scalar negative_slope) -> Tensor");
        defs->def("tap(Tensor x) -> Tensor");
        auto* impls = new torch::Library(torch::Library::IMPL, name, c10::DispatchKey::CompositeImplicitAutograd,
                                         __FILE__, __LINE__);
        impls->impl("guided_relu", guided_relu_op);
        impls->impl("tap", tap_op);
        return name;
    }();
    return ns;
}

c10::Symbol op(const char* name) { return c10::Symbol::fromQualString(op_namespace() + "::" + name); }

}  // namespace
}  // namespace ctcf

namespace ctcf {

LayerHooks* active_hooks() { return current_hooks; }

HooksScope::HooksScope(LayerHooks* hooks) : previous_(current_hooks) { current_hooks = hooks; }

HooksScope::~HooksScope() { current_hooks = previous_; }

at::Tensor activation(const at::Tensor& x, double negative_slope) {
    LayerHooks* h = current_hooks;
    if (h != nullptr && h->guided) return GuidedActivation::apply(x, negative_slope);
    return plain_activation(x, negative_slope);
}

at::Tensor tap(const torch::nn::Module* m, const at::Tensor& y) {
    LayerHooks* h = current_hooks;
    if (h != nullptr && h->layer != nullptr && h->layer == m) h->captured.push_back(y);
    return y;
}

at::Tensor run_sequential(torch::nn::Sequential s, at::Tensor x) {
    for (auto& entry : *s) x = tap(entry.ptr().get(), entry.forward(x));
    return tap(s.get(), x);
}

namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

void collect(Block* b, std::vector<Node*>& out) {
    for (Node* n : b->nodes()) {
        out.push_back(n);
        for (Block* inner : n->blocks()) collect(inner, out);
    }
}

std::vector<Node*> all_nodes(Graph& g) {
    std::vector<Node*> nodes;
    collect(g.block(), nodes);
    return nodes;
}

// The dotted submodule path of a module value (a chain of prim::GetAttr from the graph's `self`), or "?" when the
// value is not such a chain.
std::string module_path(Value* v, Value* self) {
    if (v == self) return "";
    Node* n = v->node();
    if (n->kind() != c10::prim::GetAttr) return "?";
    const std::string parent = module_path(n->input(0), self);
    if (parent == "?") return "?";
    const std::string name = n->s(c10::attr::name);
    return parent.empty() ? name : parent + "." + name;
}

bool is_ancestor(const std::string& ancestor, const std::string& path) {
    return ancestor.empty() || (path.size() > ancestor.size() && path.compare(0, ancestor.size(), ancestor) == 0 &&
                                path[ancestor.size()] == '.');
}

torch::jit::GraphFunction* callee_of(Node* call) {
    auto cls = call->input(0)->type()->cast<c10::ClassType>();
    if (!cls) return nullptr;
    return torch::jit::tryToGraphFunction(cls->getMethod(call->s(c10::attr::name)));
}

std::shared_ptr<Graph> forward_copy(const torch::jit::Module& m) {
    auto method = m.find_method("forward");
    if (!method) throw InvalidArgument("the TorchScript classifier has no forward method");
    return method->graph()->copy();
}

}  // namespace

std::shared_ptr<torch::jit::Graph> guided_graph(const torch::jit::Module& m, int* count) {
    std::shared_ptr<Graph> g = forward_copy(m);
    torch::jit::Inline(*g);
    const auto relu = c10::Symbol::fromQualString("aten::relu");
    const auto relu_ = c10::Symbol::fromQualString("aten::relu_");
    const auto leaky = c10::Symbol::fromQualString("aten::leaky_relu");
    const auto leaky_ = c10::Symbol::fromQualString("aten::leaky_relu_");
    const auto guided = op("guided_relu");
    int n = 0;
    for (Node* node : all_nodes(*g)) {
        const auto k = node->kind();
        if (k != relu && k != relu_ && k != leaky && k != leaky_) continue;
        const bool has_slope = k == leaky || k == leaky_;
        // leaky_relu(Tensor self, Scalar negative_slope=0.01): the slope is input 1 (explicit after inlining).
        if (has_slope && node->inputs().size() < 2) continue;
        torch::jit::WithInsertPoint point(node);
        Value* slope = has_slope ? node->input(1) : g->insertConstant(0.0);
        Value* out = g->insert(guided, {node->input(0), slope});
        out->setType(node->output()->type());
        if (k == relu_ || k == leaky_) {
            // in place: later readers of the input saw the activated values
            node->input(0)->replaceAllUsesDominatedByNodeWith(node, out);
        }
        node->output()->replaceAllUsesWith(out);
        node->destroy();
        ++n;
    }
    if (count != nullptr) *count = n;
    return g;
}

std::shared_ptr<torch::jit::Graph> tapped_graph(const torch::jit::Module& m, const std::string& path, int* calls) {
    std::shared_ptr<Graph> g = forward_copy(m);
    Value* self = g->inputs()[0];
    // Inline the calls of the modules on the way to `path` (self's own helper methods included), so that the
    // target's calls appear in this graph.
    for (bool changed = true; changed;) {
        changed = false;
        for (Node* node : all_nodes(*g)) {
            if (node->kind() != c10::prim::CallMethod) continue;
            const std::string p = module_path(node->input(0), self);
            if (p == "?" || !is_ancestor(p, path)) continue;
            if (torch::jit::GraphFunction* fn = callee_of(node)) {
                torch::jit::inlineCallTo(node, fn);
                changed = true;
                break;  // the node list is stale
            }
        }
    }
    const auto tap_sym = op("tap");
    int n = 0;
    for (Node* node : all_nodes(*g)) {
        if (node->kind() != c10::prim::CallMethod || node->s(c10::attr::name) != "forward") continue;
        if (module_path(node->input(0), self) != path) continue;
        if (node->outputs().size() != 1 || !node->output()->type()->isSubtypeOf(*c10::TensorType::get())) {
            throw InvalidArgument("submodule '" + path + "' does not return one tensor; Grad-CAM needs a layer "
                                  "whose output is a feature map");
        }
        torch::jit::WithInsertPoint point(node->next());
        Value* tapped = g->insert(tap_sym, {node->output()});
        tapped->setType(node->output()->type());
        node->output()->replaceAllUsesWith(tapped);
        tapped->node()->replaceInput(0, node->output());
        ++n;
    }
    if (calls != nullptr) *calls = n;
    return g;
}

std::function<at::Tensor(const at::Tensor&)> graph_forward(const torch::jit::Module& m,
                                                           std::shared_ptr<torch::jit::Graph> graph) {
    auto fn = std::make_shared<torch::jit::GraphFunction>("ctcf_rewritten_forward", std::move(graph), nullptr);
    c10::IValue self = m._ivalue();
    return [fn, self](const at::Tensor& x) { return (*fn)({self, x}).toTensor(); };
}

}  // namespace ctcf
