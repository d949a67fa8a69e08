/* ctcf.h — the only public C ABI of the ctcf LibTorch kernel.
 *
 * Rules every entry point follows (the Java binding in org.ctcf.internal relies on them):
 *  - C linkage, prefix ctcf_, no C++ type crosses the boundary.
 *  - Every fallible function returns an int32_t status (a ctcf_status value, CTCF_OK = 0) and, when the
 *    caller passes a non-NULL ctcf_error*, writes the same code and a NUL-terminated message into it.
 *    The message travels with the call; there is no global "last error" to remember to fetch.
 *  - No C++ exception, abort or exit ever leaves the library: c10::Error, std::exception and anything else
 *    are caught in the entry point and turned into a status.
 *  - Ownership is stated per function. Voxel buffers passed in are owned by the caller and only borrowed for
 *    the duration of the call. Objects the library creates (ctcf_context) are freed only by their ctcf_*_free.
 *
 * Voxel layout everywhere: float32, x fastest: value(x, y, z) = data[x + nx * (y + ny * z)]
 * (the NIfTI / Fortran order of the on-disk data). Inside the kernel that is a contiguous [nz, ny, nx] tensor,
 * so each slice z is one contiguous plane.
 */
#ifndef CTCF_H
#define CTCF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define CTCF_API __declspec(dllexport)
#else
#define CTCF_API __attribute__((visibility("default")))
#endif

/* Bumped whenever a signature, struct layout or enum value below changes. The Java side refuses to load a
 * library whose ctcf_abi_version() differs from the one it was written for. */
#define CTCF_ABI_VERSION 11

/* Status codes. Values are stable and mirrored in org.ctcf.api.ErrorCode (by value, never by position). */
typedef enum ctcf_status {
    CTCF_OK = 0,
    CTCF_ERR_INVALID_ARGUMENT = 1, /* a NULL pointer, a bad size or an inconsistent parameter */
    CTCF_ERR_TORCH = 2,            /* LibTorch raised c10::Error (shape mismatch, bad dtype, ...) */
    CTCF_ERR_OUT_OF_MEMORY = 3,    /* host or device allocation failed */
    CTCF_ERR_INTERNAL = 4,         /* another std::exception */
    CTCF_ERR_UNKNOWN = 5,          /* a non-standard exception */
    CTCF_ERR_UNSUPPORTED = 6,      /* the request is valid but this build cannot do it (e.g. no CUDA) */
    CTCF_ERR_CANCELLED = 7         /* the caller cancelled the context while the call ran */
} ctcf_status;

/* Capacity of ctcf_error.message including the terminating NUL; longer messages are truncated. */
#define CTCF_ERROR_MESSAGE_CAPACITY 2048

/* Caller-allocated error record. Owned by the caller; the library only writes into it. */
typedef struct ctcf_error {
    int32_t code;                              /* a ctcf_status value; CTCF_OK after a successful call */
    char message[CTCF_ERROR_MESSAGE_CAPACITY]; /* NUL-terminated UTF-8 */
} ctcf_error;

/* A volume the caller owns. The library reads it (inputs) or writes it (outputs) only during one call. */
typedef struct ctcf_volume {
    float* data;        /* nx*ny*nz float32 voxels, x fastest; never retained after the call */
    int64_t dims[3];    /* nx, ny, nz; each >= 1 */
    double spacing[3];  /* voxel size in mm along x, y, z; each > 0 */
} ctcf_volume;

/* Device kinds for ctcf_context_create. */
typedef enum ctcf_device_kind {
    CTCF_DEVICE_CPU = 0,
    CTCF_DEVICE_CUDA = 1
} ctcf_device_kind;

/* The kernel's preprocessing pipeline, in order:
 *  1. reorient: output axis a takes input axis axis_perm[a], reversed if axis_flip[a] != 0
 *     (the caller derives this from the affine; for RAS it maps each voxel axis onto +R, +A, +S);
 *  2. resample each axis with target_spacing[a] > 0 to that spacing: output voxel i sits at input index
 *     i * target / input_spacing (first voxel centres coincide), n_out = rint((n_in - 1) * input / target) + 1,
 *     linear interpolation along each axis (= trilinear), border values beyond the last voxel;
 *  3. if window_low < window_high: v -> clamp((v - window_low) / (window_high - window_low), 0, 1);
 *  4. in-plane pad (value pad_value, split floor(d/2) before, the rest after) then centre-crop
 *     (start floor(d/2)) to in_plane_size[0] x in_plane_size[1] where that size is > 0; z is untouched. */
typedef struct ctcf_preprocess_params {
    int32_t axis_perm[3];
    int32_t axis_flip[3];
    double target_spacing[3];
    double window_low;
    double window_high;
    int64_t in_plane_size[2];
    double pad_value;
} ctcf_preprocess_params;

/* Flags for ctcf_context_create. */
typedef enum ctcf_context_flags {
    CTCF_CONTEXT_DEFAULT = 0,
    /* Use only LibTorch tensor operations, even where the kernel has a fused CPU loop for the same result.
     * For cross-checking the two implementations; slower. */
    CTCF_CONTEXT_TENSOR_OPS_ONLY = 1
} ctcf_context_flags;

/* Opaque execution context: device, thread settings, cancellation flag. */
typedef struct ctcf_context ctcf_context;

/* Never fails. Compare with CTCF_ABI_VERSION of the header the caller was written for. */
CTCF_API int32_t ctcf_abi_version(void);

/* Writes "ctcf <version>; LibTorch <version>; CUDA <yes/no>" into buf (NUL-terminated, truncated to cap).
 * Never fails for cap >= 1; returns CTCF_ERR_INVALID_ARGUMENT for buf == NULL or cap == 0. */
CTCF_API int32_t ctcf_build_info(char* buf, size_t cap);

/* The layout of a struct this header shares with callers, so a binding can check its own copy instead of
 * trusting it: field == NULL or "" writes sizeof(type) to *value, else offsetof(type, field). type is the struct's
 * name without the ctcf_ prefix ("shift_options", "result_info", ...). CTCF_ERR_INVALID_ARGUMENT names an unknown
 * type or field. */
