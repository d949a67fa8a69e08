package org.ctcf.io;

/**
 * The spatial fields of a NIfTI header exactly as stored, attached to a volume's geometry as its source hint so
 * that writing the volume again reproduces them (and so the affine) bit for bit.
 *
 * @param affine the voxel-to-world matrix these fields define (the one the reader chose)
 */
public record NiftiTransform(int qformCode, int sformCode, double quaternB, double quaternC, double quaternD,
        double qoffsetX, double qoffsetY, double qoffsetZ, double qfac, double pixdimX, double pixdimY,
        double pixdimZ, double[] srow, double[] affine) {
}
