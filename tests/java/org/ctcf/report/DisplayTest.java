package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.util.List;

import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Laterality of every picture: a bright marker on the patient's left lands in the screen's right half of a panel
 * tile (radiological) or its left half (neurological), whatever the voxel order of the grid (RAS, LPS, transposed);
 * anterior is up; each tile carries its orientation letters and each row its slice position, drawn without fonts.
 */
class DisplayTest {
    static final int N = 32;
    static final int INK = 0xffff66;

    @AfterEach
    void fontsBack() {
        Images.textAvailableForTest(null);
    }

    /** RAS+: voxel i runs towards the patient's right, j towards anterior. Origin at the volume's centre. */
    static Geometry ras() {
        return Geometry.of(N, N, 4, 1, 1, 2.5, -(N - 1) / 2.0, -(N - 1) / 2.0, -40);
    }

    /** LPS: voxel i runs towards the patient's left, j towards posterior (DICOM's order). */
    static Geometry lps() {
        double c = (N - 1) / 2.0;
        return new Geometry(N, N, 4, new double[] {-1, 0, 0, c, 0, -1, 0, c, 0, 0, 2.5, -40, 0, 0, 0, 1});
    }

    /** Voxel i runs anterior, j runs towards the patient's left: the in-plane axes swapped. */
    static Geometry transposed() {
        double c = (N - 1) / 2.0;
        return new Geometry(N, N, 4, new double[] {0, -1, 0, c, 1, 0, 0, -c, 0, 0, 2.5, -40, 0, 0, 0, 1});
    }

    /** A volume with a bright blob at world (x, y) mm in slice 2, 0.2 elsewhere. */
    static Volume marker(Geometry g, double x, double y) {
        Volume v = Volume.filled(g, 0.2f);
        double[] inv = org.ctcf.core.Affine.inverse(g.affine());
        for (double dx = -1; dx <= 1; dx++) {
            for (double dy = -1; dy <= 1; dy++) {
                double[] ijk = org.ctcf.core.Affine.apply(inv, x + dx, y + dy, 2 * 2.5 - 40);
                v.set((int) Math.round(ijk[0]), (int) Math.round(ijk[1]), (int) Math.round(ijk[2]), 1f);
            }
        }
        return v;
    }

    /** Centroid (x, y) as fractions of the tile of the pixels brighter than 0.8 × 255 in the tile at (x0, y0). */
    static double[] centroid(BufferedImage img, int x0, int y0, int w, int h) {
        double sx = 0;
        double sy = 0;
        int n = 0;
        for (int y = y0; y < y0 + h; y++) {
            for (int x = x0; x < x0 + w; x++) {
                int rgb = img.getRGB(x, y) & 0xffffff;
                int r = rgb >> 16;
                int gch = (rgb >> 8) & 0xff;
                int b = rgb & 0xff;
                if (r > 204 && r == gch && gch == b) {
                    sx += x - x0;
                    sy += y - y0;
                    n++;
                }
            }
        }
        assertThat(n).as("marker pixels in the tile").isPositive();
        return new double[] {sx / n / w, sy / n / h};
    }

    /** Whether the glyph {@code c} is drawn at (x, y) with {@code scale}: ink where its bitmap has ink, not elsewhere. */
    static boolean glyphAt(BufferedImage img, char c, int x, int y, int scale) {
        return glyphAt(img, c, x, y, scale, INK);
    }

    static boolean glyphAt(BufferedImage img, char c, int x, int y, int scale, int ink) {
        boolean[][] b = Glyphs.bitmap(c);
        for (int r = 0; r < Glyphs.HEIGHT; r++) {
            for (int k = 0; k < Glyphs.WIDTH; k++) {
                int rgb = img.getRGB(x + k * scale + scale / 2, y + r * scale + scale / 2) & 0xffffff;
                if (b[r][k] != (rgb == ink)) {
                    return false;
                }
            }
        }
        return true;
    }

    record Tile(int x, int y, int w, int h) {
    }

    /** The first (input) tile of the panel's first row, for a panel of {@code nx} × {@code ny} voxel slices. */
    static Tile firstTile(int w, int h) {
        int zoom = AxialView.zoom(w, h);
        return new Tile(0, 22 + PanelWriter.CAPTION, w * zoom, h * zoom);
    }

    static BufferedImage panel(Volume v, Display d) {
        return PanelWriter.render(v, v, v, new int[] {2}, null, null, d);
    }

    @Test
    void aMarkerOnThePatientsLeftIsOnTheScreensRightInTheRadiologicalConvention() {
        for (Geometry g : List.of(ras(), lps(), transposed())) {
            try (Volume v = marker(g, -10, 0)) {  // 10 mm to the patient's left (RAS+ x < 0), mid A-P
                Tile t = firstTile(N, N);
                double[] rad = centroid(panel(v, Display.RADIOLOGICAL), t.x(), t.y(), t.w(), t.h());
                double[] neu = centroid(panel(v, Display.NEUROLOGICAL), t.x(), t.y(), t.w(), t.h());
                assertThat(rad[0]).as("radiological, grid " + g.orientationCode()).isGreaterThan(0.75);
                assertThat(neu[0]).as("neurological, grid " + g.orientationCode()).isLessThan(0.25);
                assertThat(rad[1]).as("mid A-P stays mid-height").isBetween(0.4, 0.6);
            }
        }
    }

