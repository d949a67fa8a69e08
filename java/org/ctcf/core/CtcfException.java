package org.ctcf.core;

/**
 * Root of ctcf's runtime failures; every one carries an {@link ErrorCode}. Failures inside the native kernel
 * arrive as the subclass for their code, with the kernel's (often LibTorch's) message.
 */
public class CtcfException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final ErrorCode code;

    public CtcfException(ErrorCode code, String message) {
        super(message);
        this.code = code;
    }

    public CtcfException(ErrorCode code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public ErrorCode code() {
        return code;
    }

    /** The exception class that stands for a native status code. */
    public static CtcfException forStatus(int status, String message) {
        ErrorCode code = ErrorCode.fromCode(status);
        String text = message + " [ctcf error " + status + " " + code + "]";
        return switch (code) {
            case INVALID_ARGUMENT -> new InvalidArgumentException(text);
            case TORCH -> new TorchException(text);
            case OUT_OF_MEMORY -> new KernelOutOfMemoryException(text);
            case UNSUPPORTED -> new UnsupportedFeatureException(text);
            case CANCELLED -> new CancelledException(text);
            default -> new CtcfException(code, text);
        };
    }

    /** A caller error detected by the kernel or the Java layer (bad size, inconsistent parameter). */
    public static final class InvalidArgumentException extends CtcfException {
        private static final long serialVersionUID = 1L;

        public InvalidArgumentException(String message) {
            super(ErrorCode.INVALID_ARGUMENT, message);
        }
    }

    /** LibTorch raised an error (shape mismatch, dtype, device); the message is LibTorch's. */
    public static final class TorchException extends CtcfException {
        private static final long serialVersionUID = 1L;

        public TorchException(String message) {
            super(ErrorCode.TORCH, message);
        }
    }

    /** A host or device allocation in the kernel failed. */
    public static final class KernelOutOfMemoryException extends CtcfException {
        private static final long serialVersionUID = 1L;

        public KernelOutOfMemoryException(String message) {
            super(ErrorCode.OUT_OF_MEMORY, message);
        }
    }

    /** A valid request this build cannot serve (e.g. CUDA without a CUDA LibTorch). */
    public static final class UnsupportedFeatureException extends CtcfException {
        private static final long serialVersionUID = 1L;

        public UnsupportedFeatureException(String message) {
            super(ErrorCode.UNSUPPORTED, message);
        }
    }

    /** The work was cancelled through {@link Kernel#cancel()} or a host's cancellation. */
    public static final class CancelledException extends CtcfException {
        private static final long serialVersionUID = 1L;

        public CancelledException(String message) {
            super(ErrorCode.CANCELLED, message);
        }
    }

    /** The native library is missing, unloadable, of another ABI version, or native access is denied. */
    public static final class NativeLibraryException extends CtcfException {
        private static final long serialVersionUID = 1L;

        public NativeLibraryException(ErrorCode code, String message, Throwable cause) {
            super(code, message, cause);
        }
    }

    /** A {@link Kernel}, {@link Volume} or other handle was used after {@code close()}. */
    public static final class ResourceClosedException extends CtcfException {
        private static final long serialVersionUID = 1L;

        public ResourceClosedException(String message) {
            super(ErrorCode.RESOURCE_CLOSED, message);
        }
    }
}
