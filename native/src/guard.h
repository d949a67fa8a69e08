// guard.h — turns every exception inside an entry point into a status + message (nothing escapes to the JVM).
#pragma once

#include <c10/util/Exception.h>
#if __has_include(<torch/version.h>)
#include <torch/version.h>
#endif

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "ctcf.h"

namespace ctcf {

// Thrown by kernel code for caller mistakes that LibTorch would not catch itself.
struct InvalidArgument : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// Thrown when a context's cancellation flag is seen.
struct Cancelled : std::runtime_error {
    Cancelled() : std::runtime_error("cancelled") {}
};
// Thrown for a valid request this build cannot serve.
struct Unsupported : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Refuses a NULL argument of an entry point, naming it.
inline void require(const void* p, const char* what) {
    if (p == nullptr) throw InvalidArgument(std::string(what) + " is NULL");
}

// Writes code and message into err (if any) and returns the code. Never throws, never allocates.
inline int32_t set_error(ctcf_error* err, int32_t code, const char* message) noexcept {
    if (err != nullptr) {
        err->code = code;
        std::snprintf(err->message, CTCF_ERROR_MESSAGE_CAPACITY, "%s", message != nullptr ? message : "");
    }
    return code;
}

inline int32_t set_ok(ctcf_error* err) noexcept {
    return set_error(err, CTCF_OK, "");
}

// LibTorch messages carry a C++ backtrace after the first line in some builds; keep what the user needs.
inline std::string torch_message(const c10::Error& e) {
    std::string m = e.what_without_backtrace();
    return m;
}

// Allocators that predate c10::OutOfMemoryError (or a LibTorch without it) say so only in the message.
inline bool is_oom_message(const std::string& m) {
    return m.find("out of memory") != std::string::npos ||
           m.find("DefaultCPUAllocator: can't allocate") != std::string::npos;
}

}  // namespace ctcf

// c10::OutOfMemoryError (what the CPU and CUDA allocators throw) exists in every LibTorch 2.x; an older one (1.13,
// built with CTCF_ALLOW_OLD_TORCH) is recognised by its message only.
#if defined(TORCH_VERSION_MAJOR) && TORCH_VERSION_MAJOR >= 2
#define CTCF_CATCH_TORCH_OOM(err)                                                                \
    catch (const c10::OutOfMemoryError& e) {                                                     \
        try {                                                                                    \
            return ::ctcf::set_error((err), CTCF_ERR_OUT_OF_MEMORY, ::ctcf::torch_message(e).c_str()); \
        } catch (...) {                                                                          \
            return ::ctcf::set_error((err), CTCF_ERR_OUT_OF_MEMORY, "out of memory (LibTorch)"); \
        }                                                                                        \
    }
#else
#define CTCF_CATCH_TORCH_OOM(err)
#endif

// Every entry point body sits between CTCF_API_BEGIN and CTCF_API_END(err). The catch order matters:
// c10::OutOfMemoryError derives from c10::Error, which derives from std::exception, bad_alloc too. Running out of
// memory is known by the exception's type first; the message is the last resort.
#define CTCF_API_BEGIN try {
#define CTCF_API_END(err)                                                                        \
    }                                                                                            \
    catch (const ::ctcf::InvalidArgument& e) {                                                   \
        return ::ctcf::set_error((err), CTCF_ERR_INVALID_ARGUMENT, e.what());                    \
    }                                                                                            \
    catch (const ::ctcf::Cancelled& e) {                                                         \
        return ::ctcf::set_error((err), CTCF_ERR_CANCELLED, e.what());                           \
    }                                                                                            \
    catch (const ::ctcf::Unsupported& e) {                                                       \
        return ::ctcf::set_error((err), CTCF_ERR_UNSUPPORTED, e.what());                         \
    }                                                                                            \
    CTCF_CATCH_TORCH_OOM(err)                                                                    \
    catch (const std::bad_alloc& e) {                                                            \
        return ::ctcf::set_error((err), CTCF_ERR_OUT_OF_MEMORY, "out of memory (std::bad_alloc)"); \
    }                                                                                            \
    catch (const c10::Error& e) {                                                                \
        try {                                                                                    \
            std::string m = ::ctcf::torch_message(e);                                            \
            return ::ctcf::set_error((err), ::ctcf::is_oom_message(m) ? CTCF_ERR_OUT_OF_MEMORY : CTCF_ERR_TORCH, \
                                     m.c_str());                                                 \
        } catch (...) {                                                                          \
            return ::ctcf::set_error((err), CTCF_ERR_TORCH, "LibTorch error (message lost)");    \
        }                                                                                        \
    }                                                                                            \
    catch (const std::exception& e) {                                                            \
        return ::ctcf::set_error((err), CTCF_ERR_INTERNAL, e.what());                            \
    }                                                                                            \
    catch (...) {                                                                                \
        return ::ctcf::set_error((err), CTCF_ERR_UNKNOWN, "unknown non-standard C++ exception"); \
    }
