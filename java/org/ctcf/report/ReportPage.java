package org.ctcf.report;

import java.util.Map;

/**
 * What {@code report.html} shows: the summary, the images, the viewer's volumes (on the input grid, gzip NIfTI)
 * and the data of its charts.
 *
 * @param summary the explanation's summary as a JSON-shaped map (key table, chunk table, charts)
 * @param images title → PNG or GIF bytes, in the page's order
 * @param input the CT as read (HU)
 * @param counterfactual the counterfactual (HU)
 * @param delta counterfactual − reconstruction (HU, signed): the change the explanation makes
 * @param deltaMaxHu the largest |delta|, the overlay's top
 * @param heatmap the heatmap on the input grid (window units), or null
 * @param heatMax its largest value
 * @param display the convention the viewer draws in
 * @param sliceGrid the affine (row-major 4 × 4) of the explained volume on the processed grid, whose slice indices
 *     the charts and tables use, and {@code sliceDims} its size: a chart's slice maps to a viewer position with it
 * @param frames the sweep frames of the explained chunk, or null
 */
public record ReportPage(String title, Map<String, Object> summary, Map<String, byte[]> images, byte[] input,
        byte[] counterfactual, byte[] delta, double deltaMaxHu, byte[] heatmap, double heatMax, Display display,
        double[] sliceGrid, int[] sliceDims, Frames frames) {

    /**
     * The sweep frames of the explained chunk: a 4-D gzip NIfTI of its slab ({@code chunkStart} .. {@code chunkEnd}
     * of the processed grid, window units), each frame's λ and prediction.
     */
    public record Frames(byte[] nifti, int chunkStart, int chunkEnd, double[] lambdas, double[] predictions) {
    }
}