CTCF_API int32_t ctcf_abi_layout(const char* type, const char* field, int64_t* value, ctcf_error* err);

/* Creates a context. device: CTCF_DEVICE_CPU or CTCF_DEVICE_CUDA with device_index >= 0.
 * num_threads > 0 sets LibTorch's intra-op thread count (process-wide, as LibTorch has one pool); 0 keeps it.
 * flags: a bitwise OR of ctcf_context_flags.
 * The first context created also tunes glibc malloc to keep freed memory for reuse (large tensors otherwise
 * page-fault on every allocation); set CTCF_MALLOC_TUNING=off in the environment to prevent that.
 * On success *out receives a context the caller must release with ctcf_context_free. */
CTCF_API int32_t ctcf_context_create(int32_t device, int32_t device_index, int32_t num_threads, int32_t flags,
                                     ctcf_context** out, ctcf_error* err);

/* Frees a context. NULL is ignored. The caller guarantees no call is using it (the Java side reference-counts). */
CTCF_API void ctcf_context_free(ctcf_context* ctx);

/* Asks calls running on ctx to stop at their next check point (they then return CTCF_ERR_CANCELLED).
 * Thread-safe; cancellation stays set until ctcf_context_reset_cancel. */
CTCF_API int32_t ctcf_context_cancel(ctcf_context* ctx, ctcf_error* err);
CTCF_API int32_t ctcf_context_reset_cancel(ctcf_context* ctx, ctcf_error* err);
/* The peak bytes the device's caching allocator has handed out (CUDA: its allocated_bytes statistic, not what
 * nvidia-smi shows) since the last reset; with reset != 0 it starts a new peak first. -1 on the CPU, or when this
 * LibTorch has no device allocator statistics. For benchmarks. */
CTCF_API int32_t ctcf_context_device_memory(ctcf_context* ctx, int32_t reset, int64_t* peak_bytes, ctcf_error* err);

/* Computes the output dims of ctcf_preprocess without touching voxels. in->data may be NULL. */
CTCF_API int32_t ctcf_preprocess_dims(const ctcf_volume* in, const ctcf_preprocess_params* params,
                                      int64_t out_dims[3], ctcf_error* err);

/* Runs the preprocessing pipeline from `in` into `out`. Both buffers are owned by the caller; out->dims must
 * equal ctcf_preprocess_dims(...) and out->spacing is ignored. `in` is only read. */
CTCF_API int32_t ctcf_preprocess(ctcf_context* ctx, const ctcf_volume* in, const ctcf_preprocess_params* params,
                                 ctcf_volume* out, ctcf_error* err);

/* The inverse geometry of ctcf_preprocess: maps a processed volume back onto the original grid described by
 * `out` (its dims and spacing are the original's; its data buffer receives the result). Undoes the in-plane
 * pad/crop (voxels cropped away become pad_value), resamples back with the same linear rule, and undoes the
 * reorientation. If invert_window != 0 and the window is enabled, values are mapped back to
 * v * (high - low) + low. `processed` is only read. */
CTCF_API int32_t ctcf_preprocess_inverse(ctcf_context* ctx, const ctcf_volume* processed,
                                         const ctcf_preprocess_params* params, int32_t invert_window,
                                         ctcf_volume* out, ctcf_error* err);

/* Diagnostics for `ctcf doctor` and the boundary tests: what = 0 runs a small LibTorch computation and
 * returns CTCF_OK; 1 provokes a LibTorch shape error; 2 throws a std::runtime_error; 3 throws a
 * non-standard exception; 4 throws std::bad_alloc; 5 sleeps for `arg` milliseconds, checking ctx's
 * cancellation flag every millisecond. Each failure must come back as a status with a message. */
CTCF_API int32_t ctcf_selftest(ctcf_context* ctx, int32_t what, int64_t arg, ctcf_error* err);


/* ---- Slice autoencoder (taming VQModel) ------------------------------------------------------------------- */

/* Element types of tensor data handed to the kernel (checkpoint storages). */
typedef enum ctcf_dtype {
    CTCF_DTYPE_F32 = 0,
    CTCF_DTYPE_F64 = 1,
    CTCF_DTYPE_F16 = 2,
    CTCF_DTYPE_BF16 = 3,
    CTCF_DTYPE_I64 = 4,
    CTCF_DTYPE_I32 = 5,
    CTCF_DTYPE_I16 = 6,
    CTCF_DTYPE_I8 = 7,
    CTCF_DTYPE_U8 = 8,
    CTCF_DTYPE_BOOL = 9
} ctcf_dtype;

#define CTCF_MAX_LEVELS 16
#define CTCF_MAX_DIMS 8

/* A view on an object's named tensors (a model's parameters and buffers, an optimiser's state), the one way to
 * list, load and read them for every kind of object: ctcf_autoencoder_params, ctcf_classifier_params,
 * ctcf_perceptual_params, ctcf_trainer_state. The view is borrowed: it belongs to its object, stays valid exactly
 * as long as the object and is never freed on its own. */
typedef struct ctcf_params ctcf_params;

/* The number of named tensors. */
CTCF_API int32_t ctcf_params_count(const ctcf_params* p, int64_t* count, ctcf_error* err);
/* Name (NUL-terminated, truncated to name_cap) and shape of tensor `index` (0 <= index < count). */
CTCF_API int32_t ctcf_params_info(const ctcf_params* p, int64_t index, char* name, size_t name_cap, int32_t* ndim,
                                  int64_t shape[CTCF_MAX_DIMS], ctcf_error* err);
/* Copies caller memory into the named tensor: `data` holds elements of `dtype` laid out by `shape` and `strides`
 * (in elements; NULL = contiguous), converted to the tensor's type. The shape must equal the tensor's. The caller
 * keeps ownership of data. */
