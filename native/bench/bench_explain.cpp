// bench_explain.cpp — the native benchmark: a chunk sweep through the C ABI alone (ctcf.h), fast mode vs
// reference mode on the same random VQ-GAN, classifier and volume, each measurement in a forked child so that
// its peak resident memory is its own. Usage: ctcf_bench_explain [slices] [size] [chunk ...]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "ctcf.h"

namespace {

void check(int32_t status, const ctcf_error& err, const char* what) {
    if (status != CTCF_OK) {
        std::fprintf(stderr, "%s failed: %s (code %d)\n", what, err.message, status);
        std::exit(2);
    }
}

struct Measurement {
    double seconds = 0;
    long long slices = 0;
    double peak_mib = 0;
};

// Runs one sweep in this process and writes the measurement to fd.
void measure(int fd, bool reference, int64_t chunk, int64_t slices, int64_t size) {
    ctcf_error err{};
    ctcf_context* ctx = nullptr;
    const auto cpus = static_cast<int32_t>(sysconf(_SC_NPROCESSORS_ONLN));
    check(ctcf_context_create(CTCF_DEVICE_CPU, 0, cpus, 0, &ctx, &err), err, "context");
    ctcf_vq_config c{};
    c.ch = 32;
    c.out_ch = 1;
    c.in_channels = 1;
    c.resolution = size;
    c.z_channels = 32;
    c.num_res_blocks = 1;
    c.embed_dim = 16;
    c.n_embed = 256;
    c.resamp_with_conv = 1;
    c.n_ch_mult = 3;
    c.ch_mult[0] = 1;
    c.ch_mult[1] = 2;
    c.ch_mult[2] = 2;
    ctcf_autoencoder* ae = nullptr;
    check(ctcf_autoencoder_create(&c, &ae, &err), err, "autoencoder");
    // Deterministic weights: every parameter set from a fixed-seed generator, so both modes see one model.
    std::mt19937 rng(42);
    ctcf_params* params = nullptr;
    check(ctcf_autoencoder_params(ae, &params, &err), err, "params");
    int64_t count = 0;
    check(ctcf_params_count(params, &count, &err), err, "param count");
    for (int64_t i = 0; i < count; ++i) {
        char name[512];
        int32_t ndim = 0;
        int64_t shape[CTCF_MAX_DIMS];
        check(ctcf_params_info(params, i, name, sizeof name, &ndim, shape, &err), err, "param info");
        int64_t n = 1;
        for (int32_t d = 0; d < ndim; ++d) n *= shape[d];
        std::vector<float> v(static_cast<size_t>(n));
        const bool norm_weight = std::string(name).find("norm") != std::string::npos &&
                                 std::string(name).find("weight") != std::string::npos;
        std::normal_distribution<float> dist(norm_weight ? 1.0f : 0.0f, norm_weight ? 0.1f : 0.05f);
        for (auto& x : v) x = dist(rng);
        check(ctcf_params_set(params, name, CTCF_DTYPE_F32, v.data(), ndim, shape, nullptr, &err), err, "set");
    }
    check(ctcf_autoencoder_to(ae, ctx, &err), err, "to");
    ctcf_classifier* clf = nullptr;
    const char* src =
        "def forward(self, x):\n"
        "    p = torch.avg_pool3d(x, [4, 4, 4])\n"
        "    a = (p * p).mean(dim=[1, 2, 3, 4])\n"
        "    b = torch.relu(p - 0.45).mean(dim=[1, 2, 3, 4])\n"
        "    return (a * 8.0 + b * 30.0 - 2.0).unsqueeze(1)\n";
    check(ctcf_classifier_define(src, CTCF_LAYOUT_BCDHW, 0, &clf, &err), err, "classifier");
    check(ctcf_classifier_to(clf, ctx, &err), err, "classifier to");
    std::vector<float> voxels(static_cast<size_t>(slices * size * size));
    std::normal_distribution<float> noise(0.0f, 0.05f);
    for (int64_t z = 0; z < slices; ++z) {
        for (int64_t y = 0; y < size; ++y) {
            for (int64_t x = 0; x < size; ++x) {
                voxels[static_cast<size_t>((z * size + y) * size + x)] =
                    0.5f + 0.25f * std::sin(0.2f * x + 0.1f * z) * std::cos(0.15f * y) + noise(rng);
            }
        }
    }
    ctcf_volume vol{voxels.data(), {size, size, slices}, {1.5, 1.5, 3.0}};
    ctcf_slice_wrapper w{2.0, -1.0, 0.5, 0.5, 0, 0, 0, 0, 0};
    ctcf_score_spec spec{0, 1, CTCF_ACTIVATION_NONE, 0.0, CTCF_REDUCER_NONE, 0};
    ctcf_shift_options o;
    ctcf_shift_options_default(&o);
    o.lambda_sweep_steps = 2;
    o.reference_mode = reference ? 1 : 0;
    ctcf_result* r = nullptr;
    const auto t0 = std::chrono::steady_clock::now();
    check(ctcf_sweep(ctx, ae, &w, clf, &spec, &vol, chunk, chunk, 0, 0, 0, &o, nullptr, nullptr, &r, &err), err,
          "sweep");
    Measurement m;
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ctcf_result_info info{};
    check(ctcf_result_info_get(r, &info, &err), err, "info");
    m.slices = info.slices_decoded;
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    m.peak_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
    ctcf_result_free(r);
    ctcf_classifier_free(clf);
    ctcf_autoencoder_free(ae);
    ctcf_context_free(ctx);
    if (write(fd, &m, sizeof m) != static_cast<ssize_t>(sizeof m)) std::exit(3);
}

Measurement run_child(bool reference, int64_t chunk, int64_t slices, int64_t size) {
    int fds[2];
    if (pipe(fds) != 0) std::exit(4);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        measure(fds[1], reference, chunk, slices, size);
        _exit(0);
    }
    close(fds[1]);
    Measurement m;
    const ssize_t got = read(fds[0], &m, sizeof m);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != static_cast<ssize_t>(sizeof m) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "measurement (%s, chunk %lld) failed\n", reference ? "reference" : "fast",
                     static_cast<long long>(chunk));
        std::exit(5);
    }
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    const int64_t slices = argc > 1 ? std::atoll(argv[1]) : 64;
    const int64_t size = argc > 2 ? std::atoll(argv[2]) : 64;
    std::vector<int64_t> chunks;
    for (int i = 3; i < argc; ++i) chunks.push_back(std::atoll(argv[i]));
    if (chunks.empty()) chunks = {4, 8, 16, 64};
    char info[256];
    ctcf_build_info(info, sizeof info);
    std::printf("%s (each run uses all %ld online CPUs)\n", info, sysconf(_SC_NPROCESSORS_ONLN));
    std::printf("volume %lldx%lldx%lld, random VQ-GAN (ch 32, ch_mult 1,2,2, seed 42), pooled-feature classifier\n",
                static_cast<long long>(size), static_cast<long long>(size), static_cast<long long>(slices));
    std::printf("%6s %-10s %10s %15s %14s %9s %9s\n", "chunk", "mode", "seconds", "slices decoded", "peak RSS MiB",
                "time x", "memory x");
    for (int64_t chunk : chunks) {
        if (chunk > slices) continue;
        const Measurement f = run_child(false, chunk, slices, size);
        std::printf("%6lld %-10s %10.2f %15lld %14.0f\n", static_cast<long long>(chunk), "fast", f.seconds, f.slices,
                    f.peak_mib);
        const Measurement r = run_child(true, chunk, slices, size);
        std::printf("%6lld %-10s %10.2f %15lld %14.0f %8.1fx %8.2fx\n", static_cast<long long>(chunk), "reference",
                    r.seconds, r.slices, r.peak_mib, r.seconds / f.seconds, r.peak_mib / f.peak_mib);
        std::fflush(stdout);
    }
    return 0;
}
