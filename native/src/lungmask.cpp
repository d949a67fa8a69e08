// lungmask.cpp — the original lungmask preprocessing (architectures.md §2.6): per slice a body mask at 128 x 128,
// the bounding box of its first region, a crop resized to 256 x 256 (scipy zoom semantics), HU -> [0, 1]; and
// the way back: label maps resized into their boxes (nearest) on the original slices.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <queue>
#include <string>
#include <vector>

#include "ctcf.h"
#include "guard.h"
#include "volume.h"

namespace ctcf {
namespace {

using Mask = std::vector<uint8_t>;  // row-major h x w

// scipy.ndimage.zoom source coordinate of output index o (corner-aligned): o * (n_in - 1) / (n_out - 1).
double zoom_coord(int64_t o, int64_t n_in, int64_t n_out) {
    return n_out > 1 ? static_cast<double>(o) * static_cast<double>(n_in - 1) / static_cast<double>(n_out - 1) : 0.0;
}

// Nearest zoom (order 0): picks floor(coord + 0.5).
template <typename T>
std::vector<T> zoom_nearest(const std::vector<T>& src, int64_t h, int64_t w, int64_t oh, int64_t ow) {
    std::vector<T> out(static_cast<size_t>(oh * ow));
    for (int64_t r = 0; r < oh; ++r) {
        const int64_t sr = std::min(h - 1, static_cast<int64_t>(std::floor(zoom_coord(r, h, oh) + 0.5)));
        for (int64_t c = 0; c < ow; ++c) {
            const int64_t sc = std::min(w - 1, static_cast<int64_t>(std::floor(zoom_coord(c, w, ow) + 0.5)));
            out[static_cast<size_t>(r * ow + c)] = src[static_cast<size_t>(sr * w + sc)];
        }
    }
    return out;
}

// Bilinear zoom (order 1, corner-aligned) of a float image.
std::vector<float> zoom_linear(const float* src, int64_t h, int64_t w, int64_t stride, int64_t oh, int64_t ow) {
    std::vector<float> out(static_cast<size_t>(oh * ow));
    for (int64_t r = 0; r < oh; ++r) {
        const double y = zoom_coord(r, h, oh);
        const int64_t y0 = std::min(h - 1, static_cast<int64_t>(std::floor(y)));
        const int64_t y1 = std::min(h - 1, y0 + 1);
        const double fy = y - static_cast<double>(y0);
        for (int64_t c = 0; c < ow; ++c) {
            const double x = zoom_coord(c, w, ow);
            const int64_t x0 = std::min(w - 1, static_cast<int64_t>(std::floor(x)));
            const int64_t x1 = std::min(w - 1, x0 + 1);
            const double fx = x - static_cast<double>(x0);
            const double a = src[y0 * stride + x0] + (src[y0 * stride + x1] - src[y0 * stride + x0]) * fx;
            const double b = src[y1 * stride + x0] + (src[y1 * stride + x1] - src[y1 * stride + x0]) * fx;
            out[static_cast<size_t>(r * ow + c)] = static_cast<float>(a + (b - a) * fy);
        }
    }
    return out;
}

// Binary dilation / erosion with the 3 x 3 cross, outside the image = 0 (scipy's border_value=0).
Mask morph(const Mask& m, int64_t h, int64_t w, bool dilate) {
    Mask out(m.size(), 0);
    auto at = [&](int64_t r, int64_t c) -> uint8_t {
        return (r < 0 || c < 0 || r >= h || c >= w) ? 0 : m[static_cast<size_t>(r * w + c)];
    };
    for (int64_t r = 0; r < h; ++r) {
        for (int64_t c = 0; c < w; ++c) {
            const uint8_t n[5] = {at(r, c), at(r - 1, c), at(r + 1, c), at(r, c - 1), at(r, c + 1)};
            bool v = dilate ? false : true;
            for (uint8_t x : n) v = dilate ? (v || x) : (v && x);
            out[static_cast<size_t>(r * w + c)] = v ? 1 : 0;
        }
    }
    return out;
}

// Connected components; returns labels (0 = background, 1.. in raster order of first pixel) and the count.
int label(const Mask& m, int64_t h, int64_t w, bool eight, std::vector<int>& labels) {
    labels.assign(m.size(), 0);
    int next = 0;
    std::queue<int64_t> q;
    for (int64_t i = 0; i < h * w; ++i) {
        if (!m[static_cast<size_t>(i)] || labels[static_cast<size_t>(i)]) continue;
        ++next;
        labels[static_cast<size_t>(i)] = next;
        q.push(i);
        while (!q.empty()) {
            const int64_t p = q.front();
            q.pop();
            const int64_t r = p / w, c = p % w;
            for (int64_t dr = -1; dr <= 1; ++dr) {
                for (int64_t dc = -1; dc <= 1; ++dc) {
                    if ((dr == 0 && dc == 0) || (!eight && dr != 0 && dc != 0)) continue;
                    const int64_t rr = r + dr, cc = c + dc;
                    if (rr < 0 || cc < 0 || rr >= h || cc >= w) continue;
                    const int64_t n = rr * w + cc;
                    if (m[static_cast<size_t>(n)] && !labels[static_cast<size_t>(n)]) {
                        labels[static_cast<size_t>(n)] = next;
                        q.push(n);
                    }
                }
            }
        }
    }
    return next;
}

// binary_fill_holes with a full 3 x 3 structure: background not 8-connected to the border becomes foreground.
Mask fill_holes(const Mask& m, int64_t h, int64_t w) {
    Mask outside(m.size(), 0);
    std::queue<int64_t> q;
    auto seed = [&](int64_t r, int64_t c) {
        const int64_t i = r * w + c;
        if (!m[static_cast<size_t>(i)] && !outside[static_cast<size_t>(i)]) {
            outside[static_cast<size_t>(i)] = 1;
            q.push(i);
        }
    };
    for (int64_t r = 0; r < h; ++r) {
        seed(r, 0);
        seed(r, w - 1);
    }
    for (int64_t c = 0; c < w; ++c) {
        seed(0, c);
        seed(h - 1, c);
    }
    while (!q.empty()) {
        const int64_t p = q.front();
        q.pop();
        const int64_t r = p / w, c = p % w;
        for (int64_t dr = -1; dr <= 1; ++dr) {
            for (int64_t dc = -1; dc <= 1; ++dc) {
                const int64_t rr = r + dr, cc = c + dc;
                if (rr < 0 || cc < 0 || rr >= h || cc >= w) continue;
                seed(rr, cc);
            }
        }
    }
    Mask out(m.size());
    for (size_t i = 0; i < m.size(); ++i) out[i] = outside[i] ? 0 : 1;
    return out;
}

// lungmask's simple_bodymask on one clipped HU slice (h x w, row stride `stride`).
Mask body_mask(const float* slice, int64_t h, int64_t w, int64_t stride) {
    const int64_t n = 128;
    std::vector<float> img(static_cast<size_t>(h * w));
    for (int64_t r = 0; r < h; ++r) std::memcpy(&img[static_cast<size_t>(r * w)], slice + r * stride, sizeof(float) * w);
    std::vector<float> small = zoom_nearest(img, h, w, n, n);
    Mask m(small.size());
    for (size_t i = 0; i < small.size(); ++i) m[i] = small[i] > -500.0f ? 1 : 0;
    m = morph(morph(m, n, n, true), n, n, false);  // closing, 1 iteration
    m = fill_holes(m, n, n);
    m = morph(morph(m, n, n, false), n, n, false);  // erosion, 2 iterations
    std::vector<int> labels;
    const int count = label(m, n, n, /*eight=*/false, labels);
    if (count > 0) {
        std::vector<int64_t> area(static_cast<size_t>(count + 1), 0);
        for (int l : labels) ++area[static_cast<size_t>(l)];
        int best = 1;
        for (int l = 2; l <= count; ++l) {
            if (area[static_cast<size_t>(l)] > area[static_cast<size_t>(best)]) best = l;
        }
        for (size_t i = 0; i < m.size(); ++i) m[i] = labels[i] == best ? 1 : 0;
        m = morph(morph(m, n, n, true), n, n, true);  // dilation, 2 iterations
    }
    return zoom_nearest(m, n, n, h, w);
}

}  // namespace
}  // namespace ctcf