CTCF_API int32_t ctcf_params_set(ctcf_params* p, const char* name, int32_t dtype, const void* data, int32_t ndim,
                                 const int64_t* shape, const int64_t* strides, ctcf_error* err);
/* Copies the named tensor (float32, contiguous) into dst, which holds numel floats. */
CTCF_API int32_t ctcf_params_get(const ctcf_params* p, const char* name, float* dst, int64_t numel, ctcf_error* err);

/* model.params.ddconfig + embed_dim + n_embed of a taming VQModel. */
typedef struct ctcf_vq_config {
    int64_t ch;
    int64_t out_ch;
    int64_t in_channels;
    int64_t resolution;
    int64_t z_channels;
    int64_t num_res_blocks;
    int64_t embed_dim;
    int64_t n_embed;
    int32_t double_z;
    int32_t resamp_with_conv;
    int32_t n_ch_mult;
    int32_t n_attn_resolutions;
    int64_t ch_mult[CTCF_MAX_LEVELS];
    int64_t attn_resolutions[CTCF_MAX_LEVELS];
    double dropout;
} ctcf_vq_config;

/* How volume slices become autoencoder images and back. Encoding a slice s ([ny][nx], or [nx][ny] if transposed):
 * x = s * in_scale + in_shift; resize to resize x resize (bilinear, if resize > 0); if reference_orientation:
 * rot90(k=1, dims=[2,3]) then flip(dims=[3]); repeated over in_channels; encoder -> quant_conv -> codebook.
 * Decoding inverts each step: decoder output (channel mean if out_ch > 1), flip(3) then rot90(k=3), resize back
 * (bilinear; with antialias != 0 a shrinking resize is antialiased, as torchvision's Resize does from 0.17 on),
 * y * out_scale + out_shift, transpose back. The shifted latent is never re-quantized.
 * ct-counterfactuals' wrapper on ctcf's RAS slices [y][x] is transpose = 1, reference_orientation = 0: its dataset
 * anti-transposes the RAS slice for display and its wrapper anti-transposes it again, so the VQ-GAN sees the RAS
 * slice with rows along x. */
typedef struct ctcf_slice_wrapper {
    double in_scale;
    double in_shift;
    double out_scale;
    double out_shift;
    int64_t resize;
    int32_t transpose;
    int32_t reference_orientation;
    int32_t antialias;
    int32_t reserved;  /* 0 */
} ctcf_slice_wrapper;

/* Opaque: a VQModel with its weights, on one device. */
typedef struct ctcf_autoencoder ctcf_autoencoder;
/* Opaque: a float32 tensor the kernel owns (e.g. a volume's latents [D, C, h, w]). */
typedef struct ctcf_tensor ctcf_tensor;

/* Builds a VQModel with randomly initialised weights on the CPU. Free with ctcf_autoencoder_free. */
CTCF_API int32_t ctcf_autoencoder_create(const ctcf_vq_config* config, ctcf_autoencoder** out, ctcf_error* err);
CTCF_API void ctcf_autoencoder_free(ctcf_autoencoder* ae);

/* The autoencoder's parameters, then buffers, by state_dict name (see ctcf_params). */
CTCF_API int32_t ctcf_autoencoder_params(ctcf_autoencoder* ae, ctcf_params** out, ctcf_error* err);

CTCF_API int32_t ctcf_autoencoder_to(ctcf_autoencoder* ae, ctcf_context* ctx, ctcf_error* err);

/* Encodes every slice z of `in` (batches of `batch` slices, no autograd) into quantized latents [nz, C, h, w].
 * *latents receives a tensor the caller frees with ctcf_tensor_free. */
CTCF_API int32_t ctcf_autoencoder_encode_volume(ctcf_context* ctx, ctcf_autoencoder* ae,
                                                const ctcf_slice_wrapper* wrapper, const ctcf_volume* in,
                                                int64_t batch, ctcf_tensor** latents, ctcf_error* err);

/* Decodes latents [nz, C, h, w] into `out` (caller-owned, dims nx, ny, nz as when encoded). */
CTCF_API int32_t ctcf_autoencoder_decode_volume(ctcf_context* ctx, ctcf_autoencoder* ae,
                                                const ctcf_slice_wrapper* wrapper, const ctcf_tensor* latents,
                                                int64_t batch, ctcf_volume* out, ctcf_error* err);

/* Raw VQModel calls on a [N, C, H, W] float32 batch (no wrapper): op 0 = encode (quantized latent), 1 = decode,
 * 2 = encoder + quant_conv (continuous latent), 3 = codebook indices (as float32, [N*h*w]). */
CTCF_API int32_t ctcf_autoencoder_run(ctcf_context* ctx, ctcf_autoencoder* ae, int32_t op, const float* in,
                                      const int64_t shape[4], ctcf_tensor** out, ctcf_error* err);

/* Rank and shape of a kernel tensor. */
CTCF_API int32_t ctcf_tensor_info(const ctcf_tensor* t, int32_t* ndim, int64_t shape[CTCF_MAX_DIMS], ctcf_error* err);
/* Copies a kernel tensor (float32, contiguous order) into dst, which holds numel floats. */
CTCF_API int32_t ctcf_tensor_read(const ctcf_tensor* t, float* dst, int64_t numel, ctcf_error* err);
/* Creates a kernel tensor from caller floats (copied) with the given shape. */
CTCF_API int32_t ctcf_tensor_create(const float* data, int32_t ndim, const int64_t* shape, ctcf_tensor** out,
                                    ctcf_error* err);
CTCF_API void ctcf_tensor_free(ctcf_tensor* t);

/* ---- Classifiers (TorchScript) ----------------------------------------------------------------------------- */

/* How a [D, ny, nx] volume is laid out for the classifier. */
typedef enum ctcf_layout {
    CTCF_LAYOUT_BCDHW = 0, /* [B, 1, nz, ny, nx]: slices first (ctcf's own order) */
    CTCF_LAYOUT_BCHWD = 1  /* [B, 1, nx, ny, nz]: the reference's [B, 1, H, W, D] on a RAS volume */
} ctcf_layout;

