// context.h — what a ctcf_context holds: the device and the cancellation flag that long calls poll.
#pragma once

#include <c10/core/Device.h>

#include <atomic>

#include "guard.h"

struct ctcf_context {
    c10::Device device{c10::kCPU};
    std::atomic<bool> cancelled{false};
    bool tensor_ops_only = false;  // CTCF_CONTEXT_TENSOR_OPS_ONLY

    // Whether the fused CPU loops may serve a call.
    bool use_fused_cpu() const { return device.is_cpu() && !tensor_ops_only; }

    // Long-running loops call this at safe points.
    void check_cancelled() const {
        if (cancelled.load(std::memory_order_relaxed)) throw ctcf::Cancelled();
    }
};
