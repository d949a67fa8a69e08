package org.ctcf.api;

import java.util.Arrays;
import java.util.Locale;

import org.ctcf.core.Volume;

/**
 * The input domain of a classifier trained on chest CTs: the <em>lung fraction</em> of a processed CT, the fraction
 * of its voxels below −500 HU that are not connected (4-neighbourhood, per axial slice) to the slice border, i.e.
 * air inside the body. A volume with (almost) no lungs in view — a head or abdomen scan, a phantom, a blank volume —
 * is far outside the training distribution of a chest-CT detector, and its score is not meaningful. A card states
 * the bound as {@code "domain": {"lung_fraction_min": 0.02}} ({@link ClassifierCard#domain()}).
 */
public final class InputDomain {
    private static volatile java.util.Set<String> allowedModalities = java.util.Set.of();

    /** Modalities the process reads with any card (the CLI's {@code --allow-modality}), upper case. */
    public static void allowModalities(java.util.Collection<String> modalities) {
        allowedModalities = modalities.stream().map(m -> m.strip().toUpperCase(Locale.ROOT))
                .collect(java.util.stream.Collectors.toUnmodifiableSet());
    }

    /**
     * Refuses an input the card is not for: a DICOM series of another Modality than the card's (an MR series with a
     * CT classifier), unless {@link #allowModalities} names it. {@code modality} is the series' (null or empty: not
     * known, as for NIfTI: no check).
     */
    public static void checkModality(ClassifierCard card, String modality, String input) {
        if (modality == null || modality.isBlank()) {
            return;
        }
        String m = modality.strip().toUpperCase(Locale.ROOT);
        String want = card.limits().modality();
        if (!m.equals(want) && !allowedModalities.contains(m)) {
            throw new IllegalArgumentException(input + " is a " + org.ctcf.core.Text.printable(m) + " series, but "
                    + "the classifier " + card.name() + " reads " + want + " (its card's domain.modality): its score "
                    + "would mean nothing. --allow-modality " + org.ctcf.core.Text.printable(m)
                    + " explains it anyway");
        }
    }

    /** Refuses a processed volume with fewer slices than the card's {@code domain.min_slices}. */
    public static void checkSlices(ClassifierCard card, int slices, String input) {
        int min = card.limits().minSlices();
        if (slices < min) {
            throw new IllegalArgumentException(input + ": the processed volume has " + slices + " slice"
                    + (slices == 1 ? "" : "s") + ", but the classifier " + card.name() + " needs at least " + min
                    + " (its card's domain.min_slices: the depth it was trained on); a score of fewer means nothing");
        }
    }

    /** The HU below which a voxel counts as air (lung or outside air). */
    public static final double AIR_HU = -500;

    private InputDomain() {
    }

    /**
     * A card's domain: the lowest lung fraction (in (0, 1)) the classifier is meant for; the shipped nodule detector
     * states half the smallest lung fraction among its training volumes.
     */
    public record Bounds(double lungFractionMin) {
        public Bounds {
            if (!(lungFractionMin > 0 && lungFractionMin < 1)) {
                throw new IllegalArgumentException("domain.lung_fraction_min must be a number in (0, 1), not "
                        + lungFractionMin);
            }
        }
    }

    /**
     * The lung fraction of one processed volume against a card's bound.
     *
     * @param lungFraction the fraction of the volume's voxels that are air inside the body
     * @param lungFractionMin the card's bound
     * @param inDomain {@code lungFraction >= lungFractionMin}
     */
    public record Check(double lungFraction, double lungFractionMin, boolean inDomain) {
        /** One line for people: the fraction, the bound and, out of the domain, why the score means nothing. */
        public String describe() {
            return inDomain
                    ? String.format(Locale.ROOT, "lung fraction %.3f (domain ≥ %.3f)", lungFraction, lungFractionMin)
                    : String.format(Locale.ROOT, "lung fraction %.3f — below the detector's training domain "
                            + "(≥ %.3f): no lungs in view, the score is not meaningful", lungFraction,
                            lungFractionMin);
        }
    }

