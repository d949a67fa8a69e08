package org.ctcf.internal;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

import org.ctcf.core.CtcfException.NativeLibraryException;
import org.ctcf.core.ErrorCode;

/**
 * Finds and loads libctcf, in a fixed order, logging each step at DEBUG:
 * <ol>
 *   <li>an explicit file: system property {@value #PROPERTY}, else environment variable {@value #ENV};</li>
 *   <li>the copy bundled in the jar under {@code native/<os>-<arch>/}, extracted once to a cache directory
 *       (property {@code ctcf.cache.dir}, else {@code $XDG_CACHE_HOME/ctcf}, else {@code ~/.cache/ctcf}),
 *       named by its SHA-256 so two versions never collide;</li>
 *   <li>each directory of {@code java.library.path}.</li>
 * </ol>
 * The first candidate that exists is loaded; a failure to load it is reported with the reason, not skipped.
 */
public final class NativeLoader {
    public static final String PROPERTY = "ctcf.library.path";
    public static final String ENV = "CTCF_LIBRARY_PATH";
    private static final System.Logger LOG = System.getLogger(NativeLoader.class.getName());

    private NativeLoader() {
    }

    /** Where the library was found and the symbol lookup over it (the library stays loaded for the JVM's life). */
    public record Loaded(Path path, String origin, SymbolLookup lookup) {
    }

    public static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.contains("linux") ? "linux" : os.contains("mac") ? "macos" : os.contains("win") ? "windows" : os;
        String a = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch;
        };
        return o + "-" + a;
    }

    static Loaded load() {
        List<String> tried = new ArrayList<>();
        String explicit = System.getProperty(PROPERTY);
        String origin = "system property " + PROPERTY;
        if (explicit == null || explicit.isBlank()) {
            explicit = System.getenv(ENV);
            origin = "environment variable " + ENV;
        }
        if (explicit != null && !explicit.isBlank()) {
            Path p = Path.of(explicit);
            LOG.log(System.Logger.Level.DEBUG, "ctcf native: trying {0} = {1}", origin, p);
            if (!Files.isRegularFile(p)) {
                throw new NativeLibraryException(ErrorCode.LIBRARY_UNAVAILABLE,
                        origin + " names " + p + ", which is not a file", null);
            }
            return open(p, origin);
        }
        tried.add(PROPERTY + " / " + ENV + ": not set");

        String resource = "/native/" + platform() + "/" + System.mapLibraryName("ctcf");
        LOG.log(System.Logger.Level.DEBUG, "ctcf native: trying bundled resource {0}", resource);
        try (InputStream in = NativeLoader.class.getResourceAsStream(resource)) {
            if (in != null) {
                Path extracted = extract(in, resource);
                return open(extracted, "bundled " + resource);
            }
            tried.add("bundled " + resource + ": not in the jar");
        } catch (IOException e) {
            tried.add("bundled " + resource + ": extraction failed: " + e.getMessage());
        }

        String libraryPath = System.getProperty("java.library.path", "");
        for (String dir : libraryPath.split(java.io.File.pathSeparator)) {
            if (dir.isBlank()) {
                continue;
            }
            Path p = Path.of(dir, System.mapLibraryName("ctcf"));
            LOG.log(System.Logger.Level.DEBUG, "ctcf native: trying {0}", p);
            if (Files.isRegularFile(p)) {
                return open(p, "java.library.path");
            }
        }
        tried.add("java.library.path (" + libraryPath + "): no " + System.mapLibraryName("ctcf"));
        throw new NativeLibraryException(ErrorCode.LIBRARY_UNAVAILABLE,
                "the ctcf native library was not found. Tried, in order: " + String.join("; ", tried)
                        + ". Build it with 'mvn package' or set -D" + PROPERTY + "=/path/to/libctcf.so", null);
    }

    private static Loaded open(Path p, String origin) {
        try {
            SymbolLookup lookup = SymbolLookup.libraryLookup(p, Arena.global());
            LOG.log(System.Logger.Level.DEBUG, "ctcf native: loaded {0} ({1})", p, origin);
            return new Loaded(p, origin, lookup);
        } catch (IllegalCallerException e) {
            throw new NativeLibraryException(ErrorCode.LIBRARY_UNAVAILABLE, nativeAccessHint(), e);
        } catch (IllegalArgumentException e) {
            throw new NativeLibraryException(ErrorCode.LIBRARY_UNAVAILABLE,
                    "cannot load " + p + " (" + origin + "): " + e.getMessage()
                            + ". Its dependencies (LibTorch) must be installed where it was built against"
                            + " (check with: ldd " + p + ")", e);
        }
    }

    /** The message for a JVM that denies native access to this module. */
    public static String nativeAccessHint() {
        Module m = NativeLoader.class.getModule();
        String name = m.isNamed() ? m.getName() : "ALL-UNNAMED";
        return "native access is not enabled for ctcf: start java with --enable-native-access=" + name
                + " (the ./ctcf launcher and the jar's manifest do this)";
    }

    private static Path extract(InputStream in, String resource) throws IOException {
        byte[] bytes = in.readAllBytes(); // the library itself, a few MB; voxel data never takes this path
        String hash;
        try {
            hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IOException("SHA-256 unavailable", e);
        }
        Path dir = cacheDir().resolve("native").resolve(hash);
        Path target = dir.resolve(Path.of(resource).getFileName().toString());
        if (Files.isRegularFile(target) && Files.size(target) == bytes.length) {
            LOG.log(System.Logger.Level.DEBUG, "ctcf native: using cached {0}", target);
            return target;
        }
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "libctcf", ".tmp");
        try {
            Files.write(tmp, bytes);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        LOG.log(System.Logger.Level.DEBUG, "ctcf native: extracted {0} to {1}", resource, target);
        return target;
    }

    static Path cacheDir() {
        String prop = System.getProperty("ctcf.cache.dir");
        if (prop != null && !prop.isBlank()) {
            return Path.of(prop);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "ctcf");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "ctcf");
    }
}