    @Test
    void anteriorIsUp() {
        for (Geometry g : List.of(ras(), lps(), transposed())) {
            try (Volume v = marker(g, 0, 10)) {  // 10 mm anterior
                Tile t = firstTile(N, N);
                for (Display d : Display.values()) {
                    double[] c = centroid(panel(v, d), t.x(), t.y(), t.w(), t.h());
                    assertThat(c[1]).as(d + ", grid " + g.orientationCode()).isLessThan(0.25);
                    assertThat(c[0]).isBetween(0.4, 0.6);
                }
            }
        }
    }

    @Test
    void everyTileHasItsOrientationLettersAndEveryRowItsPositionEvenWithoutFonts() {
        Images.textAvailableForTest(false);
        try (Volume v = marker(ras(), -10, 0)) {
            for (Display d : Display.values()) {
                BufferedImage img = panel(v, d);
                Tile t = firstTile(N, N);
                int s = AxialView.labelScale(t.w());
                int gw = Glyphs.WIDTH * s;
                int gh = Glyphs.HEIGHT * s;
                int midY = t.y() + (t.h() - gh) / 2;
                for (int col = 0; col < 3; col++) {
                    int x0 = col * t.w();
                    assertThat(glyphAt(img, d.leftEdge(), x0 + 2 * s, midY, s)).as(d + " left letter").isTrue();
                    assertThat(glyphAt(img, d.rightEdge(), x0 + t.w() - 2 * s - gw, midY, s)).isTrue();
                    assertThat(glyphAt(img, 'A', x0 + (t.w() - gw) / 2, t.y() + 2 * s, s)).isTrue();
                    assertThat(glyphAt(img, 'P', x0 + (t.w() - gw) / 2, t.y() + t.h() - 2 * s - gh, s)).isTrue();
                    assertThat(glyphAt(img, d.rightEdge(), x0 + 2 * s, midY, s)).as("not the other letter").isFalse();
                }
                // the row's caption: "SLICE 2  Z -35.0 MM" (slice 2 of a grid starting at -40 mm, 2.5 mm apart)
                String caption = AxialView.of(v.geometry(), d).position(2);
                assertThat(caption).isEqualTo("SLICE 2  Z -35.0 MM");
                int cy = 22 + (PanelWriter.CAPTION - 2 * Glyphs.HEIGHT) / 2;
                for (int k = 0; k < caption.length(); k++) {
                    if (caption.charAt(k) != ' ') {
                        assertThat(glyphAt(img, caption.charAt(k), 4 + k * (Glyphs.WIDTH + 1) * 2, cy, 2, 0xffffff))
                                .as("caption character " + k).isTrue();
                    }
                }
            }
        }
    }

    @Test
    void gifFramesAndTheSaliencyPanelFollowTheConvention() {
        try (Volume v = marker(lps(), -10, 0)) {
            AxialView view = AxialView.of(v.geometry(), Display.RADIOLOGICAL);
            BufferedImage f = GifWriter.frame(view, view.slice(v.toArray(), 2), 2, "", "");
            int zoom = AxialView.zoom(N, N);
            assertThat(centroid(f, 0, 0, N * zoom, N * zoom)[0]).isGreaterThan(0.75);
            int s = AxialView.labelScale(N * zoom);
            assertThat(glyphAt(f, 'R', 2 * s, (N * zoom - Glyphs.HEIGHT * s) / 2, s)).isTrue();
            BufferedImage sal = SaliencyPanel.render(v, List.of(), 2, Display.NEUROLOGICAL);
            assertThat(centroid(sal, 0, 22, N * zoom, N * zoom)[0]).isLessThan(0.25);
        }
    }

    @Test
    void slicesTooSmallOrNotAxialGetAClearMessage() {
        try (Volume v = Volume.filled(Geometry.of(8, 8, 4, 1, 1, 1, 0, 0, 0), 0f)) {
            assertThat(Images.notDrawable(v.geometry())).hasValueSatisfying(m -> assertThat(m)
                    .contains("too small to draw").contains("8 x 8").contains("16 x 16"));
            assertThatThrownBy(() -> panel(v, Display.RADIOLOGICAL)).hasMessageContaining("too small to draw");
        }
        // voxel axis 2 runs anterior: a coronal stack
        Geometry coronal = new Geometry(N, N, N, new double[] {1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1});
        assertThat(Images.notDrawable(coronal)).hasValueSatisfying(m -> assertThat(m).contains("head to foot"));
        assertThat(Images.notDrawable(ras())).isEmpty();
    }

    @Test
    void displayNamesParseAndAnUnknownOneListsTheChoices() {
        assertThat(Display.parse("Radiological")).isEqualTo(Display.RADIOLOGICAL);
        assertThat(Display.parse("neurological")).isEqualTo(Display.NEUROLOGICAL);
        assertThatThrownBy(() -> Display.parse("sideways")).hasMessageContaining("'sideways'")
                .hasMessageContaining("radiological").hasMessageContaining("neurological");
    }
}
