package org.ctcf.report;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageOutputStream;

import org.ctcf.api.Explanation;

/**
 * The λ sweep of an explanation as an animated GIF: one axial slice of every frame, forwards then backwards
 * (ping-pong, 2 × frames images), looping forever, the prediction printed on each image.
 */
public final class GifWriter {
    private GifWriter() {
    }

    /** The GIF of slice {@code slice} (processed grid; −1: the slice with the most heat), in {@code display}. */
    public static byte[] sweep(Explanation e, int slice, Display display) throws IOException {
        int z = slice >= 0 ? slice : Images.hottestSlice(e.heatmap());
        double[] preds = e.predictions();
        double[] lambdas = e.lambdas();
        AxialView view = AxialView.of(e.heatmap().geometry(), display);
        List<BufferedImage> images = new ArrayList<>();
        for (int i = 0; i < e.frameCount(); i++) {  // one slice of each frame crosses from the kernel
            images.add(frame(view, view.plane(e.frameSlice(i, z)), z,
                    String.format(Locale.ROOT, "p = %.3f", preds[i]),
                    String.format(Locale.ROOT, "lambda %.0f", lambdas[i])));
        }
        List<BufferedImage> loop = new ArrayList<>(images);
        for (int i = images.size() - 1; i >= 0; i--) {
            loop.add(images.get(i));
        }
        return encode(loop, 20);
    }

    /**
     * One frame: the slice zoomed to about 256 pixels with its orientation letters, {@code top} and {@code bottom}
     * written on it (where the machine can draw text), and a caption strip below with the slice's position.
     */
    static BufferedImage frame(AxialView view, float[][] s, int z, String top, String bottom) {
        int zoom = AxialView.zoom(view.width(), view.height());
        int w = view.width() * zoom;
        int h = view.height() * zoom;
        BufferedImage img = new BufferedImage(w, h + PanelWriter.CAPTION, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = Images.graphics(img);
        Images.drawZoomed(g, Images.gray(s, 0, 1, 1), 0, 0, zoom);
        view.letters(img, 0, 0, w, h);
        Images.label(g, top, 6, 16);
        Images.label(g, bottom, 6, h - 6);
        g.dispose();
        Glyphs.draw(img, view.position(z), 4, h + (PanelWriter.CAPTION - 2 * Glyphs.HEIGHT) / 2,
                AxialView.labelScale(w), 0xffffff);
        return img;
    }

    /** An animated GIF of {@code images}, {@code delayCs} hundredths of a second each, looping forever. */
    public static byte[] encode(List<BufferedImage> images, int delayCs) throws IOException {
        ImageWriter w = ImageIO.getImageWritersByFormatName("gif").next();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ImageOutputStream ios = ImageIO.createImageOutputStream(bytes)) {
            w.setOutput(ios);
            w.prepareWriteSequence(null);
            for (BufferedImage img : images) {
                BufferedImage rgb = new BufferedImage(img.getWidth(), img.getHeight(), BufferedImage.TYPE_BYTE_INDEXED);
                rgb.getGraphics().drawImage(img, 0, 0, null);
                IIOMetadata meta = w.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(rgb), null);
                String f = meta.getNativeMetadataFormatName();
                IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(f);
                IIOMetadataNode gce = child(root, "GraphicControlExtension");
                gce.setAttribute("disposalMethod", "none");
                gce.setAttribute("userInputFlag", "FALSE");
                gce.setAttribute("transparentColorFlag", "FALSE");
                gce.setAttribute("delayTime", Integer.toString(delayCs));
                gce.setAttribute("transparentColorIndex", "0");
                IIOMetadataNode apps = child(root, "ApplicationExtensions");
                IIOMetadataNode app = new IIOMetadataNode("ApplicationExtension");
                app.setAttribute("applicationID", "NETSCAPE");
                app.setAttribute("authenticationCode", "2.0");
                app.setUserObject(new byte[] {1, 0, 0});  // loop count 0 = forever
                apps.appendChild(app);
                meta.setFromTree(f, root);
                w.writeToSequence(new IIOImage(rgb, null, meta), null);
            }
            w.endWriteSequence();
        } finally {
            w.dispose();
        }
        return bytes.toByteArray();
    }

    private static IIOMetadataNode child(IIOMetadataNode root, String name) {
        for (int i = 0; i < root.getLength(); i++) {
            if (root.item(i).getNodeName().equalsIgnoreCase(name)) {
                return (IIOMetadataNode) root.item(i);
            }
        }
        IIOMetadataNode n = new IIOMetadataNode(name);
        root.appendChild(n);
        return n;
    }
}