    /**
     * The air threshold in window units of a preprocessing: (−500 − low) / (high − low), e.g. 0.25 for the window
     * [−1000, 1000]. The window must be on.
     */
    public static float airThreshold(PreprocessOptions pre) {
        if (!pre.windowEnabled()) {
            throw new IllegalArgumentException("the lung fraction needs a preprocessing HU window (window units), "
                    + "but the window is off");
        }
        return (float) ((AIR_HU - pre.windowLow()) / (pre.windowHigh() - pre.windowLow()));
    }

    /**
     * The check of {@code processed} (the volume the classifier sees, preprocessed as its card says) against the
     * card's domain, or null when the card states none (or there is no card).
     */
    public static Check check(ClassifierCard card, Volume processed) {
        if (card == null || card.domain() == null) {
            return null;
        }
        double f = lungFraction(processed, card.preprocessing());
        return new Check(f, card.domain().lungFractionMin(), f >= card.domain().lungFractionMin());
    }

    /** The lung fraction of a processed volume (window units of {@code pre}'s window). */
    public static double lungFraction(Volume processed, PreprocessOptions pre) {
        return lungFraction(Metrics.toArray(processed), processed.nx(), processed.ny(), processed.nz(),
                airThreshold(pre));
    }

    /** The lung fraction of a processed CT ({@code threshold} in its units): the mean of {@link #insideAir}. */
    public static double lungFraction(float[] ct, int nx, int ny, int nz, float threshold) {
        if (ct.length == 0) {
            return 0;
        }
        float[] m = insideAir(ct, nx, ny, nz, threshold);
        long n = 0;
        for (float v : m) {
            if (v != 0) {
                n++;
            }
        }
        return (double) n / m.length;
    }

    /**
     * Per voxel 1 where {@code ct} is below {@code threshold} and not connected (4-neighbourhood, per axial slice)
     * to the slice border (air inside the body), else 0. {@code ct} is x fastest, then y, then z.
     */
    public static float[] insideAir(float[] ct, int nx, int ny, int nz, float threshold) {
        if ((long) nx * ny * nz != ct.length) {
            throw new IllegalArgumentException(nx + " × " + ny + " × " + nz + " voxels, but " + ct.length
                    + " values");
        }
        float[] out = new float[ct.length];
        int plane = nx * ny;
        int[] stack = new int[plane];
        boolean[] outside = new boolean[plane];
        for (int z = 0; z < nz; z++) {
            int base = z * plane;
            Arrays.fill(outside, false);
            int sp = 0;
            for (int x = 0; x < nx; x++) {
                sp = seed(ct, base, x, 0, nx, threshold, outside, stack, sp);
                sp = seed(ct, base, x, ny - 1, nx, threshold, outside, stack, sp);
            }
            for (int y = 0; y < ny; y++) {
                sp = seed(ct, base, 0, y, nx, threshold, outside, stack, sp);
                sp = seed(ct, base, nx - 1, y, nx, threshold, outside, stack, sp);
            }
            while (sp > 0) {
                int p = stack[--sp];
                int x = p % nx;
                int y = p / nx;
                if (x > 0) {
                    sp = seed(ct, base, x - 1, y, nx, threshold, outside, stack, sp);
                }
                if (x < nx - 1) {
                    sp = seed(ct, base, x + 1, y, nx, threshold, outside, stack, sp);
                }
                if (y > 0) {
                    sp = seed(ct, base, x, y - 1, nx, threshold, outside, stack, sp);
                }
                if (y < ny - 1) {
                    sp = seed(ct, base, x, y + 1, nx, threshold, outside, stack, sp);
                }
            }
            for (int i = 0; i < plane; i++) {
                out[base + i] = ct[base + i] < threshold && !outside[i] ? 1f : 0f;
            }
        }
        return out;
    }

    private static int seed(float[] ct, int base, int x, int y, int nx, float t, boolean[] outside, int[] stack,
            int sp) {
        int p = y * nx + x;
        if (!outside[p] && ct[base + p] < t) {
            outside[p] = true;
            stack[sp++] = p;
        }
        return sp;
    }
}