/* Activation applied to the classifier's outputs over the class axis before the target is taken. */
typedef enum ctcf_activation {
    CTCF_ACTIVATION_NONE = 0,
    CTCF_ACTIVATION_SIGMOID = 1,
    CTCF_ACTIVATION_SOFTMAX = 2,
    CTCF_ACTIVATION_EXP = 3 /* log-probabilities -> probabilities */
} ctcf_activation;

/* How a segmentation output [B, C, ...spatial] becomes one number per volume. */
typedef enum ctcf_reducer {
    CTCF_REDUCER_NONE = 0,          /* the output is [B, K]: take column `target` */
    CTCF_REDUCER_ONE_MINUS_MEAN = 1, /* 1 - mean over voxels of channel `target` */
    CTCF_REDUCER_MEAN = 2,           /* mean over voxels of channel `target` */
    CTCF_REDUCER_SUM = 3             /* sum over voxels of channel `target` */
} ctcf_reducer;

/* Which number is explained: v = reduce(activation(output))[target]; s = v + offset; then sigmoid(s) if
 * apply_sigmoid (the reference's adjustment(f(x))[:, target] followed by LatentShift's apply_sigmoid). */
typedef struct ctcf_score_spec {
    int64_t target;
    int32_t apply_sigmoid;
    int32_t activation;
    double offset;
    int32_t reducer;
    int32_t reserved;
} ctcf_score_spec;

/* Opaque: a differentiable classifier (TorchScript module) on one device. */
typedef struct ctcf_classifier ctcf_classifier;

/* Loads a TorchScript file (torch.jit.save / torch::jit::Module::save). max_batch: the largest batch the model
 * accepts (0 = any). Free with ctcf_classifier_free. */
CTCF_API int32_t ctcf_classifier_load(const char* path, int32_t layout, int64_t max_batch, ctcf_classifier** out,
                                      ctcf_error* err);
/* Builds a TorchScript module from source text defining `forward(self, x)` (no parameters). For tests and
 * tools that must not depend on Python. */
CTCF_API int32_t ctcf_classifier_define(const char* source, int32_t layout, int64_t max_batch, ctcf_classifier** out,
                                        ctcf_error* err);
/* Like ctcf_classifier_define, with `count` named submodules (names[i]: "features", or dotted "features.conv" whose
 * parent is also given), each built from its own source; the classifier's source calls them as self.<name>(...).
 * For tests and tools that need a model with layers (Grad-CAM on a named submodule). */
CTCF_API int32_t ctcf_classifier_define_nested(const char* source, const char* const* names,
                                               const char* const* sources, int32_t count, int32_t layout,
                                               int64_t max_batch, ctcf_classifier** out, ctcf_error* err);
/* Builds a built-in architecture with random weights: "lungmask-unet" (lungmask's U-Net, `classes` output
 * channels, run on every slice), "i3resnet152" (Merlin's inflated ResNet-152 with `classes` phenotype logits).
 * Load weights through ctcf_classifier_params. */
CTCF_API int32_t ctcf_classifier_builtin(const char* architecture, int64_t classes, int32_t layout, int64_t max_batch,
                                         ctcf_classifier** out, ctcf_error* err);
/* Volumes are resized in-plane to nx x ny (trilinear) before the model sees them; 0 x 0 turns it off. */
CTCF_API int32_t ctcf_classifier_set_input_size(ctcf_classifier* clf, int64_t nx, int64_t ny, ctcf_error* err);
/* The in-plane orientation of the slices the model sees. CTCF_ORIENTATION_RAS: the RAS array as the layout says
 * (BCHWD: [x][y], rows along R; BCDHW: [y][x]). CTCF_ORIENTATION_DISPLAY: the radiological display of
 * ct-counterfactuals' dataset (its rot90(k=1) + flip of the RAS slice: rows from anterior to posterior, columns from
 * the patient's right to left), which lungmask's weights expect. Output maps are turned back, so callers see no
 * difference. Not for fully convolutional slab-scored models (their slab scoring assumes the RAS layout). */
typedef enum ctcf_orientation {
    CTCF_ORIENTATION_RAS = 0,
    CTCF_ORIENTATION_DISPLAY = 1
} ctcf_orientation;
CTCF_API int32_t ctcf_classifier_set_orientation(ctcf_classifier* clf, int32_t orientation, ctcf_error* err);
/* The slices [*a, *b) of a depth-`depth` volume that fast mode runs the classifier on when slices [s, e) change:
 * the slab a max-pooled fully convolutional detector's changed map rows read, the changed slices themselves for a
 * per-slice classifier with a reducer, else the whole volume. For benchmarks (the cost floor of a lambda step). */
CTCF_API int32_t ctcf_classifier_score_span(const ctcf_classifier* clf, const ctcf_score_spec* spec, int64_t s,
                                            int64_t e, int64_t depth, int64_t* a, int64_t* b, ctcf_error* err);
/* Parameters of a built-in classifier (a TorchScript one has an empty view), see ctcf_params. */
CTCF_API int32_t ctcf_classifier_params(ctcf_classifier* clf, ctcf_params** out, ctcf_error* err);
/* Raw outputs of the model for one volume: writes up to cap values and the output shape (rank <= CTCF_MAX_DIMS). */
CTCF_API int32_t ctcf_classifier_outputs(ctcf_context* ctx, ctcf_classifier* clf, const ctcf_volume* in, float* out,
                                         int64_t cap, int32_t* ndim, int64_t shape[CTCF_MAX_DIMS], ctcf_error* err);
/* The explained score for one volume under a score spec. */
CTCF_API int32_t ctcf_classifier_score(ctcf_context* ctx, ctcf_classifier* clf, const ctcf_score_spec* score,
                                       const ctcf_volume* in, double* value, ctcf_error* err);

