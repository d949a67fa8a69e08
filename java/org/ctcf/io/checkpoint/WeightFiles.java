package org.ctcf.io.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks on weight files a card names: the SHA-256 prefix in a torch.hub-style name ({@code NAME-HASH.EXT}, e.g.
 * lungmask's {@code unet_r231-d5d2fc3d.pth}) and the message for weights that are not there.
 */
public final class WeightFiles {
    // torch.hub's convention: the hex digits between the last '-' and the extension (at least 8 here, so that a
    // name such as "model-v2.pth" is not taken for a hash)
    private static final Pattern HASHED = Pattern.compile(".*-([0-9a-f]{8,64})\\.[A-Za-z0-9]+$");

    private WeightFiles() {
    }

    /** The SHA-256 prefix a file name promises, if it has one. */
    public static Optional<String> hashPrefix(Path file) {
        Matcher m = HASHED.matcher(file.getFileName().toString());
        return m.matches() ? Optional.of(m.group(1)) : Optional.empty();
    }

    /** Fails when a hash-named file's SHA-256 does not start with the hash in its name. */
    public static void checkHashPrefix(Path file) throws ModelFormatException {
        Optional<String> want = hashPrefix(file);
        if (want.isEmpty()) {
            return;
        }
        String got;
        try {
            got = sha256(file);
        } catch (IOException e) {
            throw new ModelFormatException(file, "cannot read the weights: " + e.getMessage(), e);
        }
        if (!got.startsWith(want.get())) {
            throw new ModelFormatException(file, "the file name promises a SHA-256 starting with " + want.get()
                    + " but the file's is " + got + ": a corrupt, truncated or different file; download it again");
        }
    }

    /** The SHA-256 of a file, lower-case hex. */
    public static String sha256(Path file) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        byte[] buf = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0;) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** "the card names X, which is not there: put that file in DIR (published: ...)". */
    public static String missingMessage(Path expected, String published) {
        Path abs = expected.toAbsolutePath().normalize();
        return "the card names " + abs.getFileName() + ", which is not there: put that file in " + abs.getParent()
                + (published == null || published.isBlank() ? "" : " (published: " + published + ")");
    }
}
