// preprocess.cpp — reference volume preprocessing and its inverse, as separable linear passes in float64.
#include "preprocess.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "context.h"
#include "guard.h"
#include "volume.h"

namespace ctcf {
namespace {

// Voxel axis a (0 = x, 1 = y, 2 = z) is tensor dim kDimOf(a) of a [z, y, x] tensor.
constexpr int64_t dim_of(int a) { return 2 - a; }

std::string axis_name(int a) { return std::string(1, "xyz"[a]); }

int64_t resampled_size(int64_t n, double spacing, double target) {
    if (!(target > 0.0)) return n;
    const double v = std::nearbyint(static_cast<double>(n - 1) * spacing / target) + 1.0;  // numpy round (half-even)
    if (!(v >= 1.0) || v > static_cast<double>(kMaxVoxels)) {
        throw InvalidArgument("resampling to " + std::to_string(target) + " mm gives an absurd size on one axis");
    }
    return static_cast<int64_t>(v);
}

bool window_enabled(const ctcf_preprocess_params& p) { return p.window_low < p.window_high; }

}  // namespace

void validate_volume(const ctcf_volume* v, const char* what, bool need_data) {
    check_volume(v, what, need_data);
    for (int a = 0; a < 3; ++a) {
        if (!(v->spacing[a] > 0.0) || !std::isfinite(v->spacing[a])) {
            throw InvalidArgument(std::string(what) + ": spacing " + axis_name(a) + " = " +
                                  std::to_string(v->spacing[a]) + " (must be finite and > 0)");
        }
    }
}

void validate_params(const ctcf_preprocess_params* p) {
    require(p, "preprocess params");
    bool seen[3] = {false, false, false};
    for (int a = 0; a < 3; ++a) {
        const int32_t s = p->axis_perm[a];
        if (s < 0 || s > 2 || seen[s]) {
            std::ostringstream m;
            m << "axis_perm must be a permutation of {0,1,2}, got {" << p->axis_perm[0] << "," << p->axis_perm[1]
              << "," << p->axis_perm[2] << "}";
            throw InvalidArgument(m.str());
        }
        seen[s] = true;
        if (!std::isfinite(p->target_spacing[a]) || p->target_spacing[a] < 0.0) {
            throw InvalidArgument("target spacing " + axis_name(a) + " must be >= 0 (0 keeps the input's)");
        }
    }
    if (!std::isfinite(p->window_low) || !std::isfinite(p->window_high)) {
        throw InvalidArgument("HU window bounds must be finite");
    }
    if (!std::isfinite(p->pad_value)) throw InvalidArgument("pad value must be finite");
    for (int a = 0; a < 2; ++a) {
        if (p->in_plane_size[a] < 0 || p->in_plane_size[a] > (int64_t{1} << 20)) {
            throw InvalidArgument("in-plane size " + axis_name(a) + " = " + std::to_string(p->in_plane_size[a]) +
                                  " is out of range (0 keeps the size)");
        }
    }
}

std::array<int64_t, 3> preprocess_dims(const std::array<int64_t, 3>& in_dims, const std::array<double, 3>& in_spacing,
                                       const ctcf_preprocess_params& p) {
    std::array<int64_t, 3> out{};
    for (int a = 0; a < 3; ++a) {
        const int src = p.axis_perm[a];
        out[a] = resampled_size(in_dims[src], in_spacing[src], p.target_spacing[a]);
    }
    for (int a = 0; a < 2; ++a) {
        if (p.in_plane_size[a] > 0) out[a] = p.in_plane_size[a];
    }
    return out;
}

at::Tensor resample_axis(const at::Tensor& x, int64_t dim, int64_t n_out, double step) {
    const int64_t n = x.size(dim);
    if (n_out == n && step == 1.0) return x;
    // Sample positions, clamped to the grid (border), and their two neighbours and weight.
    std::vector<int64_t> i0(static_cast<size_t>(n_out));
    std::vector<int64_t> i1(static_cast<size_t>(n_out));
    std::vector<double> w(static_cast<size_t>(n_out));
    for (int64_t i = 0; i < n_out; ++i) {
        const double pos = std::min(std::max(static_cast<double>(i) * step, 0.0), static_cast<double>(n - 1));
        const int64_t lo = std::min(static_cast<int64_t>(std::floor(pos)), n - 1);
        i0[static_cast<size_t>(i)] = lo;
        i1[static_cast<size_t>(i)] = std::min(lo + 1, n - 1);
        w[static_cast<size_t>(i)] = pos - static_cast<double>(lo);
    }
    if (x.device().is_cpu() && x.scalar_type() == at::kDouble) {
        // Direct loops: LibTorch's index_select on an inner axis is an order of magnitude slower here.
        at::Tensor src = x.contiguous();
        int64_t outer = 1;
        for (int64_t d = 0; d < dim; ++d) outer *= src.size(d);
        int64_t inner = 1;
        for (int64_t d = dim + 1; d < src.dim(); ++d) inner *= src.size(d);
        std::vector<int64_t> shape(src.sizes().begin(), src.sizes().end());
        shape[static_cast<size_t>(dim)] = n_out;
        at::Tensor out = at::empty(shape, src.options());
        const double* in_p = src.data_ptr<double>();
        double* out_p = out.data_ptr<double>();
        at::parallel_for(0, outer, 1, [&](int64_t begin, int64_t end) {
            for (int64_t a = begin; a < end; ++a) {
                const double* s = in_p + a * n * inner;
                double* o = out_p + a * n_out * inner;
                for (int64_t i = 0; i < n_out; ++i) {
                    const double* lo = s + i0[static_cast<size_t>(i)] * inner;
                    const double* hi = s + i1[static_cast<size_t>(i)] * inner;
                    const double wi = w[static_cast<size_t>(i)];
                    double* oi = o + i * inner;
                    if (inner == 1) {
                        *oi = *lo + (*hi - *lo) * wi;
                    } else {
                        for (int64_t b = 0; b < inner; ++b) oi[b] = lo[b] + (hi[b] - lo[b]) * wi;
                    }
                }
            }
        });
        return out;
    }
    // Any device: the same arithmetic with tensor ops.
    const auto lopts = at::TensorOptions().dtype(at::kLong);
    at::Tensor t0 = at::from_blob(i0.data(), {n_out}, lopts).to(x.device());
    at::Tensor t1 = at::from_blob(i1.data(), {n_out}, lopts).to(x.device());
    std::vector<int64_t> wshape(static_cast<size_t>(x.dim()), 1);
    wshape[static_cast<size_t>(dim)] = n_out;
    at::Tensor tw = at::from_blob(w.data(), {n_out}, at::TensorOptions().dtype(at::kDouble))
                        .to(x.device(), x.scalar_type())
                        .view(wshape);
    at::Tensor lo = x.index_select(dim, t0);
    at::Tensor hi = x.index_select(dim, t1);
    return lo + (hi - lo) * tw;
}

at::Tensor preprocess(const ctcf_context& ctx, const at::Tensor& zyx, const std::array<double, 3>& in_spacing,
                      const ctcf_preprocess_params& p) {
    c10::InferenceMode guard;
    // 1. Reorient: output axis a is input axis perm[a].
    at::Tensor x = zyx.permute({dim_of(p.axis_perm[2]), dim_of(p.axis_perm[1]), dim_of(p.axis_perm[0])});
    std::vector<int64_t> flips;
    std::array<double, 3> spacing{};
    for (int a = 0; a < 3; ++a) {
        spacing[a] = in_spacing[p.axis_perm[a]];
        if (p.axis_flip[a] != 0) flips.push_back(dim_of(a));
    }
    if (!flips.empty()) x = x.flip(flips);
    ctx.check_cancelled();

    // 2. Resample in float64 (one rounding back to float32 at the end keeps the error below 1e-4 HU-scale).
    //    In-plane axes first: they usually shrink the volume most.
    x = x.to(at::kDouble);
    for (int a : {0, 1, 2}) {
        const double t = p.target_spacing[a];
        if (t > 0.0) {
            x = resample_axis(x, dim_of(a), resampled_size(x.size(dim_of(a)), spacing[a], t), t / spacing[a]);
        }
        ctx.check_cancelled();
    }

    // 3. HU window -> [0, 1].
    if (window_enabled(p)) {
        x = ((x - p.window_low) / (p.window_high - p.window_low)).clamp(0.0, 1.0);
    }
    x = x.to(at::kFloat);

    // 4. In-plane pad then centre-crop.
    for (int a = 0; a < 2; ++a) {
        const int64_t size = p.in_plane_size[a];
        if (size <= 0) continue;
        const int64_t n = x.size(dim_of(a));
        if (n < size) {
            const int64_t before = (size - n) / 2;
            std::vector<int64_t> pad(4, 0);  // (x_before, x_after, y_before, y_after)
            pad[static_cast<size_t>(2 * a)] = before;
            pad[static_cast<size_t>(2 * a + 1)] = size - n - before;
            x = at::constant_pad_nd(x, pad, p.pad_value);
        } else if (n > size) {
            x = x.narrow(dim_of(a), (n - size) / 2, size);
        }
    }
    return x.contiguous();
}

at::Tensor preprocess_inverse(const ctcf_context& ctx, const at::Tensor& processed,
                              const std::array<int64_t, 3>& orig_dims, const std::array<double, 3>& orig_spacing,
                              const ctcf_preprocess_params& p, bool invert_window) {
    c10::InferenceMode guard;
    // Sizes along the reoriented axes before and after resampling.
    std::array<int64_t, 3> reoriented{};
    std::array<double, 3> spacing{};
    std::array<int64_t, 3> resampled{};
    for (int a = 0; a < 3; ++a) {
        reoriented[a] = orig_dims[p.axis_perm[a]];
        spacing[a] = orig_spacing[p.axis_perm[a]];
        resampled[a] = resampled_size(reoriented[a], spacing[a], p.target_spacing[a]);
    }
    const auto expected = preprocess_dims(orig_dims, orig_spacing, p);
    for (int a = 0; a < 3; ++a) {
        if (processed.size(dim_of(a)) != expected[a]) {
            std::ostringstream m;
            m << "processed volume has " << processed.size(dim_of(a)) << " voxels along " << axis_name(a)
              << " but preprocessing the target grid gives " << expected[a];
            throw InvalidArgument(m.str());
        }
    }

    // Undo the in-plane crop (lost voxels become pad_value) or pad.
    at::Tensor x = processed;
    for (int a = 0; a < 2; ++a) {
        const int64_t size = p.in_plane_size[a];
        if (size <= 0) continue;
        const int64_t n = resampled[a];
        if (n < size) {
            x = x.narrow(dim_of(a), (size - n) / 2, n);
        } else if (n > size) {
            const int64_t before = (n - size) / 2;
            std::vector<int64_t> pad(4, 0);
            pad[static_cast<size_t>(2 * a)] = before;
            pad[static_cast<size_t>(2 * a + 1)] = n - size - before;
            x = at::constant_pad_nd(x, pad, p.pad_value);
        }
    }
    x = x.to(at::kDouble);
    if (invert_window && window_enabled(p)) {
        x = x * (p.window_high - p.window_low) + p.window_low;
    }
    ctx.check_cancelled();

    // Resample back: original voxel j sits at processed index j * spacing / target.
    for (int a : {2, 1, 0}) {
        const double t = p.target_spacing[a];
        if (t > 0.0) x = resample_axis(x, dim_of(a), reoriented[a], spacing[a] / t);
        ctx.check_cancelled();
    }
    x = x.to(at::kFloat);

    // Undo flips, then the permutation.
    std::vector<int64_t> flips;
    for (int a = 0; a < 3; ++a) {
        if (p.axis_flip[a] != 0) flips.push_back(dim_of(a));
    }
    if (!flips.empty()) x = x.flip(flips);
    int inverse[3];
    for (int a = 0; a < 3; ++a) inverse[p.axis_perm[a]] = a;
    x = x.permute({dim_of(inverse[2]), dim_of(inverse[1]), dim_of(inverse[0])});
    return x.contiguous();
}

// ---- fused CPU implementation -------------------------------------------------------------------------------

namespace {

// One output axis of the forward pipeline: for output index q, whether it lies inside the resampled grid
// (else it is padding), the two input offsets (already multiplied by the input stride) and the weight.
struct AxisTaps {
    std::vector<uint8_t> valid;
    std::vector<int64_t> lo;
    std::vector<int64_t> hi;
    std::vector<double> w;
};

// Linear taps at position pos in [0, n-1] along a reoriented axis of length n; maps the reoriented index to
// the original one (flip) and multiplies by the original axis' stride.
void taps_at(double pos, int64_t n, bool flip, int64_t stride, int64_t* lo, int64_t* hi, double* w) {
    pos = std::min(std::max(pos, 0.0), static_cast<double>(n - 1));
    const int64_t l = std::min(static_cast<int64_t>(std::floor(pos)), n - 1);
    const int64_t h = std::min(l + 1, n - 1);
    *w = pos - static_cast<double>(l);
    *lo = (flip ? n - 1 - l : l) * stride;
    *hi = (flip ? n - 1 - h : h) * stride;
}

// Offset from output index to resampled index along axis a (s = q + shift).
int64_t inplane_shift(const ctcf_preprocess_params& p, int a, int64_t resampled) {
    if (a > 1 || p.in_plane_size[a] <= 0) return 0;
    const int64_t size = p.in_plane_size[a];
    return resampled < size ? -((size - resampled) / 2) : (resampled - size) / 2;
}

double window_forward(const ctcf_preprocess_params& p, double v) {
    if (!(p.window_low < p.window_high)) return v;
    v = (v - p.window_low) / (p.window_high - p.window_low);
    return std::min(std::max(v, 0.0), 1.0);
}

}  // namespace

void preprocess_cpu(const ctcf_context& ctx, const float* in, const std::array<int64_t, 3>& in_dims,
                    const std::array<double, 3>& in_spacing, const ctcf_preprocess_params& p, float* out) {
    const std::array<int64_t, 3> stride = {1, in_dims[0], in_dims[0] * in_dims[1]};
    const auto out_dims = preprocess_dims(in_dims, in_spacing, p);
    std::array<AxisTaps, 3> taps;
    for (int a = 0; a < 3; ++a) {
        const int src = p.axis_perm[a];
        const int64_t n = in_dims[src];
        const double t = p.target_spacing[a];
        const double step = t > 0.0 ? t / in_spacing[src] : 1.0;
        const int64_t resampled = resampled_size(n, in_spacing[src], t);
        const int64_t shift = inplane_shift(p, a, resampled);
        AxisTaps& ax = taps[static_cast<size_t>(a)];
        const auto m = static_cast<size_t>(out_dims[a]);
        ax.valid.assign(m, 0);
        ax.lo.assign(m, 0);
        ax.hi.assign(m, 0);
        ax.w.assign(m, 0.0);
        for (int64_t q = 0; q < out_dims[a]; ++q) {
            const int64_t s = q + shift;
            const auto i = static_cast<size_t>(q);
            if (s < 0 || s >= resampled) continue;
            ax.valid[i] = 1;
            taps_at(static_cast<double>(s) * step, n, p.axis_flip[a] != 0, stride[src], &ax.lo[i], &ax.hi[i], &ax.w[i]);
        }
    }
    const int64_t nx = out_dims[0];
    const int64_t ny = out_dims[1];
    const float pad = static_cast<float>(p.pad_value);
    std::atomic<bool> cancelled{false};
    at::parallel_for(0, out_dims[2], 1, [&](int64_t z0, int64_t z1) {
        for (int64_t z = z0; z < z1; ++z) {
            if (ctx.cancelled.load(std::memory_order_relaxed)) {
                cancelled = true;
                return;
            }
            const auto zi = static_cast<size_t>(z);
            const double wz = taps[2].w[zi];
            for (int64_t y = 0; y < ny; ++y) {
                const auto yi = static_cast<size_t>(y);
                float* row = out + (z * ny + y) * nx;
                if (!taps[1].valid[yi] || !taps[2].valid[zi]) {
                    std::fill(row, row + nx, pad);
                    continue;
                }
                const double wy = taps[1].w[yi];
                const int64_t c00 = taps[1].lo[yi] + taps[2].lo[zi];
                const int64_t c10 = taps[1].hi[yi] + taps[2].lo[zi];
                const int64_t c01 = taps[1].lo[yi] + taps[2].hi[zi];
                const int64_t c11 = taps[1].hi[yi] + taps[2].hi[zi];
                for (int64_t x = 0; x < nx; ++x) {
                    const auto xi = static_cast<size_t>(x);
                    if (!taps[0].valid[xi]) {
                        row[x] = pad;
                        continue;
                    }
                    const int64_t xl = taps[0].lo[xi];
                    const int64_t xh = taps[0].hi[xi];
                    const double wx = taps[0].w[xi];
                    const double v00 = in[c00 + xl] + (static_cast<double>(in[c00 + xh]) - in[c00 + xl]) * wx;
                    const double v10 = in[c10 + xl] + (static_cast<double>(in[c10 + xh]) - in[c10 + xl]) * wx;
                    const double v01 = in[c01 + xl] + (static_cast<double>(in[c01 + xh]) - in[c01 + xl]) * wx;
                    const double v11 = in[c11 + xl] + (static_cast<double>(in[c11 + xh]) - in[c11 + xl]) * wx;
                    const double v0 = v00 + (v10 - v00) * wy;
                    const double v1 = v01 + (v11 - v01) * wy;
                    row[x] = static_cast<float>(window_forward(p, v0 + (v1 - v0) * wz));
                }
            }
        }
    });
    if (cancelled) throw Cancelled();
}

void preprocess_inverse_cpu(const ctcf_context& ctx, const float* processed, const std::array<int64_t, 3>& orig_dims,
                            const std::array<double, 3>& orig_spacing, const ctcf_preprocess_params& p,
                            bool invert_window, float* out) {
    const auto pdims = preprocess_dims(orig_dims, orig_spacing, p);
    const std::array<int64_t, 3> pstride = {1, pdims[0], pdims[0] * pdims[1]};
    // Per ORIGINAL axis b and original index o: taps into the processed volume (offsets * stride, -1 = padding).
    std::array<AxisTaps, 3> taps;
    for (int a = 0; a < 3; ++a) {
        const int b = p.axis_perm[a];
        const int64_t n = orig_dims[b];
        const double t = p.target_spacing[a];
        const int64_t resampled = resampled_size(n, orig_spacing[b], t);
        const double step = t > 0.0 ? orig_spacing[b] / t : 1.0;
        const int64_t shift = inplane_shift(p, a, resampled);
        AxisTaps& ax = taps[static_cast<size_t>(b)];
        const auto m = static_cast<size_t>(n);
        ax.valid.assign(m, 1);
        ax.lo.assign(m, 0);
        ax.hi.assign(m, 0);
        ax.w.assign(m, 0.0);
        for (int64_t o = 0; o < n; ++o) {
            const int64_t r = p.axis_flip[a] != 0 ? n - 1 - o : o;
            int64_t lo = 0;
            int64_t hi = 0;
            double w = 0;
            taps_at(static_cast<double>(r) * step, resampled, false, 1, &lo, &hi, &w);
            lo -= shift;  // resampled index -> processed index
            hi -= shift;
            const auto i = static_cast<size_t>(o);
            ax.lo[i] = (lo >= 0 && lo < pdims[a]) ? lo * pstride[a] : -1;
            ax.hi[i] = (hi >= 0 && hi < pdims[a]) ? hi * pstride[a] : -1;
            ax.w[i] = w;
        }
    }
    const int64_t nx = orig_dims[0];
    const int64_t ny = orig_dims[1];
    const double pad = p.pad_value;
    const bool inv = invert_window && p.window_low < p.window_high;
    std::atomic<bool> cancelled{false};
    at::parallel_for(0, orig_dims[2], 1, [&](int64_t z0, int64_t z1) {
        auto sample = [&](int64_t cx, int64_t cy, int64_t cz) -> double {
            return (cx < 0 || cy < 0 || cz < 0) ? pad : static_cast<double>(processed[cx + cy + cz]);
        };
        for (int64_t z = z0; z < z1; ++z) {
            if (ctx.cancelled.load(std::memory_order_relaxed)) {
                cancelled = true;
                return;
            }
            const auto zi = static_cast<size_t>(z);
            const int64_t zl = taps[2].lo[zi];
            const int64_t zh = taps[2].hi[zi];
            const double wz = taps[2].w[zi];
            for (int64_t y = 0; y < ny; ++y) {
                const auto yi = static_cast<size_t>(y);
                const int64_t yl = taps[1].lo[yi];
                const int64_t yh = taps[1].hi[yi];
                const double wy = taps[1].w[yi];
                float* row = out + (z * ny + y) * nx;
                for (int64_t x = 0; x < nx; ++x) {
                    const auto xi = static_cast<size_t>(x);
                    const int64_t xl = taps[0].lo[xi];
                    const int64_t xh = taps[0].hi[xi];
                    const double wx = taps[0].w[xi];
                    const double v00 = sample(xl, yl, zl) + (sample(xh, yl, zl) - sample(xl, yl, zl)) * wx;
                    const double v10 = sample(xl, yh, zl) + (sample(xh, yh, zl) - sample(xl, yh, zl)) * wx;
                    const double v01 = sample(xl, yl, zh) + (sample(xh, yl, zh) - sample(xl, yl, zh)) * wx;
                    const double v11 = sample(xl, yh, zh) + (sample(xh, yh, zh) - sample(xl, yh, zh)) * wx;
                    const double v0 = v00 + (v10 - v00) * wy;
                    const double v1 = v01 + (v11 - v01) * wy;
                    double v = v0 + (v1 - v0) * wz;
                    if (inv) v = v * (p.window_high - p.window_low) + p.window_low;
                    row[x] = static_cast<float>(v);
                }
            }
        }
    });
    if (cancelled) throw Cancelled();
}

}  // namespace ctcf