/* Saves the module as a TorchScript file. */
CTCF_API int32_t ctcf_classifier_save(const ctcf_classifier* clf, const char* path, ctcf_error* err);
CTCF_API int32_t ctcf_classifier_to(ctcf_classifier* clf, ctcf_context* ctx, ctcf_error* err);
CTCF_API void ctcf_classifier_free(ctcf_classifier* clf);

/* The label map of a segmentation classifier, written into `out` (the label of each voxel as a float, x fastest):
 * per voxel the index of the largest class, or for a one-channel map 1 where its logit is >= 0 (sigmoid >= 0.5),
 * else 0. A map whose size differs from out->dims is read nearest-neighbour (voxel i of an axis of n takes map row
 * floor(i * m / n)). */
CTCF_API int32_t ctcf_classifier_argmax(ctcf_context* ctx, ctcf_classifier* clf, const ctcf_volume* in,
                                        ctcf_volume* out, ctcf_error* err);

/* The original lungmask preprocessing of an LPS volume in HU (rows = A->P, columns = R->L): clip to [-1024, 600],
 * per slice a body mask (threshold -500 HU at 128 x 128, closing, hole filling, erosion, largest 4-connected
 * region, dilation), the bounding box of its first 8-connected region, the crop resized to size x size
 * (scipy zoom, order 1), (HU + 1024) / 1624. `out` holds nz * size * size floats; `boxes` 4 * nz values
 * (row0, col0, row1, col1; half-open). */
CTCF_API int32_t ctcf_lungmask_preprocess(const ctcf_volume* lps_hu, int64_t size, float* out, int64_t* boxes,
                                          ctcf_error* err);
/* The way back: each size x size label map resized (nearest, scipy zoom order 0) into its box of a zero slice. */
CTCF_API int32_t ctcf_lungmask_restore(const float* labels, int64_t size, const int64_t* boxes, ctcf_volume* out,
                                       ctcf_error* err);

/* ---- Latent Shift ------------------------------------------------------------------------------------------ */

/* Stop reasons of the lambda search. */
typedef enum ctcf_stop_reason {
    CTCF_STOP_NONE = 0,            /* fix_range given: no search */
    CTCF_STOP_PREDICTION_ROSE = 1, /* the prediction stopped decreasing */
    CTCF_STOP_BELOW = 2,           /* the prediction fell below stop_below (0.05) */
    CTCF_STOP_DROPPED = 3,         /* it dropped by search_pred_diff */
    CTCF_STOP_MAX_STEPS = 4,       /* lambda <= -search_max_steps */
    CTCF_STOP_PIXEL_CAP = 5        /* pixel change over search_max_pixel_diff_pct of sum|x0| */
} ctcf_stop_reason;

typedef enum ctcf_heatmap {
    CTCF_HEATMAP_INT = 0,  /* mean_i |frame_i - frame_{i+1}| */
    CTCF_HEATMAP_MEAN = 1, /* mean_i |x0 - frame_i| */
    CTCF_HEATMAP_MAX = 2,  /* max_i |x0 - frame_i| */
    CTCF_HEATMAP_MM = 3    /* |frame_0 - frame_last| */
} ctcf_heatmap;

/* Latent Shift options; defaults are the reference's (ctcf_shift_options_default). */
typedef struct ctcf_shift_options {
    double search_pred_diff;          /* 0.8 */
    double search_step_size;          /* 10 */
    double search_max_steps;          /* 3000 */
    double search_max_pixel_diff_pct; /* 0.05 */
    double stop_below;                /* 0.05 */
    double fix_lb;                    /* used when fix_range != 0 */
    double fix_rb;
    int32_t lambda_sweep_steps;       /* 10 (the chunk sweep uses 2) */
    int32_t heatmap;                  /* ctcf_heatmap */
    int32_t fix_range;                /* != 0: lambdas = linspace(fix_lb, fix_rb, steps), no search */
    int32_t reference_mode;           /* != 0: the literal published algorithm (every step re-decodes all slices) */
    int64_t lambda_batch;             /* fast mode: lambda candidates per classifier batch (1 = sequential) */
    int64_t decoder_batch;            /* slices per no-grad decoder batch (16) */
    int64_t gradient_batch;           /* slices per vector-Jacobian micro-batch (1): bounds gradient memory */
    int32_t focus_frames;             /* chunk sweep only, 0 = none: after the sweep, the rank-1 chunk explained with
                                         this many lambda steps, reusing the sweep's latents, gradients and search
                                         (fast mode) -- fetch it with ctcf_result_take_focus */
    int32_t autocast;                 /* ctcf_autocast: the decoder and the classifier in bf16/fp16 (default off) */
    int32_t stitch;                   /* chunk sweep only, ctcf_stitch: what the sweep's counterfactual is */
    int32_t reserved;
} ctcf_shift_options;

/* A chunk sweep's counterfactual (CTCF_VOLUME_COUNTERFACTUAL, ctcf_result_info.counterfactual_prediction).
 * Every chunk's shift is computed on its own, so a mosaic of them was never scored by the method: the paper reports
 * the best chunk. */
typedef enum ctcf_stitch {
    CTCF_STITCH_BEST = 0,  /* the rank-1 chunk's own counterfactual: the reconstruction with that chunk's slices taken
                              from its lowest-scoring frame (the paper's minimum over chunks) */
    CTCF_STITCH_GREEDY = 1 /* ctcf's extension: from the best chunk, add chunks in rank order (their lowest-scoring
                              frames) while the re-scored composite strictly drops */
} ctcf_stitch;

/* Lower-precision autocast of the decoder and the classifier in an explanation (the encoder, the codebook and
 * the search stay float32). Needs LibTorch 2.x and a device whose autocast supports the type. */
typedef enum ctcf_autocast {
    CTCF_AUTOCAST_OFF = 0,
    CTCF_AUTOCAST_BF16 = 1,
    CTCF_AUTOCAST_FP16 = 2
} ctcf_autocast;

CTCF_API void ctcf_shift_options_default(ctcf_shift_options* opts);

