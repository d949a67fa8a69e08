// guard.h — turns every exception inside an entry point into a status + message (nothing escapes to the JVM).
#pragma once

#include <c10/util/Exception.h>

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

}  // namespace ctcf

// Every entry point body sits between CTCF_API_BEGIN and CTCF_API_END(err). The catch order matters:
// c10::Error derives from std::exception, bad_alloc too.
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
    catch (const c10::Error& e) {                                                                \
        try {                                                                                    \
            std::string m = ::ctcf::torch_message(e);                                            \
            const bool oom = m.find("out of memory") != std::string::npos ||                     \
                             m.find("DefaultCPUAllocator: can't allocate") != std::string::npos; \
            return ::ctcf::set_error((err), oom ? CTCF_ERR_OUT_OF_MEMORY : CTCF_ERR_TORCH,       \
                                     m.c_str());                                                 \
        } catch (...) {                                                                          \
            return ::ctcf::set_error((err), CTCF_ERR_TORCH, "LibTorch error (message lost)");    \
        }                                                                                        \
    }                                                                                            \
    catch (const std::bad_alloc& e) {                                                            \
        return ::ctcf::set_error((err), CTCF_ERR_OUT_OF_MEMORY, "out of memory (std::bad_alloc)"); \
    }                                                                                            \
    catch (const std::exception& e) {                                                            \
        return ::ctcf::set_error((err), CTCF_ERR_INTERNAL, e.what());                            \
    }                                                                                            \
    catch (...) {                                                                                \
        return ::ctcf::set_error((err), CTCF_ERR_UNKNOWN, "unknown non-standard C++ exception"); \
    }
