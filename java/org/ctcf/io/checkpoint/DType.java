package org.ctcf.io.checkpoint;

import java.util.Locale;

/**
 * Element types of checkpoint tensors, with the codes of {@code ctcf_dtype} in {@code native/include/ctcf.h},
 * their sizes, their safetensors names and their legacy PyTorch storage class names.
 */
public enum DType {
    F32(0, 4, "F32", "FloatStorage", "float32"),
    F64(1, 8, "F64", "DoubleStorage", "float64"),
    F16(2, 2, "F16", "HalfStorage", "float16"),
    BF16(3, 2, "BF16", "BFloat16Storage", "bfloat16"),
    I64(4, 8, "I64", "LongStorage", "int64"),
    I32(5, 4, "I32", "IntStorage", "int32"),
    I16(6, 2, "I16", "ShortStorage", "int16"),
    I8(7, 1, "I8", "CharStorage", "int8"),
    U8(8, 1, "U8", "ByteStorage", "uint8"),
    BOOL(9, 1, "BOOL", "BoolStorage", "bool");

    private final int code;
    private final int size;
    private final String safetensorsName;
    private final String storageClass;
    private final String torchName;

    DType(int code, int size, String safetensorsName, String storageClass, String torchName) {
        this.code = code;
        this.size = size;
        this.safetensorsName = safetensorsName;
        this.storageClass = storageClass;
        this.torchName = torchName;
    }

    /** The {@code ctcf_dtype} value. */
    public int code() {
        return code;
    }

    public int size() {
        return size;
    }

    public String safetensorsName() {
        return safetensorsName;
    }

    /** Lower-case name as in {@code torch.float16}. */
    public String torchName() {
        return torchName;
    }

    public static DType fromSafetensors(String name) {
        for (DType d : values()) {
            if (d.safetensorsName.equals(name)) {
                return d;
            }
        }
        return null;
    }

    /** From a legacy storage class name ("FloatStorage") or null. */
    public static DType fromStorageClass(String name) {
        for (DType d : values()) {
            if (d.storageClass.equals(name)) {
                return d;
            }
        }
        return null;
    }

    /** From {@code torch.<name>} (float32, half, bfloat16, long, ...) or null. */
    public static DType fromTorchName(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "float32", "float" -> F32;
            case "float64", "double" -> F64;
            case "float16", "half" -> F16;
            case "bfloat16" -> BF16;
            case "int64", "long" -> I64;
            case "int32", "int" -> I32;
            case "int16", "short" -> I16;
            case "int8" -> I8;
            case "uint8" -> U8;
            case "bool" -> BOOL;
            default -> null;
        };
    }
}