/* What a progress callback reports. */
typedef enum ctcf_progress_phase {
    CTCF_PHASE_ENCODE_DECODE = 0, /* the volume was encoded and reconstructed */
    CTCF_PHASE_GRADIENT = 1,      /* the latent gradient of a chunk is known */
    CTCF_PHASE_SEARCH_STEP = 2,   /* the lambda search evaluated one step (lambda, prediction) */
    CTCF_PHASE_SWEEP_FRAME = 3,   /* one frame of a chunk's lambda sweep (step = frame index) */
    CTCF_PHASE_CHUNK_DONE = 4,    /* a chunk of a sweep finished (chunk of chunks) */
    CTCF_PHASE_SALIENCY = 5       /* saliency: step = work done, lambda = work in all */
} ctcf_progress_phase;

/* Progress/cancellation callback; phase is a ctcf_progress_phase. Returning non-zero cancels (the call returns
 * CTCF_ERR_CANCELLED). May be NULL. */
typedef int32_t (*ctcf_progress_fn)(void* user, int32_t phase, int64_t chunk, int64_t chunks, int64_t step,
                                    double lambda, double prediction);

/* Opaque result of an explanation or a chunk sweep; all arrays stay valid until ctcf_result_free. */
typedef struct ctcf_result ctcf_result;

/* Latent Shift of one chunk of slices [start, end) of a processed volume x (values as the autoencoder expects).
 * The classifier sees the whole volume. */
CTCF_API int32_t ctcf_explain(ctcf_context* ctx, ctcf_autoencoder* ae, const ctcf_slice_wrapper* wrapper,
                              ctcf_classifier* clf, const ctcf_score_spec* score, const ctcf_volume* x, int64_t start,
                              int64_t end, const ctcf_shift_options* opts, ctcf_progress_fn progress, void* user,
                              ctcf_result** out, ctcf_error* err);

/* The chunk sweep: Latent Shift for chunks [i, i + chunk) for i = offset + first, offset + first + stride, ...
 * below last (slice range [first, last); last <= 0 means all slices; the last chunk is clipped to the range).
 * The counterfactual is the best chunk's own (opts->stitch); the reference's display mosaic of every chunk is built and
 * scored beside it. */
CTCF_API int32_t ctcf_sweep(ctcf_context* ctx, ctcf_autoencoder* ae, const ctcf_slice_wrapper* wrapper,
                            ctcf_classifier* clf, const ctcf_score_spec* score, const ctcf_volume* x, int64_t chunk,
                            int64_t stride, int64_t offset, int64_t first, int64_t last,
                            const ctcf_shift_options* opts, ctcf_progress_fn progress, void* user, ctcf_result** out,
                            ctcf_error* err);

/* Diagnostics: the latent gradient dp/dz of slices [start, end) as Latent Shift uses it, computed the fast way
 * (one classifier backward, per-slice VJPs in micro-batches of gradient_batch) or, with reference != 0, by
 * joint autograd through the chunk as published. *out receives [end - start, C, h, w]; free it with
 * ctcf_tensor_free. */
CTCF_API int32_t ctcf_latent_gradient(ctcf_context* ctx, ctcf_autoencoder* ae, const ctcf_slice_wrapper* wrapper,
                                      ctcf_classifier* clf, const ctcf_score_spec* score, const ctcf_volume* x,
                                      int64_t start, int64_t end, int32_t reference, int64_t gradient_batch,
                                      ctcf_tensor** out, ctcf_error* err);

/* The slots of ctcf_result_info.seconds. */
typedef enum ctcf_timer {
    CTCF_TIMER_ENCODE_DECODE = 0,
    CTCF_TIMER_GRADIENT = 1,
    CTCF_TIMER_SEARCH = 2,
    CTCF_TIMER_SWEEP_FRAMES = 3,
    CTCF_TIMER_STITCHING = 4,
    CTCF_TIMER_TOTAL = 5,
    CTCF_TIMER_COUNT = 6
} ctcf_timer;

/* Scalars of a result. */
typedef struct ctcf_result_info {
    double p0;               /* prediction on the reconstruction (lambda = 0) */
    double bound;            /* the lambda bound (single chunk) */
    double stitched_prediction; /* sweep: the classifier on the stitched mosaic (CTCF_VOLUME_STITCHED) */
    double counterfactual_prediction; /* sweep: the classifier on the counterfactual (p0 when none was found) */
    double seconds[CTCF_TIMER_COUNT]; /* wall seconds by ctcf_timer */
    int64_t dims[3];         /* nx, ny, nz */
    int64_t frames;          /* number of sweep frames (single chunk) */
    int64_t lambdas_evaluated; /* distinct lambdas decoded and classified */
    int64_t slices_decoded;  /* decoder work, in slices */
    int64_t classifier_calls; /* classifier forward passes (one per volume) */
    int64_t gradient_slices; /* slices a decoder vector-Jacobian product ran through (part of slices_decoded) */
    int64_t chunks;          /* sweep: number of chunks */
    int32_t stop_reason;     /* single chunk */
    int32_t counterfactual_chunks; /* sweep: chunks in the counterfactual (0: no chunk lowered the prediction) */
} ctcf_result_info;

typedef struct ctcf_chunk_row {
    int64_t start;
    int64_t end;
    double min_prediction;
    double bound;
    double pixel_change;     /* sum |x0 - cf| over the chunk's slices at the bound */
    int32_t stop_reason;
    int32_t rank;            /* 1 = lowers the prediction most */
} ctcf_chunk_row;

typedef enum ctcf_result_array {
    CTCF_ARRAY_LAMBDAS = 0,      /* the sweep lambdas (single chunk) */
    CTCF_ARRAY_PREDICTIONS = 1,  /* their predictions */
    CTCF_ARRAY_SEARCH_LAMBDAS = 2, /* every lambda the search evaluated, in order */
    CTCF_ARRAY_SEARCH_PREDICTIONS = 3,
    CTCF_ARRAY_SLICE_PREDICTION = 4, /* sweep: per slice, the min prediction of the chunk(s) covering it */
    CTCF_ARRAY_SLICE_CHANGE = 5,     /* sweep: per slice, sum of the stitched heatmap's absolute values */
    CTCF_ARRAY_SLICE_CHANGE_SQUARED = 6, /* sweep: per slice, sum of the stitched heatmap's squares */
    CTCF_ARRAY_COUNTERFACTUAL_CHUNKS = 7 /* sweep: the indices of the chunks in the counterfactual, as added */
} ctcf_result_array;

