package org.ctcf.report;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.ctcf.io.AtomicFiles;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * {@code report.html}: one self-contained file (opens offline, from disk) with the summary, the chunk table, the
 * panels, plots and sweep GIF (embedded PNG/GIF), and an interactive NiiVue viewer (bundled into the jar at build
 * time, inlined into the page) showing the input, the counterfactual and the difference overlay as multiplanar
 * and 3-D views. The volumes are embedded as gzip NIfTI.
 */
public final class ReportWriter {
    /** Where the build puts NiiVue's single-file bundle (and its license) on the class path. */
    public static final String NIIVUE_RESOURCE = "/org/ctcf/report/niivue.umd.js";

    private ReportWriter() {
    }

    /** The bundled NiiVue script, or null when this build has none (the page then says so instead of the viewer). */
    public static String niivue() throws IOException {
        try (InputStream in = ReportWriter.class.getResourceAsStream(NIIVUE_RESOURCE)) {
            return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * Writes {@code out}.
     *
     * @param summary the explanation's summary (rendered as key figures and, in full, as JSON)
     * @param images title → PNG or GIF bytes, embedded in this order
     * @param volumes viewer layers: name → gzip NIfTI bytes (first = background; "counterfactual"; "difference")
     */
    public static void write(Path out, String title, Map<String, Object> summary, Map<String, byte[]> images,
            Map<String, byte[]> volumes, Display display) throws IOException {
        StringBuilder h = new StringBuilder(1 << 20);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>")
                .append(esc(title)).append("</title>\n<style>\n")
                .append("body{font-family:system-ui,sans-serif;margin:24px;background:#fafafa;color:#222}")
                .append("h1{font-size:22px}h2{font-size:18px;margin-top:28px}")
                .append("table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;")
                .append("text-align:right}th{background:#eee}.k td:first-child{text-align:left;font-weight:600}")
                .append("img{max-width:100%;border:1px solid #ccc;margin:4px 0}")
                .append("#viewer-box{width:100%;max-width:960px;height:520px;background:#000}")
                .append(".controls button{margin:4px 6px 4px 0}pre{font-size:11px;background:#fff;border:1px solid #ddd;")
                .append("padding:8px;max-height:320px;overflow:auto}\n</style></head><body>\n");
        h.append("<h1>").append(esc(title)).append("</h1>\n");
        h.append("<table class=\"k\">\n");
        for (String k : List.of("input", "classifier", "target", "autoencoder", "mode", "chunk", "chunk_size",
                "initial_prediction", "counterfactual_prediction", "stitched_prediction", "minimum_prediction",
                "stop_reason", "lambda_bound", "wall_seconds")) {
            if (summary.containsKey(k)) {
                h.append("<tr><td>").append(esc(k.replace('_', ' '))).append("</td><td>")
                        .append(esc(format(summary.get(k)))).append("</td></tr>\n");
            }
        }
        h.append("</table>\n");

        h.append("<h2>3-D viewer</h2>\n");
        String nv = niivue();
        if (nv == null) {
            h.append("<p id=\"viewer-missing\">This build of ctcf has no bundled NiiVue; open the NIfTI files in any "
                    + "viewer.</p>\n");
        } else {
            h.append("<div class=\"controls\"><button onclick=\"ctcfShow(0)\">input</button>")
                    .append("<button onclick=\"ctcfShow(1)\">counterfactual</button>")
                    .append("<button onclick=\"ctcfShow(2)\">input + difference</button>")
                    .append("<button onclick=\"ctcfLayout()\">multiplanar / 3-D</button>")
                    .append(" <span id=\"viewer-status\">loading…</span></div>\n")
                    .append("<div id=\"viewer-box\"><canvas id=\"viewer\"></canvas></div>\n");
        }

        for (Map.Entry<String, byte[]> e : images.entrySet()) {
            h.append("<h2>").append(esc(e.getKey())).append("</h2>\n<img alt=\"").append(esc(e.getKey()))
                    .append("\" src=\"data:").append(isGif(e.getValue()) ? "image/gif" : "image/png")
                    .append(";base64,").append(Base64.getEncoder().encodeToString(e.getValue())).append("\">\n");
        }

        if (summary.get("chunks") instanceof List<?> chunks && !chunks.isEmpty()) {
            h.append("<h2>Chunks (ranked by how far they lower the prediction)</h2>\n<table><tr>");
            Map<?, ?> first = (Map<?, ?>) chunks.get(0);
            for (Object k : first.keySet()) {
                h.append("<th>").append(esc(k.toString().replace('_', ' '))).append("</th>");
            }
            h.append("</tr>\n");
            for (Object c : chunks) {
                h.append("<tr>");
                for (Object v : ((Map<?, ?>) c).values()) {
                    h.append("<td>").append(esc(format(v))).append("</td>");
                }
                h.append("</tr>\n");
            }
            h.append("</table>\n");
        }
        h.append("<h2>summary.json</h2>\n<pre>")
                .append(esc(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(summary)))
                .append("</pre>\n");

        if (nv != null) {
            h.append("<script>\n").append(nv.replace("</script", "<\\/script")).append("\n</script>\n");
            h.append("<script>\nconst ctcfVolumes = {\n");
            for (Map.Entry<String, byte[]> e : volumes.entrySet()) {
                h.append("  \"").append(esc(e.getKey())).append("\": \"")
                        .append(Base64.getEncoder().encodeToString(e.getValue())).append("\",\n");
            }
            h.append("};\n").append(VIEWER_JS).append("</script>\n");
        }
        h.append("<p style=\"font-size:11px;color:#777\">Written by ctcf. 3-D viewer: NiiVue (BSD-2-Clause), bundled."
                + "</p>\n</body></html>\n");
        AtomicFiles.write(out, h.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static final String VIEWER_JS = """
            function ctcfBlobUrl(name) {
              const bin = atob(ctcfVolumes[name]);
              const bytes = new Uint8Array(bin.length);
              for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
              return URL.createObjectURL(new Blob([bytes]));
            }
            const ctcfNames = Object.keys(ctcfVolumes);
            const ctcfNv = new niivue.Niivue({backColor: [0, 0, 0, 1], show3Dcrosshair: true, isColorbar: false});
            let ctcfMode = 0;
            let ctcfRender = false;
            async function ctcfShow(mode) {
              ctcfMode = mode;
              const status = document.getElementById('viewer-status');
              const layers = [];
              const bg = mode === 1 ? 'counterfactual' : 'input';
              layers.push({url: ctcfBlobUrl(bg), name: bg + '.nii.gz', colormap: 'gray', cal_min: -1000, cal_max: 600});
              if (mode === 2 && ctcfVolumes['difference']) {
                layers.push({url: ctcfBlobUrl('difference'), name: 'difference.nii.gz', colormap: 'warm',
                             opacity: 0.7, cal_min: 0.02});
              }
              await ctcfNv.loadVolumes(layers);
              status.textContent = 'showing ' + ['input', 'counterfactual', 'input + difference'][mode];
              const r = document.getElementById('viewer').getBoundingClientRect();
              document.body.dataset.viewerRect = [r.left, r.top + window.scrollY, r.width, r.height]
                  .map(Math.round).join(',');
              document.body.dataset.viewerReady = 'true';
            }
            function ctcfLayout() {
              ctcfRender = !ctcfRender;
              ctcfNv.setSliceType(ctcfRender ? ctcfNv.sliceTypeRender : ctcfNv.sliceTypeMultiplanar);
            }
            ctcfNv.attachTo('viewer').then(() => {
              ctcfNv.setSliceType(ctcfNv.sliceTypeMultiplanar);
              return ctcfShow(2);
            }).catch(e => {
              document.getElementById('viewer-status').textContent = 'viewer error: ' + e;
              console.error(e);
            });
            """;

    private static String format(Object v) {
        if (v instanceof Double d) {
            return String.format(java.util.Locale.ROOT, Math.abs(d) >= 100 ? "%.1f" : "%.4f", d);
        }
        if (v instanceof List<?> l) {
            return l.toString();
        }
        if (v instanceof Map<?, ?> m) {
            Map<Object, Object> c = new LinkedHashMap<>(m);
            return c.toString();
        }
        return String.valueOf(v);
    }

    /** GIF files start with "GIF8" (GIF87a, GIF89a); everything else embedded here is PNG. */
    private static boolean isGif(byte[] b) {
        return b.length >= 4 && b[0] == 'G' && b[1] == 'I' && b[2] == 'F' && b[3] == '8';
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
