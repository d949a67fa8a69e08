package org.ctcf.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.ctcf.io.AtomicFiles;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * {@code report.html}: one self-contained file that opens offline, from disk. It says what was explained and how to
 * read it, and holds an interactive NiiVue viewer (input, counterfactual or the sweep frames, with a thresholded
 * overlay of the change: |Δ| or signed Δ in HU, or the heatmap; radiological or neurological like every image),
 * charts linked to the viewer (Chart.js: clicking a chunk or a slice moves the viewer there, hovering shows the
 * numbers), the images, the chunk table and the summary. NiiVue and Chart.js are bundled into the jar at build time
 * and inlined; the volumes are embedded as gzip NIfTI.
 */
public final class ReportWriter {
    /** The overlay's default threshold: this fraction of the largest change; below it the overlay is transparent. */
    public static final double DEFAULT_THRESHOLD_FRACTION = 0.1;

    private static final ObjectMapper JSON = new ObjectMapper();

    private ReportWriter() {
    }

    /** Writes {@code out}. */
    public static void write(Path out, ReportPage p) throws IOException {
        Map<String, Object> s = p.summary();
        String nv = Bundles.niivue();
        String charts = Bundles.chartjs();
        StringBuilder h = new StringBuilder(1 << 22);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>")
                .append(esc(p.title())).append("</title>\n<style>\n").append(CSS).append("</style></head><body>\n");
        h.append("<h1>").append(esc(p.title())).append("</h1>\n");
        domainBanner(h, s);
        what(h, s, p.display());
        how(h, p.display());

        h.append("<h2>Viewer</h2>\n");
        if (nv == null) {
            h.append("<p id=\"viewer-missing\">This build of ctcf has no bundled NiiVue; open the NIfTI files in any "
                    + "viewer.</p>\n");
        } else {
            h.append(VIEWER_HTML.replace("{frames}", p.frames() == null ? "disabled" : ""));
        }

        h.append("<h2>Charts</h2>\n");
        if (charts == null) {
            h.append("<p id=\"charts-missing\">This build of ctcf has no bundled Chart.js: the plots are below as "
                    + "images.</p>\n");
        } else {
            h.append("<p class=\"note\">Click a chunk or a slice to move the viewer there; hover for the numbers."
                    + "</p>\n<div class=\"charts\">");
            if (s.get("chunks") instanceof List<?> l && !l.isEmpty()) {
                h.append("<div class=\"chart\"><canvas id=\"chart-chunks\"></canvas></div>");
                h.append("<div class=\"chart\"><canvas id=\"chart-slices\"></canvas></div>");
            }
            h.append("<div class=\"chart\"><canvas id=\"chart-lambda\"></canvas></div></div>\n");
        }

        for (Map.Entry<String, byte[]> e : p.images().entrySet()) {
            h.append("<h2>").append(esc(e.getKey())).append("</h2>\n<img alt=\"").append(esc(e.getKey()))
                    .append("\" src=\"data:").append(isGif(e.getValue()) ? "image/gif" : "image/png")
                    .append(";base64,").append(Base64.getEncoder().encodeToString(e.getValue())).append("\">\n");
        }
        chunkTable(h, s);
        h.append("<h2>summary.json</h2>\n<pre>")
                .append(esc(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(s))).append("</pre>\n");

        h.append("<script>\nconst ctcfData = ").append(script(JSON.writeValueAsString(data(p)))).append(";\n");
        h.append("const ctcfVolumes = {\n");
        Map<String, byte[]> volumes = new LinkedHashMap<>();
        volumes.put("input", p.input());
        volumes.put("counterfactual", p.counterfactual());
        volumes.put("delta", p.delta());
        if (p.heatmap() != null) {
            volumes.put("heatmap", p.heatmap());
        }
        if (p.frames() != null) {
            volumes.put("frames", p.frames().nifti());
        }
        for (Map.Entry<String, byte[]> e : volumes.entrySet()) {
            h.append("  \"").append(e.getKey()).append("\": \"")
                    .append(Base64.getEncoder().encodeToString(e.getValue())).append("\",\n");
        }
        h.append("};\n</script>\n");
        if (nv != null) {
            h.append("<script>\n").append(script(nv)).append("\n</script>\n<script>\n").append(VIEWER_JS)
                    .append("</script>\n");
        }
        if (charts != null) {
            h.append("<script>\n").append(script(charts)).append("\n</script>\n<script>\n").append(CHARTS_JS)
                    .append("</script>\n");
        }
        h.append("<p class=\"note\">Written by ctcf. Viewer: NiiVue (BSD-2-Clause); charts: Chart.js (MIT); both "
                + "bundled.</p>\n</body></html>\n");
        AtomicFiles.write(out, h.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** What the page's scripts read: the convention, the chart data and how slices map to the viewer. */
    private static Map<String, Object> data(ReportPage p) {
        Map<String, Object> s = p.summary();
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("display", p.display().id());
        d.put("sliceGrid", p.sliceGrid());
        d.put("sliceDims", p.sliceDims());
        d.put("deltaMax", p.deltaMaxHu());
        d.put("heatMax", p.heatMax());
        d.put("thresholdFraction", DEFAULT_THRESHOLD_FRACTION);
        d.put("initialPrediction", s.get("initial_prediction"));
        Object focus = s.get("explained_chunk") instanceof Map<?, ?> m ? m : s;
        Map<?, ?> f = (Map<?, ?>) focus;
        d.put("chunk", f.get("chunk"));
        d.put("searchLambdas", f.get("search_lambdas"));
        d.put("searchPredictions", f.get("search_predictions"));
        d.put("frameLambdas", f.get("lambdas"));
        d.put("framePredictions", f.get("predictions"));
        d.put("chunks", s.get("chunks"));
        d.put("sliceChange", s.get("slice_change"));
        d.put("sliceChangeSmoothed", s.get("slice_change_smoothed"));
        d.put("sliceChangeMeasure", s.get("slice_change_measure"));
        if (p.frames() != null) {
            d.put("framesChunk", List.of(p.frames().chunkStart(), p.frames().chunkEnd()));
        }
        return d;
    }

    /** "What was explained": the figures a reader needs before looking at any picture. */
    /** "the best chunk, slices 48–64" or "3 chunks added greedily: 48–64, 32–48, 0–16". */
    private static String chunksText(List<?> chunks, Object stitch) {
        List<String> spans = new ArrayList<>();
        for (Object c : chunks) {
            if (c instanceof List<?> l && l.size() == 2) {
                spans.add(l.get(0) + "–" + l.get(1));
            }
        }
        if ("greedy".equals(stitch)) {
            return spans.size() + " chunk" + (spans.size() == 1 ? "" : "s") + " added in rank order while the "
                    + "prediction dropped (ctcf's extension): slices " + String.join(", ", spans);
        }
        return "the best chunk's own counterfactual: slices " + String.join(", ", spans);
    }

    /** A visible warning when the volume is outside the classifier's input domain ({@code in_domain} false). */
    private static void domainBanner(StringBuilder h, Map<String, Object> s) {
        if (!Boolean.FALSE.equals(s.get("in_domain"))) {
            return;
        }
        double f = s.get("lung_fraction") instanceof Number n ? n.doubleValue() : Double.NaN;
        double min = s.get("lung_fraction_min") instanceof Number n ? n.doubleValue() : Double.NaN;
        h.append("<div class=\"domain-warning\" id=\"domain-warning\" role=\"alert\"><strong>Outside the "
                + "classifier's input domain.</strong> ")
                .append(esc(new org.ctcf.api.InputDomain.Check(f, min, false).describe()))
                .append(". The predictions and the explanation below are not meaningful.</div>\n");
    }

    private static void what(StringBuilder h, Map<String, Object> s, Display display) {
        Map<?, ?> focus = s.get("explained_chunk") instanceof Map<?, ?> m ? m : s;
        Map<?, ?> target = s.get("target") instanceof Map<?, ?> t ? t : Map.of();
        Object targetName = target.get("name");
        String tgt = (targetName == null || targetName.toString().isEmpty() ? "" : targetName + " ")
                + "(output " + target.get("index") + ")";
        h.append("<h2>What was explained</h2>\n<table class=\"k\" id=\"what\">\n");
        row(h, "input", s.get("input"));
        row(h, "classifier", s.get("classifier"));
        row(h, "target", tgt);
        if (Boolean.FALSE.equals(s.get("counterfactual_found"))) {
            row(h, "prediction", format(s.get("initial_prediction")) + ": no counterfactual found (no chunk lowered "
                    + "the prediction; the lowest over chunks is " + format(s.get("minimum_prediction")) + ")");
        } else {
            row(h, "prediction", format(s.get("initial_prediction")) + " → " + format(s.get("counterfactual_prediction"))
                    + (s.get("counterfactual_chunks") instanceof List<?> cs ? " (" + chunksText(cs, s.get("stitch"))
                            + ")" : ""));
        }
        if (s.containsKey("stitched_prediction")) {
            row(h, "display mosaic", format(s.get("stitched_prediction")) + " (every chunk's frame on its own "
                    + "slices, scored for comparison only: the chunks were shifted one at a time, so it is not a "
                    + "counterfactual)");
        }
        if (focus.get("chunk") instanceof List<?> c && c.size() == 2) {
            row(h, "explained chunk", "slices " + c.get(0) + "–" + c.get(1) + " (processed grid): "
                    + format(focus.get("initial_prediction")) + " → " + format(focus.get("counterfactual_prediction")));
        }
        if (s.get("lung_fraction") instanceof Number f && s.get("lung_fraction_min") instanceof Number min) {
            row(h, "lung fraction", String.format(Locale.ROOT, "%.3f (domain ≥ %.3f: %s)", f.doubleValue(),
                    min.doubleValue(), Boolean.TRUE.equals(s.get("in_domain")) ? "in domain" : "OUT OF DOMAIN"));
        }
        row(h, "λ bound", focus.get("lambda_bound"));
        row(h, "stop reason", focus.get("stop_reason"));
        row(h, "display", display.id() + " convention (" + (display == Display.RADIOLOGICAL
                ? "the patient's right on the screen's left" : "the patient's right on the screen's right")
                + ", anterior up)");
        row(h, "autoencoder", s.get("autoencoder"));
        row(h, "mode", s.get("mode"));
        if (s.get("wall_seconds") instanceof Number n) {
            row(h, "wall time", String.format(Locale.ROOT, "%.1f s", n.doubleValue()));
        }
        h.append("</table>\n");
    }

    private static void how(StringBuilder h, Display display) {
        h.append("<h2>How to read this</h2>\n<p id=\"how\">ctcf asked what this scan would have to look like for the "
                + "classifier to give a lower score for the target. It encodes each axial slice with the autoencoder, "
                + "moves the latent codes of one chunk of slices against the classifier's gradient (the shift λ) until "
                + "the prediction stops falling, and decodes the result: the counterfactual. Where counterfactual and "
                + "reconstruction differ is what the classifier relied on. The viewer shows the input or the "
                + "counterfactual with the change on top (|Δ| or signed Δ in HU; red-yellow: brighter in the "
                + "counterfactual, blue: darker); changes below the threshold are transparent, so a clean image means "
                + "nothing changed there. The chunk chart ranks where in the volume the prediction can be lowered; "
                + "the λ chart shows how the prediction falls along the shift. Images are in the ")
                .append(display.id()).append(" convention: the patient's right is on the screen's ")
                .append(display == Display.RADIOLOGICAL ? "left" : "right")
                .append(". A counterfactual explains the classifier, not the patient.</p>\n");
    }

    private static void chunkTable(StringBuilder h, Map<String, Object> s) {
        if (!(s.get("chunks") instanceof List<?> chunks) || chunks.isEmpty()) {
            return;
        }
        h.append("<h2>Chunks (ranked by how far they lower the prediction)</h2>\n<table id=\"chunk-table\"><tr>");
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

    private static void row(StringBuilder h, String k, Object v) {
        if (v != null) {
            h.append("<tr><td>").append(esc(k)).append("</td><td>").append(esc(format(v))).append("</td></tr>\n");
        }
    }

    /** Text safe inside a script element. */
    private static String script(String js) {
        return js.replace("</script", "<\\/script").replace("<!--", "<\\!--");
    }

    private static final String CSS = """
            body{font-family:system-ui,sans-serif;margin:24px;background:#fafafa;color:#222;max-width:1100px}
            h1{font-size:22px}h2{font-size:18px;margin-top:28px}
            .domain-warning{background:#fdecea;border:2px solid #c0392b;color:#7b1d12;padding:10px 14px;margin:12px 0;font-size:15px}
            table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
            th{background:#eee}.k td:first-child{text-align:left;font-weight:600}.k td{text-align:left}
            img{max-width:100%;border:1px solid #ccc;margin:4px 0}
            #viewer-box{width:100%;max-width:960px;height:540px;background:#000}
            .controls{font-size:13px;margin:4px 0}.controls button,.controls select{margin:2px 6px 2px 0}
            .controls button.on{background:#246;color:#fff}
            .charts{display:flex;flex-wrap:wrap;gap:12px}.chart{width:520px;height:300px;background:#fff;
            border:1px solid #ddd;padding:6px}
            .note{font-size:12px;color:#555}
            pre{font-size:11px;background:#fff;border:1px solid #ddd;padding:8px;max-height:320px;overflow:auto}
            """;

    private static final String VIEWER_HTML = """
            <div class="controls" id="viewer-controls">
            Show: <button id="bg-input" onclick="ctcfSetBackground('input')">input</button><button
             id="bg-counterfactual" onclick="ctcfSetBackground('counterfactual')">counterfactual</button><button
             id="bg-frames" onclick="ctcfSetBackground('frames')" {frames}>sweep frames</button>
            Overlay: <select id="overlay" onchange="ctcfSetOverlay(this.value)">
             <option value="abs">|Δ| (HU)</option><option value="signed">signed Δ (HU)</option>
             <option value="heatmap">heatmap</option><option value="none">none</option></select>
            threshold <input id="threshold" type="range" min="0" max="1" step="any"
             oninput="ctcfSetThreshold(parseFloat(this.value))"> <span id="threshold-value"></span>
            <br>Layout: <button id="layout-axial" onclick="ctcfLayout('axial')">axial</button><button
             id="layout-multi" onclick="ctcfLayout('multiplanar')">multiplanar</button><button
             id="layout-render" onclick="ctcfLayout('render')">3-D</button>
            <span id="frame-controls" hidden>frame <input id="frame" type="range" min="0" max="0" step="1"
             oninput="ctcfSetFrame(parseInt(this.value))"> <span id="frame-label"></span></span>
            </div>
            <div id="viewer-box"><canvas id="viewer"></canvas></div>
            <div class="controls"><span id="viewer-status">loading…</span> · <span id="overlay-legend"></span>
             · <span id="viewer-location"></span></div>
            """;

    private static final String VIEWER_JS = """
            function ctcfBlobUrl(name) {
              const bin = atob(ctcfVolumes[name]);
              const bytes = new Uint8Array(bin.length);
              for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
              return URL.createObjectURL(new Blob([bytes]));
            }
            const ctcfRadiological = ctcfData.display === 'radiological';
            const ctcfNv = new niivue.Niivue({backColor: [0, 0, 0, 1], show3Dcrosshair: true, isColorbar: true,
              isRadiologicalConvention: ctcfRadiological, isOrientationTextVisible: true, crosshairWidth: 1,
              crosshairColor: [1, 0, 0, 0.6],
              onLocationChange: d => {
                const mm = ctcfNv.frac2mm(ctcfNv.scene.crosshairPos);
                document.getElementById('viewer-location').textContent = 'crosshair at x ' + mm[0].toFixed(1)
                  + ', y ' + mm[1].toFixed(1) + ', z ' + mm[2].toFixed(1) + ' mm (RAS+)';
                document.body.dataset.crosshairMm = [mm[0], mm[1], mm[2]].map(v => v.toFixed(2)).join(',');
              }});
            const ctcfState = {background: 'input', overlay: 'abs', threshold: NaN, frame: 0, layout: 'multiplanar'};
            function ctcfOverlayMax() {
              return ctcfState.overlay === 'heatmap' ? ctcfData.heatMax : ctcfData.deltaMax;
            }
            function ctcfOverlayUnits() { return ctcfState.overlay === 'heatmap' ? 'window units' : 'HU'; }
            function ctcfLegend() {
              const el = document.getElementById('overlay-legend');
              if (ctcfState.background === 'frames' || ctcfState.overlay === 'none') { el.textContent = 'no overlay'; return; }
              const what = {abs: '|Δ| = |counterfactual − reconstruction|', signed: 'signed Δ (red: brighter, blue: darker)',
                            heatmap: 'heatmap'}[ctcfState.overlay];
              el.textContent = what + ' in ' + ctcfOverlayUnits() + '; colour bar ' + ctcfState.threshold.toPrecision(3)
                + ' to ' + ctcfOverlayMax().toPrecision(3) + ' ' + ctcfOverlayUnits() + '; below the threshold: transparent';
            }
            function ctcfThresholdUi() {
              const t = document.getElementById('threshold');
              t.max = String(ctcfOverlayMax() || 1);
              t.value = String(ctcfState.threshold);
              document.getElementById('threshold-value').textContent = ctcfState.threshold.toPrecision(3) + ' '
                + ctcfOverlayUnits();
            }
            async function ctcfReload() {
              const status = document.getElementById('viewer-status');
              document.body.dataset.viewerReady = 'false';
              const layers = [];
              const st = ctcfState;
              if (st.background === 'frames') {
                layers.push({url: ctcfBlobUrl('frames'), name: 'frames.nii.gz', colormap: 'gray', cal_min: 0,
                             cal_max: 1, colorbarVisible: false});
              } else {
                layers.push({url: ctcfBlobUrl(st.background), name: st.background + '.nii.gz', colormap: 'gray',
                             cal_min: -1000, cal_max: 600, colorbarVisible: false});
                if (st.overlay !== 'none' && !(st.overlay === 'heatmap' && !ctcfVolumes.heatmap)) {
                  const max = ctcfOverlayMax() || 1;
                  const layer = {url: ctcfBlobUrl(st.overlay === 'heatmap' ? 'heatmap' : 'delta'),
                                 name: st.overlay + '.nii.gz', colormap: 'warm', opacity: 0.8,
                                 cal_min: st.threshold, cal_max: max};
                  if (st.overlay === 'signed') layer.colormapNegative = 'winter';
                  layers.push(layer);
                }
              }
              await ctcfNv.loadVolumes(layers);
              if (st.background !== 'frames' && st.overlay === 'abs' && ctcfNv.volumes.length > 1) {
                const v = ctcfNv.volumes[1];  // |Δ| from the signed Δ, in place: one colour bar from 0 up
                for (let i = 0; i < v.img.length; i++) v.img[i] = Math.abs(v.img[i]);
                v.cal_min = st.threshold;
                v.cal_max = ctcfOverlayMax() || 1;
                ctcfNv.updateGLVolume();
              }
              if (st.background === 'frames') ctcfSetFrame(st.frame);
              for (const id of ['input', 'counterfactual', 'frames']) {
                document.getElementById('bg-' + id).classList.toggle('on', st.background === id);
              }
              document.getElementById('frame-controls').hidden = st.background !== 'frames';
              status.textContent = 'showing ' + st.background + (st.background !== 'frames' && st.overlay !== 'none'
                ? ' + ' + st.overlay : '');
              ctcfLegend();
              ctcfThresholdUi();
              const r = document.getElementById('viewer').getBoundingClientRect();
              document.body.dataset.viewerRect = [r.left, r.top + window.scrollY, r.width, r.height]
                  .map(Math.round).join(',');
              document.body.dataset.viewerMode = status.textContent;
              document.body.dataset.viewerReady = 'true';
            }
            function ctcfSetBackground(name) { ctcfState.background = name; return ctcfReload(); }
            function ctcfSetOverlay(name) {
              ctcfState.overlay = name;
              ctcfState.threshold = ctcfData.thresholdFraction * (ctcfOverlayMax() || 1);
              document.getElementById('overlay').value = name;
              return ctcfReload();
            }
            function ctcfSetThreshold(t) {
              ctcfState.threshold = t;
              if (ctcfNv.volumes.length > 1) {
                ctcfNv.volumes[1].cal_min = t;
                ctcfNv.updateGLVolume();
              }
              ctcfLegend();
              ctcfThresholdUi();
            }
            function ctcfSetFrame(i) {
              const n = ctcfData.frameLambdas ? ctcfData.frameLambdas.length : 0;
              if (n === 0) return;
              i = Math.max(0, Math.min(n - 1, i));
              ctcfState.frame = i;
              const f = document.getElementById('frame');
              f.max = String(n - 1);
              f.value = String(i);
              document.getElementById('frame-label').textContent = (i + 1) + '/' + n + ': λ '
                + ctcfData.frameLambdas[i].toFixed(1) + ', prediction ' + ctcfData.framePredictions[i].toFixed(4);
              if (ctcfState.background === 'frames' && ctcfNv.volumes.length > 0) {
                ctcfNv.setFrame4D(ctcfNv.volumes[0].id, i);
              }
              document.body.dataset.frame = String(i);
            }
            function ctcfLayout(kind) {
              ctcfState.layout = kind;
              ctcfNv.setSliceType({axial: ctcfNv.sliceTypeAxial, multiplanar: ctcfNv.sliceTypeMultiplanar,
                                   render: ctcfNv.sliceTypeRender}[kind]);
              for (const k of ['axial', 'multi', 'render']) {
                document.getElementById('layout-' + k).classList.toggle('on', kind.startsWith(k));
              }
              document.body.dataset.layout = kind;
            }
            /** World position (mm) of slice k's centre on the explained processed grid. */
            function ctcfSliceMm(k) {
              const a = ctcfData.sliceGrid;
              const i = (ctcfData.sliceDims[0] - 1) / 2;
              const j = (ctcfData.sliceDims[1] - 1) / 2;
              return [0, 1, 2].map(r => a[4 * r] * i + a[4 * r + 1] * j + a[4 * r + 2] * k + a[4 * r + 3]);
            }
            function ctcfGoToSlice(k) {
              const mm = ctcfSliceMm(k);
              const cur = ctcfNv.frac2mm(ctcfNv.scene.crosshairPos);
              ctcfNv.scene.crosshairPos = ctcfNv.mm2frac([cur[0], cur[1], mm[2]]);
              ctcfNv.drawScene();
              ctcfNv.createOnLocationChange();
              document.body.dataset.goToSlice = String(k);
            }
            ctcfNv.attachTo('viewer').then(() => {
              ctcfLayout('multiplanar');
              ctcfState.threshold = ctcfData.thresholdFraction * (ctcfData.deltaMax || 1);
              return ctcfReload();
            }).then(() => {
              if (ctcfData.chunk) ctcfGoToSlice((ctcfData.chunk[0] + ctcfData.chunk[1] - 1) / 2);
            }).catch(e => {
              document.getElementById('viewer-status').textContent = 'viewer error: ' + e;
              console.error(e);
            });
            """;

    private static final String CHARTS_JS = """
            (function () {
              const goTo = k => { if (typeof ctcfGoToSlice === 'function') ctcfGoToSlice(k); };
              const base = {responsive: true, maintainAspectRatio: false, animation: false,
                            interaction: {mode: 'index', intersect: false}};
              const axis = (title, extra) => Object.assign({title: {display: true, text: title}}, extra || {});
              const d = ctcfData;
              if (d.chunks && document.getElementById('chart-chunks')) {
                const cs = d.chunks.slice().sort((a, b) => a.start - b.start);
                const explained = d.chunk || [];
                window.ctcfChunkChart = new Chart(document.getElementById('chart-chunks'), {
                  type: 'bar',
                  data: {labels: cs.map(c => c.start + '–' + c.end),
                         datasets: [{label: 'lowest prediction reached in the chunk', data: cs.map(c => c.min_prediction),
                                     backgroundColor: cs.map(c => c.start === explained[0] ? '#d62728' : '#7aa6d6')},
                                    {type: 'line', label: 'initial prediction', data: cs.map(() => d.initialPrediction),
                                     borderColor: '#444', borderDash: [6, 4], pointRadius: 0}]},
                  options: Object.assign({}, base, {
                    plugins: {title: {display: true, text: 'Per-chunk localization (red: explained chunk)'},
                              tooltip: {callbacks: {afterBody: items => {
                                const c = cs[items[0].dataIndex];
                                return 'λ bound ' + c.lambda_bound + ', stop: ' + c.stop_reason + ', rank ' + c.rank;
                              }}}},
                    scales: {x: axis('chunk (slices, processed grid)'),
                             y: axis('prediction (probability)', {min: 0, max: 1})},
                    onClick: (e, els, chart) => {
                      const hit = chart.getElementsAtEventForMode(e, 'index', {intersect: false}, false);
                      if (hit.length) { const c = cs[hit[0].index]; goTo((c.start + c.end - 1) / 2); }
                    }})
                });
              }
              if (d.sliceChange && document.getElementById('chart-slices')) {
                window.ctcfSliceChart = new Chart(document.getElementById('chart-slices'), {
                  type: 'line',
                  data: {labels: d.sliceChange.map((_, i) => i),
                         datasets: [{label: 'Σ heatmap² per slice', data: d.sliceChange, borderColor: '#f4a6a6',
                                     pointRadius: 0, fill: false}].concat(d.sliceChangeSmoothed ?
                                    [{label: '5-slice moving average', data: d.sliceChangeSmoothed,
                                      borderColor: '#d62728', pointRadius: 0, fill: false}] : [])},
                  options: Object.assign({}, base, {
                    plugins: {title: {display: true, text: 'Change per slice, every chunk shifted on its own'}},
                    scales: {x: axis('slice (processed grid)', {ticks: {maxTicksLimit: 12}}),
                             y: axis(d.sliceChangeMeasure ? 'Σ heatmap² per slice (window units²)' : 'change',
                                     {beginAtZero: true, min: 0})},
                    onClick: (e, els, chart) => {
                      const hit = chart.getElementsAtEventForMode(e, 'index', {intersect: false}, false);
                      if (hit.length) goTo(hit[0].index);
                    }})
                });
              }
              const pts = (ls, ps) => (ls || []).map((l, i) => ({x: l, y: ps[i]}));
              const sets = [];
              if (d.searchLambdas && d.searchLambdas.length > 1) {
                sets.push({label: 'search steps', data: pts(d.searchLambdas, d.searchPredictions), borderColor: '#1f77b4',
                           showLine: true});
              }
              if (d.frameLambdas) {
                sets.push({label: 'sweep frames', data: pts(d.frameLambdas, d.framePredictions), borderColor: '#d62728',
                           backgroundColor: '#d62728', showLine: false, pointRadius: 4});
              }
              if (d.frameLambdas && d.frameLambdas.length) {
                const ls = d.frameLambdas.concat(d.searchLambdas || []);
                const lo = Math.min(...ls), hi = Math.max(...ls);
                sets.push({label: 'initial prediction', data: [{x: lo, y: d.initialPrediction}, {x: hi, y: d.initialPrediction}],
                           borderColor: '#444', borderDash: [6, 4], pointRadius: 0, showLine: true});
              }
              window.ctcfLambdaChart = new Chart(document.getElementById('chart-lambda'), {
                type: 'scatter',
                data: {datasets: sets},
                options: Object.assign({}, base, {
                  interaction: {mode: 'nearest', intersect: false},
                  plugins: {title: {display: true, text: 'Prediction along the latent shift (explained chunk)'}},
                  scales: {x: axis('λ (latent shift)'), y: axis('prediction (probability)', {min: 0, max: 1})},
                  onClick: (e, els, chart) => {
                    const hit = chart.getElementsAtEventForMode(e, 'nearest', {intersect: false}, false);
                    if (hit.length && chart.data.datasets[hit[0].datasetIndex].label === 'sweep frames'
                        && typeof ctcfSetBackground === 'function' && ctcfVolumes.frames) {
                      ctcfState.frame = hit[0].index;
                      ctcfSetBackground('frames');
                    }
                  }})
              });
              document.body.dataset.chartsReady = 'true';
            })();
            """;

    static String format(Object v) {
        if (v instanceof Double d) {
            return String.format(Locale.ROOT, Math.abs(d) >= 100 ? "%.1f" : "%.4f", d);
        }
        if (v instanceof List<?> l) {
            return l.toString();
        }
        if (v instanceof Map<?, ?> m) {
            return new LinkedHashMap<>(m).toString();
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