typedef enum ctcf_result_volume_kind {
    CTCF_VOLUME_FRAME = 0,          /* single chunk: frame `index` of the sweep (index 0 = the counterfactual) */
    CTCF_VOLUME_HEATMAP = 1,        /* single chunk: the heatmap; sweep: the counterfactual's chunks' heatmaps */
    CTCF_VOLUME_RECONSTRUCTION = 2, /* x0 = decode(encode(x)) */
    CTCF_VOLUME_COUNTERFACTUAL = 3, /* single chunk: frame 0; sweep: the counterfactual (ctcf_stitch) */
    CTCF_VOLUME_STITCHED = 4,       /* sweep: every chunk's frame 0 on its own slices (the reference's display mosaic) */
    CTCF_VOLUME_STITCHED_HEATMAP = 5 /* sweep: every chunk's heatmap on its own slices */
} ctcf_result_volume_kind;

CTCF_API int32_t ctcf_result_info_get(const ctcf_result* r, ctcf_result_info* info, ctcf_error* err);
/* Pointer to an array of doubles owned by the result, and its length. */
CTCF_API int32_t ctcf_result_array_get(const ctcf_result* r, int32_t which, const double** data, int64_t* n,
                                       ctcf_error* err);
/* Copies up to cap chunk rows; *n receives the number of chunks. */
CTCF_API int32_t ctcf_result_chunks_get(const ctcf_result* r, ctcf_chunk_row* rows, int64_t cap, int64_t* n,
                                        ctcf_error* err);
/* Copies slices [z0, z1) of a result volume (`index`: the frame, for CTCF_VOLUME_FRAME) into dst, which holds
 * (z1 - z0) * ny * nx floats (x fastest, the volume layout). A result keeps each frame for its chunk only (the rest of
 * a frame is the reconstruction, composed here), so reading one slice of every frame moves one slice per frame. */
CTCF_API int32_t ctcf_result_volume_read(const ctcf_result* r, int32_t which, int64_t index, int64_t z0, int64_t z1,
                                         float* dst, ctcf_error* err);
CTCF_API void ctcf_result_free(ctcf_result* r);

/* The focus explanation of a sweep run with focus_frames > 0 (as ctcf_explain's result for the rank-1 chunk,
 * whose [start, end) are written to start/end). Ownership moves to the caller (free it with ctcf_result_free);
 * *focus is NULL when the sweep has none or it was taken already. */
CTCF_API int32_t ctcf_result_take_focus(ctcf_result* r, ctcf_result** focus, int64_t* start, int64_t* end,
                                        ctcf_error* err);

/* ---- Training ---------------------------------------------------------------------------------------------- */

/* Training options; ctcf_train_options_default fills taming's VQ-GAN defaults. */
typedef struct ctcf_train_options {
    double learning_rate;      /* Adam step size (1e-4) */
    double beta1;              /* Adam (0.5, as taming) */
    double beta2;              /* Adam (0.9, as taming) */
    double weight_decay;       /* L2 added to the gradient (0) */
    double codebook_weight;    /* autoencoder: weight of the VQ loss (1) */
    double commitment;         /* autoencoder: the quantizer's beta (0.25) */
    double disc_weight;        /* autoencoder: weight of the adaptive generator loss (0.8) */
    double disc_learning_rate; /* autoencoder: the discriminator's Adam step size (1e-4) */
    int64_t disc_start;        /* autoencoder: step from which the hinge PatchGAN trains and is used; < 0 = never */
    int64_t disc_channels;     /* autoencoder: PatchGAN width ndf (64) */
    int32_t disc_layers;       /* autoencoder: PatchGAN layers (3) */
    int32_t reserved;
    int64_t code_restart_every; /* autoencoder: every N steps, codebook entries unused since the last restart are
                                   moved onto random encoder outputs of the batch (0 = never, as taming) */
    double label_smoothing;    /* classifier: BCE against y (1 - e) + e / 2 instead of y, e in [0, 1) (0); for a
                                  pooled detector both its logit map's and its pooled logit's targets */
} ctcf_train_options;

/* What one step measured. Unused terms are 0. */
typedef struct ctcf_train_stats {
    int64_t step;              /* steps done, this one included */
    double loss;               /* the generator / classifier objective */
    double reconstruction;     /* autoencoder: mean |x - x_rec| in model units */
    double codebook;           /* autoencoder: VQ loss */
    double generator;          /* autoencoder: -mean D(x_rec) */
    double discriminator;      /* autoencoder: hinge loss of the discriminator */
    double adaptive_weight;    /* autoencoder: taming's adaptive generator weight (times disc_weight) */
    int64_t codes_used;        /* autoencoder: distinct codebook entries in the batch */
    double perceptual;         /* autoencoder: mean LPIPS distance of the batch (0 without a perceptual model) */
} ctcf_train_stats;

/* Saliency baselines (the paper's Fig. 4 comparison) of a classifier's explained score on a processed volume. */
typedef enum ctcf_saliency_method {
    CTCF_SALIENCY_GRADIENT = 0,             /* d score / d x */
    CTCF_SALIENCY_GRADIENT_X_INPUT = 1,     /* x * d score / d x */
    CTCF_SALIENCY_INTEGRATED_GRADIENTS = 2, /* (x - x') * mean of the gradient on the path from the baseline x' */
    CTCF_SALIENCY_OCCLUSION = 3,            /* mean score drop of the occluding windows covering a voxel */
    CTCF_SALIENCY_GUIDED_BACKPROP = 4,      /* d score / d x with the guided ReLU backward rule */
    CTCF_SALIENCY_GRAD_CAM = 5              /* ReLU(sum_c mean(d score / d A_c) A_c) of a layer A, resized to x */
} ctcf_saliency_method;

