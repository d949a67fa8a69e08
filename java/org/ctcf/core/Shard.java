package org.ctcf.core;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * {@code --shard I/N}: which of N independent processes (a SLURM job array, one per GPU) takes a scan. A scan
 * belongs to shard {@code I} (0-based) when the first 8 bytes of the SHA-256 of its id (UTF-8), read as an unsigned
 * number, are {@code I} modulo N: deterministic, the same on every machine, and stable under re-ordering of the
 * manifest (it depends on the id alone). {@link #ALL} (0/1) takes every scan.
 */
public record Shard(int index, int count) {
    public static final Shard ALL = new Shard(0, 1);

    public Shard {
        if (count < 1 || index < 0 || index >= count) {
            throw new IllegalArgumentException("a shard is I/N with N >= 1 and 0 <= I < N, not " + index + "/" + count);
        }
    }

    /**
     * Parses {@code I/N}. SLURM's 1-based array ids are not guessed: {@code $SLURM_ARRAY_TASK_ID} runs from the
     * array's first index, so give {@code --array=0-(N-1)}.
     */
    public static Shard parse(String text) {
        String[] p = text == null ? new String[0] : text.trim().split("/");
        try {
            if (p.length != 2) {
                throw new NumberFormatException();
            }
            return new Shard(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--shard takes I/N (e.g. 0/4, with 0 <= I < N), not '" + text + "'");
        }
    }

    /** Whether the scan with this id is this shard's. */
    public boolean owns(String id) {
        if (count == 1) {
            return true;
        }
        return Long.remainderUnsigned(hash(id), count) == index;
    }

    /** The first 8 bytes of SHA-256(id), big endian. */
    static long hash(String id) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8));
            long h = 0;
            for (int i = 0; i < 8; i++) {
                h = (h << 8) | (d[i] & 0xff);
            }
            return h;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return index + "/" + count;
    }
}