extern "C" {

CTCF_API int32_t ctcf_lungmask_preprocess(const ctcf_volume* lps_hu, int64_t size, float* out, int64_t* boxes,
                                          ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::check_volume(lps_hu, "volume");
    ctcf::require(out, "out");
    ctcf::require(boxes, "boxes");
    if (size < 2 || size > 4096) throw ctcf::InvalidArgument("size must be in 2..4096");
    const int64_t w = lps_hu->dims[0], h = lps_hu->dims[1], d = lps_hu->dims[2];
    if (w < 2 || h < 2 || d < 1) throw ctcf::InvalidArgument("slices must be at least 2 x 2");
    std::vector<float> slice(static_cast<size_t>(h * w));
    for (int64_t z = 0; z < d; ++z) {
        const float* src = lps_hu->data + z * h * w;
        for (int64_t i = 0; i < h * w; ++i) slice[static_cast<size_t>(i)] = std::min(600.0f, std::max(-1024.0f, src[i]));
        ctcf::Mask body = ctcf::body_mask(slice.data(), h, w, w);
        std::vector<int> labels;
        int64_t r0 = 0, c0 = 0, r1 = h, c1 = w;
        if (ctcf::label(body, h, w, /*eight=*/true, labels) > 0) {
            r0 = h;
            c0 = w;
            r1 = 0;
            c1 = 0;
            for (int64_t i = 0; i < h * w; ++i) {
                if (labels[static_cast<size_t>(i)] != 1) continue;
                r0 = std::min(r0, i / w);
                r1 = std::max(r1, i / w + 1);
                c0 = std::min(c0, i % w);
                c1 = std::max(c1, i % w + 1);
            }
        }
        std::vector<float> crop = ctcf::zoom_linear(slice.data() + r0 * w + c0, r1 - r0, c1 - c0, w, size, size);
        float* dst = out + z * size * size;
        for (size_t i = 0; i < crop.size(); ++i) dst[i] = (std::min(crop[i], 600.0f) + 1024.0f) / 1624.0f;
        boxes[4 * z + 0] = r0;
        boxes[4 * z + 1] = c0;
        boxes[4 * z + 2] = r1;
        boxes[4 * z + 3] = c1;
    }
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

CTCF_API int32_t ctcf_lungmask_restore(const float* labels, int64_t size, const int64_t* boxes, ctcf_volume* out,
                                       ctcf_error* err) {
    CTCF_API_BEGIN
    ctcf::require(labels, "labels");
    ctcf::require(boxes, "boxes");
    ctcf::check_volume(out, "output volume");
    const int64_t w = out->dims[0], h = out->dims[1], d = out->dims[2];
    std::vector<float> lab(static_cast<size_t>(size * size));
    for (int64_t z = 0; z < d; ++z) {
        const int64_t r0 = boxes[4 * z], c0 = boxes[4 * z + 1], r1 = boxes[4 * z + 2], c1 = boxes[4 * z + 3];
        if (r0 < 0 || c0 < 0 || r1 > h || c1 > w || r0 >= r1 || c0 >= c1) {
            throw ctcf::InvalidArgument("box of slice " + std::to_string(z) + " is outside the slice");
        }
        std::memcpy(lab.data(), labels + z * size * size, sizeof(float) * lab.size());
        std::vector<float> back = ctcf::zoom_nearest(lab, size, size, r1 - r0, c1 - c0);
        float* dst = out->data + z * h * w;
        std::fill(dst, dst + h * w, 0.0f);
        for (int64_t r = r0; r < r1; ++r) {
            std::memcpy(dst + r * w + c0, &back[static_cast<size_t>((r - r0) * (c1 - c0))], sizeof(float) * (c1 - c0));
        }
    }
    return ctcf::set_ok(err);
    CTCF_API_END(err)
}

}  // extern "C"