typedef struct ctcf_saliency_options {
    int32_t steps;      /* integrated gradients: path points (midpoint rule), 32 */
    int32_t reserved;
    double baseline;    /* integrated gradients: the constant baseline volume x' (0) */
    int64_t window[3];  /* occlusion: window size in slices, rows, columns (8, 8, 8) */
    int64_t stride[3];  /* occlusion: stride (8, 8, 8) */
    double fill;        /* occlusion: the value inside the window (0) */
    int64_t batch;      /* volumes per classifier call (4) */
    const char* layer;  /* Grad-CAM: the layer, a dotted submodule path ("features", "layer4"); NULL or "" = the
                         * built-in's default (TorchScript classifiers must name one) */
} ctcf_saliency_options;

CTCF_API void ctcf_saliency_options_default(ctcf_saliency_options* opts);

/* Writes the map (nx*ny*nz float32, the volume's layout) to out and the score of x to *value (may be NULL).
 * Progress: CTCF_PHASE_SALIENCY. */
CTCF_API int32_t ctcf_saliency(ctcf_context* ctx, ctcf_classifier* clf, const ctcf_score_spec* score,
                               const ctcf_volume* x, int32_t method, const ctcf_saliency_options* opts,
                               ctcf_progress_fn progress, void* user, float* out, double* value, ctcf_error* err);

/* Opaque: the LPIPS perceptual distance over torchvision's VGG-16 features (Zhang et al. 2018). Created with
 * random VGG weights and every LPIPS linear weight 1; load torchvision's vgg16 state dict ("features.N.weight",
 * "features.N.bias") and, optionally, LPIPS's linear layers ("linK.model.1.weight", [1, C, 1, 1]) by name. */
typedef struct ctcf_perceptual ctcf_perceptual;

CTCF_API int32_t ctcf_perceptual_create(ctcf_context* ctx, ctcf_perceptual** out, ctcf_error* err);
CTCF_API void ctcf_perceptual_free(ctcf_perceptual* p);
/* VGG-16 and LPIPS weights by name, see ctcf_params. */
CTCF_API int32_t ctcf_perceptual_params(ctcf_perceptual* p, ctcf_params** out, ctcf_error* err);
/* LPIPS distances out[n] between images a and b [n, channels (1 or 3), ny, nx] in [-1, 1] (one channel is
 * repeated to three), float32 C order. */
CTCF_API int32_t ctcf_perceptual_distance(ctcf_context* ctx, ctcf_perceptual* p, const float* a, const float* b,
                                          int64_t n, int64_t channels, int64_t ny, int64_t nx, double* out,
                                          ctcf_error* err);

/* Opaque: an optimiser (Adam) bound to one model; free it before the model. */
typedef struct ctcf_trainer ctcf_trainer;

CTCF_API void ctcf_train_options_default(ctcf_train_options* options);
/* Seeds LibTorch's global generator (weight initialisation of models created afterwards). */
CTCF_API int32_t ctcf_manual_seed(uint64_t seed, ctcf_error* err);
/* Trains the autoencoder on [B, ny, nx] slices in the processed units (the wrapper maps them to the model):
 * L1 reconstruction + codebook/commitment loss, optional hinge PatchGAN with taming's adaptive weight. The model
 * must be on the context's device and have in_channels == out_ch. */
CTCF_API int32_t ctcf_trainer_create_autoencoder(ctcf_context* ctx, ctcf_autoencoder* ae,
                                                 const ctcf_slice_wrapper* wrapper, const ctcf_train_options* options,
                                                 ctcf_trainer** out, ctcf_error* err);
/* Trains a built-in classifier with binary cross-entropy on its logits: targets [B, classes] for vector outputs,
 * [B, D, ny, nx] maps (values in [0, 1], resized to the output map) for one-channel segmentation outputs. A pooled
 * detector (ctcf-nodule3d) also takes [B, D, ny, nx] maps: dense BCE on its logit map (positives weighted by
 * the imbalance) plus BCE of its pooled logit against whether the map has a positive. */
CTCF_API int32_t ctcf_trainer_create_classifier(ctcf_context* ctx, ctcf_classifier* clf,
                                                const ctcf_train_options* options, ctcf_trainer** out,
                                                ctcf_error* err);
/* Adds weight * LPIPS(x, x_rec) to the autoencoder's reconstruction term (taming's perceptual loss; it also
 * enters the adaptive GAN weight). The trainer borrows p: keep it alive while the trainer steps. NULL or
 * weight 0 removes it. */
CTCF_API int32_t ctcf_trainer_set_perceptual(ctcf_trainer* t, ctcf_perceptual* p, double weight, ctcf_error* err);
/* One optimisation step. x: [B, ny, nx] slices (autoencoder) or [B, D, ny, nx] volumes (classifier), float32,
 * C order; y: the classifier's targets (NULL for the autoencoder). */
CTCF_API int32_t ctcf_trainer_step(ctcf_context* ctx, ctcf_trainer* t, const float* x, int32_t x_ndim,
                                   const int64_t* x_shape, const float* y, int32_t y_ndim, const int64_t* y_shape,
                                   ctcf_train_stats* stats, ctcf_error* err);
/* The optimiser state by name (see ctcf_params), for checkpoints and resume: "step", "adam.m.<param>",
 * "adam.v.<param>", and with a discriminator "disc.<param>", "disc_adam.m.<param>", "disc_adam.v.<param>". */
CTCF_API int32_t ctcf_trainer_state(ctcf_trainer* t, ctcf_params** out, ctcf_error* err);
/* Frees the optimiser; a classifier goes back to inference mode (no parameter gradients). */
CTCF_API void ctcf_trainer_free(ctcf_trainer* t);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CTCF_H */
