package org.ctcf.train;

import java.io.IOException;
import java.nio.file.Path;

import org.ctcf.api.Kernel;
import org.ctcf.api.Latents;
import org.ctcf.api.Metrics;
import org.ctcf.api.PreprocessOptions;
import org.ctcf.api.SliceAutoencoder;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;

/**
 * How well the autoencoder reproduces a CT: preprocess (as explain does), encode, decode, restore onto the input
 * grid, and compare with the input inside the HU window, over the voxels the processed grid covers.
 */
public final class AutoencoderEvaluation {
    private AutoencoderEvaluation() {
    }

    /** PSNR (data range = the window), SSIM, MAE and RMSE in HU for one volume file. */
    public static Metrics.Quality roundtrip(Kernel k, SliceAutoencoder ae, Path file, PreprocessOptions pre)
            throws IOException {
        try (Volume ct = VolumeIO.read(file)) {
            return roundtrip(k, ae, ct, pre);
        }
    }

    public static Metrics.Quality roundtrip(Kernel k, SliceAutoencoder ae, Volume ct, PreprocessOptions pre) {
        try (Volume x = k.preprocess(ct, pre); Latents z = ae.encode(x); Volume rec = ae.decode(z, x.geometry());
                Volume back = k.restore(rec, ct.geometry(), pre, true)) {
            boolean[] inside = Metrics.insideGrid(ct.geometry(), x.geometry());
            return Metrics.quality(back, ct, inside, pre.windowLow(), pre.windowHigh());
        }
    }
}
