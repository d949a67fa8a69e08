package org.ctcf.report;

import java.awt.image.BufferedImage;
import java.util.Locale;

import org.ctcf.core.Affine;
import org.ctcf.core.Geometry;

/**
 * Where the voxels of an axial slice go on the screen, from the volume's affine (not from an assumed voxel order):
 * the voxel axis that runs closest to the patient's left–right axis becomes the screen's columns, the
 * anterior–posterior one the rows, anterior up; the left–right direction follows the {@link Display} convention.
 * The same view draws the orientation letters on a tile's edges and names a slice's position in mm.
 */
final class AxialView {
    /** The smallest in-plane size (voxels) drawn: below it the orientation letters would cover the image. */
    static final int MIN_SIZE = 16;

    private final Geometry grid;
    private final Display display;
    private final boolean transpose;
    private final boolean flipColumns;
    private final boolean flipRows;

    private AxialView(Geometry grid, Display display, boolean transpose, boolean flipColumns, boolean flipRows) {
        this.grid = grid;
        this.display = display;
        this.transpose = transpose;
        this.flipColumns = flipColumns;
        this.flipRows = flipRows;
    }

    /**
     * The view of {@code grid}'s axial slices (its third voxel axis must run head–foot, as every processed volume's
     * does) in {@code display}'s convention.
     */
    static AxialView of(Geometry grid, Display display) {
        problem(grid).ifPresent(p -> {
            throw new IllegalArgumentException(p);
        });
        int[] world = grid.dominantWorldAxes();
        boolean transpose = world[0] != 0;  // voxel axis 0 runs anterior–posterior: the columns are axis 1
        int columnAxis = transpose ? 1 : 0;
        int rowAxis = 1 - columnAxis;
        double[] a = grid.affine();
        boolean columnIndexGoesRight = a[columnAxis] > 0;  // world x (towards the patient's right) per voxel step
        boolean rowIndexGoesAnterior = a[4 + rowAxis] > 0;
        // radiological: screen x grows towards the patient's left; neurological: towards the right
        boolean flipColumns = columnIndexGoesRight == (display == Display.RADIOLOGICAL);
        boolean flipRows = rowIndexGoesAnterior;  // anterior up: screen y grows towards posterior
        return new AxialView(grid, display, transpose, flipColumns, flipRows);
    }

    /**
     * Why axial slices of {@code grid} cannot be drawn, as a predicate ("is too small to draw: …"), or empty when
     * they can.
     */
    static java.util.Optional<String> problem(Geometry grid) {
        if (grid.dominantWorldAxes()[2] != 2) {
            return java.util.Optional.of("has no axial slices to draw: its third voxel axis does not run head to "
                    + "foot (orientation " + grid.orientationCode() + ")");
        }
        if (grid.nx() < MIN_SIZE || grid.ny() < MIN_SIZE) {
            return java.util.Optional.of(String.format(Locale.ROOT, "is too small to draw: %d x %d voxels in plane, "
                    + "the images need at least %d x %d", grid.nx(), grid.ny(), MIN_SIZE, MIN_SIZE));
        }
        return java.util.Optional.empty();
    }

    Display display() {
        return display;
    }

    /** Screen width in voxels. */
    int width() {
        return transpose ? grid.ny() : grid.nx();
    }

    /** Screen height in voxels. */
    int height() {
        return transpose ? grid.nx() : grid.ny();
    }

    /** One slice, given in voxel order ({@code plane[j * nx + i]}), as screen rows of columns. */
    float[][] plane(float[] plane) {
        int nx = grid.nx();
        int ny = grid.ny();
        if (plane.length != nx * ny) {
            throw new IllegalArgumentException("a slice of " + plane.length + " values, the grid's has " + nx * ny);
        }
        int w = width();
        int h = height();
        float[][] out = new float[h][w];
        for (int j = 0; j < ny; j++) {
            for (int i = 0; i < nx; i++) {
                int col = transpose ? j : i;
                int row = transpose ? i : j;
                out[flipRows ? h - 1 - row : row][flipColumns ? w - 1 - col : col] = plane[j * nx + i];
            }
        }
        return out;
    }

    /** Slice {@code z} of a whole volume's values in voxel order. */
    float[][] slice(float[] volume, int z) {
        int n = grid.nx() * grid.ny();
        float[] p = new float[n];
        System.arraycopy(volume, z * n, p, 0, n);
        return plane(p);
    }

    /** The world z (mm, RAS+: towards the head) of slice {@code z}'s centre. */
    double sliceMm(int z) {
        return Affine.apply(grid.affine(), (grid.nx() - 1) / 2.0, (grid.ny() - 1) / 2.0, z)[2];
    }

    /** "SLICE 34  Z -120.5 MM": the slice index on this grid and its position, in glyphs every machine can draw. */
    String position(int z) {
        return String.format(Locale.ROOT, "SLICE %d  Z %.1f MM", z, sliceMm(z));
    }

    /** Glyph scale for labels on a tile {@code size} pixels wide: 2 from 128 pixels, else 1. */
    static int labelScale(int size) {
        return size >= 128 ? 2 : 1;
    }

    /**
     * The orientation letters on the edges of the tile at (x, y), {@code w} × {@code h} pixels: left and right
     * (R/L by the convention), anterior on top, posterior at the bottom.
     */
    void letters(BufferedImage img, int x, int y, int w, int h) {
        int s = labelScale(Math.min(w, h));
        int gw = Glyphs.WIDTH * s;
        int gh = Glyphs.HEIGHT * s;
        int pad = 2 * s;
        int midY = y + (h - gh) / 2;
        int midX = x + (w - gw) / 2;
        Glyphs.draw(img, String.valueOf(display.leftEdge()), x + pad, midY, s, 0xffff66);
        Glyphs.draw(img, String.valueOf(display.rightEdge()), x + w - pad - gw, midY, s, 0xffff66);
        Glyphs.draw(img, "A", midX, y + pad, s, 0xffff66);
        Glyphs.draw(img, "P", midX, y + h - pad - gh, s, 0xffff66);
    }

    /** Integer zoom that makes a tile of {@code w} × {@code h} voxels at least about 256 pixels on its long side. */
    static int zoom(int w, int h) {
        return Math.max(1, Math.min(8, 256 / Math.max(w, h)));
    }
}
