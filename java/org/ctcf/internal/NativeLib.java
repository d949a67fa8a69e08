package org.ctcf.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.core.CtcfException;
import org.ctcf.core.CtcfException.NativeLibraryException;
import org.ctcf.core.ErrorCode;

/**
 * All bindings to {@code native/include/ctcf.h}, in one place: the struct layouts, one {@code static final}
 * method handle per entry point, and {@link #call} — the single helper that turns a status into an exception, so
 * no call site can forget to check. Loading happens on first use of this class (holder idiom); a failure is
 * remembered and re-thrown with the same message on every later use.
 */
public final class NativeLib {
    /** The ABI this Java layer was written for; must equal {@code CTCF_ABI_VERSION}. */
    public static final int ABI_VERSION = 11;
    public static final int ERROR_MESSAGE_CAPACITY = 2048;

    // --- struct layouts (must match ctcf.h field for field) ---
    public static final StructLayout ERROR = MemoryLayout.structLayout(
            JAVA_INT.withName("code"),
            MemoryLayout.sequenceLayout(ERROR_MESSAGE_CAPACITY, JAVA_BYTE).withName("message"));
    public static final StructLayout VOLUME = MemoryLayout.structLayout(
            ADDRESS.withName("data"),
            MemoryLayout.sequenceLayout(3, JAVA_LONG).withName("dims"),
            MemoryLayout.sequenceLayout(3, JAVA_DOUBLE).withName("spacing"));
    public static final StructLayout PREPROCESS_PARAMS = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(3, JAVA_INT).withName("axis_perm"),
            MemoryLayout.sequenceLayout(3, JAVA_INT).withName("axis_flip"),
            MemoryLayout.sequenceLayout(3, JAVA_DOUBLE).withName("target_spacing"),
            JAVA_DOUBLE.withName("window_low"),
            JAVA_DOUBLE.withName("window_high"),
            MemoryLayout.sequenceLayout(2, JAVA_LONG).withName("in_plane_size"),
            JAVA_DOUBLE.withName("pad_value"));

    public static final int MAX_LEVELS = 16;
    public static final int MAX_DIMS = 8;
    public static final StructLayout VQ_CONFIG = MemoryLayout.structLayout(
            JAVA_LONG.withName("ch"),
            JAVA_LONG.withName("out_ch"),
            JAVA_LONG.withName("in_channels"),
            JAVA_LONG.withName("resolution"),
            JAVA_LONG.withName("z_channels"),
            JAVA_LONG.withName("num_res_blocks"),
            JAVA_LONG.withName("embed_dim"),
            JAVA_LONG.withName("n_embed"),
            JAVA_INT.withName("double_z"),
            JAVA_INT.withName("resamp_with_conv"),
            JAVA_INT.withName("n_ch_mult"),
            JAVA_INT.withName("n_attn_resolutions"),
            MemoryLayout.sequenceLayout(MAX_LEVELS, JAVA_LONG).withName("ch_mult"),
            MemoryLayout.sequenceLayout(MAX_LEVELS, JAVA_LONG).withName("attn_resolutions"),
            JAVA_DOUBLE.withName("dropout"));
    public static final StructLayout SLICE_WRAPPER = MemoryLayout.structLayout(
            JAVA_DOUBLE.withName("in_scale"),
            JAVA_DOUBLE.withName("in_shift"),
            JAVA_DOUBLE.withName("out_scale"),
            JAVA_DOUBLE.withName("out_shift"),
            JAVA_LONG.withName("resize"),
            JAVA_INT.withName("transpose"),
            JAVA_INT.withName("reference_orientation"),
            JAVA_INT.withName("antialias"),
            JAVA_INT.withName("reserved"));

    public static final StructLayout SCORE_SPEC = MemoryLayout.structLayout(
            JAVA_LONG.withName("target"),
            JAVA_INT.withName("apply_sigmoid"),
            JAVA_INT.withName("activation"),
            JAVA_DOUBLE.withName("offset"),
            JAVA_INT.withName("reducer"),
            JAVA_INT.withName("reserved"));
    public static final StructLayout SHIFT_OPTIONS = MemoryLayout.structLayout(
            JAVA_DOUBLE.withName("search_pred_diff"),
            JAVA_DOUBLE.withName("search_step_size"),
            JAVA_DOUBLE.withName("search_max_steps"),
            JAVA_DOUBLE.withName("search_max_pixel_diff_pct"),
            JAVA_DOUBLE.withName("stop_below"),
            JAVA_DOUBLE.withName("fix_lb"),
            JAVA_DOUBLE.withName("fix_rb"),
            JAVA_INT.withName("lambda_sweep_steps"),
            JAVA_INT.withName("heatmap"),
            JAVA_INT.withName("fix_range"),
            JAVA_INT.withName("reference_mode"),
            JAVA_LONG.withName("lambda_batch"),
            JAVA_LONG.withName("decoder_batch"),
            JAVA_LONG.withName("gradient_batch"),
            JAVA_INT.withName("focus_frames"),
            JAVA_INT.withName("autocast"),
            JAVA_INT.withName("stitch"),
            JAVA_INT.withName("reserved"));
    public static final StructLayout SALIENCY_OPTIONS = MemoryLayout.structLayout(
            JAVA_INT.withName("steps"),
            JAVA_INT.withName("reserved"),
            JAVA_DOUBLE.withName("baseline"),
            MemoryLayout.sequenceLayout(3, JAVA_LONG).withName("window"),
            MemoryLayout.sequenceLayout(3, JAVA_LONG).withName("stride"),
            JAVA_DOUBLE.withName("fill"),
            JAVA_LONG.withName("batch"),
            ADDRESS.withName("layer"));
    public static final StructLayout RESULT_INFO = MemoryLayout.structLayout(
            JAVA_DOUBLE.withName("p0"),
            JAVA_DOUBLE.withName("bound"),
            JAVA_DOUBLE.withName("stitched_prediction"),
            JAVA_DOUBLE.withName("counterfactual_prediction"),
            MemoryLayout.sequenceLayout(Specs.Timer.COUNT, JAVA_DOUBLE).withName("seconds"),
            MemoryLayout.sequenceLayout(3, JAVA_LONG).withName("dims"),
            JAVA_LONG.withName("frames"),
            JAVA_LONG.withName("lambdas_evaluated"),
            JAVA_LONG.withName("slices_decoded"),
            JAVA_LONG.withName("classifier_calls"),
            JAVA_LONG.withName("gradient_slices"),
            JAVA_LONG.withName("chunks"),
            JAVA_INT.withName("stop_reason"),
            JAVA_INT.withName("counterfactual_chunks"));
    public static final StructLayout CHUNK_ROW = MemoryLayout.structLayout(
            JAVA_LONG.withName("start"),
            JAVA_LONG.withName("end"),
            JAVA_DOUBLE.withName("min_prediction"),
            JAVA_DOUBLE.withName("bound"),
            JAVA_DOUBLE.withName("pixel_change"),
            JAVA_INT.withName("stop_reason"),
            JAVA_INT.withName("rank"));
    public static final StructLayout TRAIN_OPTIONS = MemoryLayout.structLayout(
            JAVA_DOUBLE.withName("learning_rate"),
            JAVA_DOUBLE.withName("beta1"),
            JAVA_DOUBLE.withName("beta2"),
            JAVA_DOUBLE.withName("weight_decay"),
            JAVA_DOUBLE.withName("codebook_weight"),
            JAVA_DOUBLE.withName("commitment"),
            JAVA_DOUBLE.withName("disc_weight"),
            JAVA_DOUBLE.withName("disc_learning_rate"),
            JAVA_LONG.withName("disc_start"),
            JAVA_LONG.withName("disc_channels"),
            JAVA_INT.withName("disc_layers"),
            JAVA_INT.withName("reserved"),
            JAVA_LONG.withName("code_restart_every"),
            JAVA_DOUBLE.withName("label_smoothing"));
    public static final StructLayout TRAIN_STATS = MemoryLayout.structLayout(
            JAVA_LONG.withName("step"),
            JAVA_DOUBLE.withName("loss"),
            JAVA_DOUBLE.withName("reconstruction"),
            JAVA_DOUBLE.withName("codebook"),
            JAVA_DOUBLE.withName("generator"),
            JAVA_DOUBLE.withName("discriminator"),
            JAVA_DOUBLE.withName("adaptive_weight"),
            JAVA_LONG.withName("codes_used"),
            JAVA_DOUBLE.withName("perceptual"));
    /** Every struct shared with ctcf.h, by its C name without the ctcf_ prefix; checked against the C layouts. */
    static final Map<String, StructLayout> SHARED_STRUCTS = sharedStructs();

    private static Map<String, StructLayout> sharedStructs() {
        Map<String, StructLayout> m = new LinkedHashMap<>();
        m.put("error", ERROR);
        m.put("volume", VOLUME);
        m.put("preprocess_params", PREPROCESS_PARAMS);
        m.put("vq_config", VQ_CONFIG);
        m.put("slice_wrapper", SLICE_WRAPPER);
        m.put("score_spec", SCORE_SPEC);
        m.put("shift_options", SHIFT_OPTIONS);
        m.put("saliency_options", SALIENCY_OPTIONS);
        m.put("result_info", RESULT_INFO);
        m.put("chunk_row", CHUNK_ROW);
        m.put("train_options", TRAIN_OPTIONS);
        m.put("train_stats", TRAIN_STATS);
        return Map.copyOf(m);
    }

    /**
     * Where {@code layouts} (C name → Java layout) disagree with the compiled library's {@code sizeof}/{@code offsetof}
     * (ctcf_abi_layout), one line per size or field; empty when they agree. Unnamed members (padding) are skipped.
     */
    static List<String> layoutMismatches(Map<String, StructLayout> layouts) {
        List<String> wrong = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_LONG);
            for (var e : layouts.entrySet()) {
                MemorySegment type = arena.allocateFrom(e.getKey(), StandardCharsets.UTF_8);
                StructLayout l = e.getValue();
                List<String> names = new ArrayList<>();
                names.add(null);
                l.memberLayouts().forEach(m -> m.name().ifPresent(names::add));
                for (String field : names) {
                    long java = field == null ? l.byteSize() : l.byteOffset(MemoryLayout.PathElement.groupElement(field));
                    MemorySegment f = field == null ? MemorySegment.NULL : arena.allocateFrom(field,
                            StandardCharsets.UTF_8);
                    MemorySegment err = arena.allocate(ERROR);
                    int status;
                    try {
                        status = (int) H.ABI_LAYOUT.invokeExact(type, f, value, err);
                    } catch (Throwable t) {
                        throw new IllegalStateException("ctcf_abi_layout failed", t);
                    }
                    String what = "ctcf_" + e.getKey() + (field == null ? " size" : "." + field);
                    if (status != 0) {
                        wrong.add(what + ": unknown to the library");
                    } else if (value.get(JAVA_LONG, 0) != java) {
                        wrong.add(what + " is " + value.get(JAVA_LONG, 0) + " in C, " + java + " in Java");
                    }
                }
            }
        }
        return wrong;
    }

    /** ctcf_progress_fn. */
    public static final FunctionDescriptor PROGRESS_FN = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG,
            JAVA_LONG, JAVA_LONG, JAVA_DOUBLE, JAVA_DOUBLE);

    private NativeLib() {
    }

    /** Handles, bound once the library is loaded and its ABI version checked. */
    public static final class H {
        public static final NativeLoader.Loaded LIB;
        public static final MethodHandle ABI_VERSION_FN;
        public static final MethodHandle BUILD_INFO;
        public static final MethodHandle CONTEXT_CREATE;
        public static final MethodHandle CONTEXT_FREE;
        public static final MethodHandle CONTEXT_CANCEL;
        public static final MethodHandle CONTEXT_RESET_CANCEL;
        public static final MethodHandle PREPROCESS_DIMS;
        public static final MethodHandle PREPROCESS;
        public static final MethodHandle PREPROCESS_INVERSE;
        public static final MethodHandle SELFTEST;
        public static final MethodHandle AE_CREATE;
        public static final MethodHandle AE_FREE;
        public static final MethodHandle SALIENCY;
        public static final MethodHandle PERCEPTUAL_CREATE;
        public static final MethodHandle PERCEPTUAL_FREE;
        public static final MethodHandle PERCEPTUAL_DISTANCE;
        public static final MethodHandle TRAINER_SET_PERCEPTUAL;
        public static final MethodHandle AE_TO;
        public static final MethodHandle AE_ENCODE_VOLUME;
        public static final MethodHandle AE_DECODE_VOLUME;
        public static final MethodHandle AE_RUN;
        public static final MethodHandle TENSOR_INFO;
        public static final MethodHandle TENSOR_READ;
        public static final MethodHandle TENSOR_CREATE;
        public static final MethodHandle TENSOR_FREE;
        public static final MethodHandle CLF_LOAD;
        public static final MethodHandle CLF_DEFINE_NESTED;
        public static final MethodHandle CLF_SAVE;
        public static final MethodHandle CLF_TO;
        public static final MethodHandle CLF_FREE;
        public static final MethodHandle CLF_BUILTIN;
        public static final MethodHandle CLF_SET_INPUT_SIZE;
        public static final MethodHandle CLF_SET_ORIENTATION;
        public static final MethodHandle CLF_SCORE_SPAN;
        public static final MethodHandle CONTEXT_DEVICE_MEMORY;
        public static final MethodHandle CLF_OUTPUTS;
        public static final MethodHandle CLF_SCORE;
        public static final MethodHandle CLF_ARGMAX;
        public static final MethodHandle LUNGMASK_PREPROCESS;
        public static final MethodHandle LUNGMASK_RESTORE;
        public static final MethodHandle EXPLAIN;
        public static final MethodHandle SWEEP;
        public static final MethodHandle RESULT_INFO_GET;
        public static final MethodHandle RESULT_ARRAY_GET;
        public static final MethodHandle RESULT_CHUNKS_GET;
        public static final MethodHandle RESULT_VOLUME_READ;
        public static final MethodHandle RESULT_FREE;
        public static final MethodHandle RESULT_TAKE_FOCUS;
        public static final MethodHandle LATENT_GRADIENT;
        public static final MethodHandle MANUAL_SEED;
        public static final MethodHandle TRAINER_AE;
        public static final MethodHandle TRAINER_CLF;
        public static final MethodHandle TRAINER_STEP;
        public static final MethodHandle TRAINER_FREE;
        public static final MethodHandle ABI_LAYOUT;
        public static final MethodHandle AE_PARAMS;
        public static final MethodHandle CLF_PARAMS;
        public static final MethodHandle PERCEPTUAL_PARAMS;
        public static final MethodHandle TRAINER_STATE;
        public static final MethodHandle PARAMS_COUNT;
        public static final MethodHandle PARAMS_INFO;
        public static final MethodHandle PARAMS_SET;
        public static final MethodHandle PARAMS_GET;

        static {
            LIB = NativeLoader.load();
            try {
                ABI_VERSION_FN = bind("ctcf_abi_version", FunctionDescriptor.of(JAVA_INT));
                int abi = (int) ABI_VERSION_FN.invokeExact();
                if (abi != ABI_VERSION) {
                    throw new NativeLibraryException(ErrorCode.ABI_MISMATCH, "native library " + LIB.path()
                            + " has ABI version " + abi + " but this ctcf jar needs " + ABI_VERSION
                            + "; rebuild with 'mvn package' or point -D" + NativeLoader.PROPERTY
                            + " at a matching build", null);
                }
            } catch (CtcfException e) {
                throw e;
            } catch (Throwable t) {
                throw new NativeLibraryException(ErrorCode.LIBRARY_UNAVAILABLE,
                        "cannot call ctcf_abi_version in " + LIB.path() + ": " + t, t);
            }
            BUILD_INFO = bind("ctcf_build_info", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
            CONTEXT_CREATE = bind("ctcf_context_create",
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
            CONTEXT_FREE = bind("ctcf_context_free", FunctionDescriptor.ofVoid(ADDRESS));
            CONTEXT_CANCEL = bind("ctcf_context_cancel", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
            CONTEXT_RESET_CANCEL = bind("ctcf_context_reset_cancel",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
            PREPROCESS_DIMS = bind("ctcf_preprocess_dims",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
            PREPROCESS = bind("ctcf_preprocess",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
            PREPROCESS_INVERSE = bind("ctcf_preprocess_inverse",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
            SELFTEST = bind("ctcf_selftest", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS));
            AE_CREATE = bind("ctcf_autoencoder_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
            AE_FREE = bind("ctcf_autoencoder_free", FunctionDescriptor.ofVoid(ADDRESS));
            SALIENCY = bind("ctcf_saliency", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
            PERCEPTUAL_CREATE = bind("ctcf_perceptual_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
                    ADDRESS));
            PERCEPTUAL_FREE = bind("ctcf_perceptual_free", FunctionDescriptor.ofVoid(ADDRESS));
            PERCEPTUAL_DISTANCE = bind("ctcf_perceptual_distance", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
                    ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS));
            TRAINER_SET_PERCEPTUAL = bind("ctcf_trainer_set_perceptual", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                    ADDRESS, JAVA_DOUBLE, ADDRESS));
            AE_TO = bind("ctcf_autoencoder_to", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
            AE_ENCODE_VOLUME = bind("ctcf_autoencoder_encode_volume", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                    ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
            AE_DECODE_VOLUME = bind("ctcf_autoencoder_decode_volume", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                    ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
            AE_RUN = bind("ctcf_autoencoder_run", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT,
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS));
            TENSOR_INFO = bind("ctcf_tensor_info", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
            TENSOR_READ = bind("ctcf_tensor_read",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
            TENSOR_CREATE = bind("ctcf_tensor_create",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
            TENSOR_FREE = bind("ctcf_tensor_free", FunctionDescriptor.ofVoid(ADDRESS));
            CLF_LOAD = bind("ctcf_classifier_load",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
            CLF_DEFINE_NESTED = bind("ctcf_classifier_define_nested", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
                    ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
            CLF_SAVE = bind("ctcf_classifier_save", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
            CLF_TO = bind("ctcf_classifier_to", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
            CLF_FREE = bind("ctcf_classifier_free", FunctionDescriptor.ofVoid(ADDRESS));
            CLF_BUILTIN = bind("ctcf_classifier_builtin", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT,
                    JAVA_LONG, ADDRESS, ADDRESS));
            CLF_SET_INPUT_SIZE = bind("ctcf_classifier_set_input_size",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
            CLF_SET_ORIENTATION = bind("ctcf_classifier_set_orientation",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
            CONTEXT_DEVICE_MEMORY = bind("ctcf_context_device_memory",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
            CLF_SCORE_SPAN = bind("ctcf_classifier_score_span", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
                    JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
            CLF_OUTPUTS = bind("ctcf_classifier_outputs", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                    ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
            CLF_SCORE = bind("ctcf_classifier_score", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                    ADDRESS, ADDRESS, ADDRESS));
            CLF_ARGMAX = bind("ctcf_classifier_argmax",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
            LUNGMASK_PREPROCESS = bind("ctcf_lungmask_preprocess",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
            LUNGMASK_RESTORE = bind("ctcf_lungmask_restore",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
            EXPLAIN = bind("ctcf_explain", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
            SWEEP = bind("ctcf_sweep", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    ADDRESS));
            RESULT_INFO_GET = bind("ctcf_result_info_get", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
            RESULT_ARRAY_GET = bind("ctcf_result_array_get",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
            RESULT_CHUNKS_GET = bind("ctcf_result_chunks_get",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
            RESULT_VOLUME_READ = bind("ctcf_result_volume_read", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT,
                    JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS));
            RESULT_FREE = bind("ctcf_result_free", FunctionDescriptor.ofVoid(ADDRESS));
            RESULT_TAKE_FOCUS = bind("ctcf_result_take_focus", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
                    ADDRESS, ADDRESS, ADDRESS));
            LATENT_GRADIENT = bind("ctcf_latent_gradient", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                    ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
            MANUAL_SEED = bind("ctcf_manual_seed", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
            TRAINER_AE = bind("ctcf_trainer_create_autoencoder",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
            TRAINER_CLF = bind("ctcf_trainer_create_classifier",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
            TRAINER_STEP = bind("ctcf_trainer_step", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                    JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
            TRAINER_FREE = bind("ctcf_trainer_free", FunctionDescriptor.ofVoid(ADDRESS));
            ABI_LAYOUT = bind("ctcf_abi_layout", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
            FunctionDescriptor view = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
            AE_PARAMS = bind("ctcf_autoencoder_params", view);
            CLF_PARAMS = bind("ctcf_classifier_params", view);
            PERCEPTUAL_PARAMS = bind("ctcf_perceptual_params", view);
            TRAINER_STATE = bind("ctcf_trainer_state", view);
            PARAMS_COUNT = bind("ctcf_params_count", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
            PARAMS_INFO = bind("ctcf_params_info", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS,
                    JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
            PARAMS_SET = bind("ctcf_params_set", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS,
                    JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
            PARAMS_GET = bind("ctcf_params_get",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
            List<String> wrong = layoutMismatches(SHARED_STRUCTS);
            if (!wrong.isEmpty()) {
                throw new NativeLibraryException(ErrorCode.ABI_MISMATCH, "native library " + LIB.path()
                        + " lays out its structs differently from this ctcf jar: " + String.join("; ", wrong), null);
            }
        }

        private H() {
        }

        private static MethodHandle bind(String name, FunctionDescriptor fd) {
            MemorySegment symbol = LIB.lookup().find(name).orElseThrow(() -> new NativeLibraryException(
                    ErrorCode.LIBRARY_UNAVAILABLE, "symbol " + name + " missing in " + LIB.path(), null));
            try {
                return Linker.nativeLinker().downcallHandle(symbol, fd);
            } catch (IllegalCallerException e) {
                throw new NativeLibraryException(ErrorCode.LIBRARY_UNAVAILABLE, NativeLoader.nativeAccessHint(), e);
            }
        }
    }

    /** Loads the library now (or re-throws why it cannot be loaded). */
    public static NativeLoader.Loaded ensureLoaded() {
        try {
            return H.LIB;
        } catch (ExceptionInInitializerError e) {
            if (e.getCause() instanceof CtcfException ce) {
                throw ce;
            }
            throw new NativeLibraryException(ErrorCode.LIBRARY_UNAVAILABLE, "ctcf native library failed to load: "
                    + e.getCause(), e.getCause());
        } catch (NoClassDefFoundError e) {
            // A second use after a failed static initializer: load again to get the original reason.
            NativeLoader.load();
            throw new NativeLibraryException(ErrorCode.LIBRARY_UNAVAILABLE,
                    "ctcf native library failed to initialise earlier: " + e.getMessage(), e);
        }
    }

    /** A native call that writes its status into the error record it is given. */
    @FunctionalInterface
    public interface StatusCall {
        int invoke(MemorySegment error) throws Throwable;
    }

    /**
     * Runs one native call with a fresh error record and converts a non-zero status into the matching
     * {@link CtcfException}, prefixed with {@code what}. Throwables from the call itself propagate unchanged
     * when they are runtime exceptions or errors.
     */
    public static void call(String what, StatusCall call) {
        ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment err = arena.allocate(ERROR);
            int status;
            try {
                status = call.invoke(err);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new CtcfException(ErrorCode.INTERNAL, what + ": " + t, t);
            }
            if (status != 0) {
                String message = err.get(JAVA_INT, 0) == status ? readMessage(err) : "(no message)";
                throw CtcfException.forStatus(status, what + " failed: " + message);
            }
        }
    }

    private static String readMessage(MemorySegment err) {
        MemorySegment bytes = err.asSlice(4, ERROR_MESSAGE_CAPACITY);
        long n = 0;
        while (n < ERROR_MESSAGE_CAPACITY && bytes.get(JAVA_BYTE, n) != 0) {
            n++;
        }
        return new String(bytes.asSlice(0, n).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
    }

    /** The library's self-description ("ctcf x; LibTorch y; CUDA z; threads n"). */
    public static String buildInfo() {
        ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(512);
            int status = (int) H.BUILD_INFO.invokeExact(buf, 512L);
            if (status != 0) {
                throw CtcfException.forStatus(status, "ctcf_build_info failed");
            }
            return buf.getString(0, StandardCharsets.UTF_8);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new CtcfException(ErrorCode.INTERNAL, "ctcf_build_info: " + t, t);
        }
    }
}
