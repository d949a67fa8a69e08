package org.ctcf.report;

import java.awt.image.BufferedImage;
import java.util.HashMap;
import java.util.Map;

/**
 * A 5 × 7 bitmap alphabet for the labels a reader must never miss: orientation letters and slice positions. It is
 * drawn pixel by pixel, so it needs no font: on a machine where Java cannot draw text (no fontconfig, no font) the
 * images still say which side is the patient's left. Only the characters those labels use are defined.
 */
final class Glyphs {
    static final int WIDTH = 5;
    static final int HEIGHT = 7;

    private static final Map<Character, boolean[][]> GLYPHS = new HashMap<>();

    static {
        define('A', ".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#");
        define('C', ".###.", "#...#", "#....", "#....", "#....", "#...#", ".###.");
        define('E', "#####", "#....", "#....", "####.", "#....", "#....", "#####");
        define('I', ".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###.");
        define('L', "#....", "#....", "#....", "#....", "#....", "#....", "#####");
        define('M', "#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#");
        define('P', "####.", "#...#", "#...#", "####.", "#....", "#....", "#....");
        define('R', "####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#");
        define('S', ".####", "#....", "#....", ".###.", "....#", "....#", "####.");
        define('Z', "#####", "....#", "...#.", "..#..", ".#...", "#....", "#####");
        define('0', ".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###.");
        define('1', "..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###.");
        define('2', ".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####");
        define('3', "####.", "....#", "....#", ".###.", "....#", "....#", "####.");
        define('4', "...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#.");
        define('5', "#####", "#....", "####.", "....#", "....#", "#...#", ".###.");
        define('6', ".###.", "#....", "#....", "####.", "#...#", "#...#", ".###.");
        define('7', "#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#...");
        define('8', ".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###.");
        define('9', ".###.", "#...#", "#...#", ".####", "....#", "....#", ".###.");
        define('-', ".....", ".....", ".....", "#####", ".....", ".....", ".....");
        define('.', ".....", ".....", ".....", ".....", ".....", ".##..", ".##..");
        define(' ', ".....", ".....", ".....", ".....", ".....", ".....", ".....");
    }

    private Glyphs() {
    }

    private static void define(char c, String... rows) {
        boolean[][] b = new boolean[HEIGHT][WIDTH];
        for (int y = 0; y < HEIGHT; y++) {
            for (int x = 0; x < WIDTH; x++) {
                b[y][x] = rows[y].charAt(x) == '#';
            }
        }
        GLYPHS.put(c, b);
    }

    /** The bitmap of {@code c}: [row][column], true = ink. */
    static boolean[][] bitmap(char c) {
        boolean[][] b = GLYPHS.get(c);
        if (b == null) {
            throw new IllegalArgumentException("no glyph for '" + c + "'");
        }
        return b;
    }

    /** Width in pixels of {@code text} at {@code scale} (one pixel column of space between characters). */
    static int width(String text, int scale) {
        return text.isEmpty() ? 0 : (text.length() * (WIDTH + 1) - 1) * scale;
    }

    /**
     * Draws {@code text} with its top-left corner at (x, y), each bitmap pixel a {@code scale} × {@code scale}
     * square of {@code rgb}, outlined in black one square wide so it reads on any background. Pixels outside the
     * image are clipped.
     */
    static void draw(BufferedImage img, String text, int x, int y, int scale, int rgb) {
        for (int pass = 0; pass < 2; pass++) {
            int colour = pass == 0 ? 0x000000 : rgb;
            int grow = pass == 0 ? scale : 0;
            for (int k = 0; k < text.length(); k++) {
                boolean[][] b = bitmap(text.charAt(k));
                int x0 = x + k * (WIDTH + 1) * scale;
                for (int r = 0; r < HEIGHT; r++) {
                    for (int c = 0; c < WIDTH; c++) {
                        if (b[r][c]) {
                            fill(img, x0 + c * scale - grow, y + r * scale - grow, scale + 2 * grow, colour);
                        }
                    }
                }
            }
        }
    }

    private static void fill(BufferedImage img, int x, int y, int size, int rgb) {
        for (int yy = Math.max(0, y); yy < Math.min(img.getHeight(), y + size); yy++) {
            for (int xx = Math.max(0, x); xx < Math.min(img.getWidth(), x + size); xx++) {
                img.setRGB(xx, yy, rgb);
            }
        }
    }
}
