package org.ctcf.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.ctcf.TestPaths;
import org.ctcf.api.ChunkSweep;
import org.ctcf.api.ExplainOptions;
import org.ctcf.api.Progress;
import org.ctcf.api.SweepResult;
import org.ctcf.core.CtcfException;
import org.ctcf.core.Volume;
import org.ctcf.io.VolumeIO;
import org.junit.jupiter.api.Test;

/** The API's "explain this file and write the outputs here" on the tiny autoencoder and a TorchScript classifier. */
class ExplainTest extends TinyModelTest {
    private ExplanationSummary explain(Path out, Explain.Request request, Progress.Listener progress)
            throws IOException {
        return explain(TestPaths.sample(), out, request, progress);
    }

    private ExplanationSummary explain(Path input, Path out, Explain.Request request, Progress.Listener progress)
            throws IOException {
        return TinyExplainModels.with(KERNEL.get(), card, m -> Explain.toDirectory(input, out, m, request, progress));
    }

    @Test
    void aSweepWritesEveryOutputAndASummaryThatReadsBackIntoTheRecords() throws IOException {
        Path out = tmp.resolve("sweep");
        AtomicInteger chunksDone = new AtomicInteger();
        ExplanationSummary s = explain(out, Explain.Request.sweep(ExplainOptions.builder().lambdaSweepSteps(2)
                .build(), ChunkSweep.of(20)).withFrames(4), p -> {
                    if (p.phase() == Progress.Phase.CHUNK_DONE) {
                        chunksDone.incrementAndGet();
                    }
                    return true;
                });
        assertThat(chunksDone.get()).isEqualTo(6);
        assertThat(s.outputs()).containsExactly(ExplanationWriter.COUNTERFACTUAL, ExplanationWriter.RECONSTRUCTION,
                ExplanationWriter.HEATMAP, ExplanationWriter.STITCHED, ExplanationWriter.STITCHED_HEATMAP,
                ExplanationWriter.CHUNK_PLOT, ExplanationWriter.SLICE_PLOT,
                ExplanationWriter.GIF, ExplanationWriter.PANELS, ExplanationWriter.LAMBDA_PLOT,
                ExplanationWriter.REPORT, ExplanationWriter.SUMMARY);
        try (var files = Files.list(out)) {
            assertThat(files.map(f -> f.getFileName().toString())).containsExactlyInAnyOrderElementsOf(s.outputs());
        }
        try (Volume in = VolumeIO.read(TestPaths.sample());
                Volume cf = VolumeIO.read(out.resolve(ExplanationWriter.COUNTERFACTUAL))) {
            assertThat(cf.geometry().affine()).containsExactly(in.geometry().affine());
        }
        ExplanationSummary read = ExplanationSummary.read(out.resolve(ExplanationWriter.SUMMARY));
        assertThat(read.explanation()).isNull();
        assertThat(read.sweep().chunks()).hasSize(6).extracting(ExplanationSummary.ChunkRow::start)
                .containsExactly(0, 20, 40, 60, 80, 100);
        assertThat(read.sweep().explainedChunk().lambdas()).hasSize(4);
        assertThat(read.sweep().slicePrediction()).hasSize(105);
        // the headline is the best chunk's own counterfactual: the minimum over chunks, that chunk's slices
        ExplanationSummary.SweepSummary w = read.sweep();
        ExplanationSummary.ChunkRow best = w.chunks().stream().filter(c -> c.rank() == 1).findFirst().orElseThrow();
        assertThat(w.stitch()).isEqualTo("best");
        assertThat(w.counterfactualFound()).isEqualTo(best.minPrediction() < w.initialPrediction());
        assertThat(read.counterfactualPrediction()).isEqualTo(w.minimumPrediction()).isEqualTo(best.minPrediction());
        if (w.counterfactualFound()) {
            assertThat(w.counterfactualChunks()).containsExactly(List.of(best.start(), best.end()));
        }
        assertThat(w.sliceChangeSmoothed()).containsExactly(SweepResult.movingAverage(w.sliceChange(), 5));
        assertThat(w.sliceChangeAbs()).hasSize(105);
        assertThat(w.sliceChangeMeasure()).contains("heatmap^2", "5-tap");
        assertThat(read.initialPrediction()).isEqualTo(s.initialPrediction()).isBetween(0.0, 1.0);
        assertThat(read.options().searchMaxSteps()).isEqualTo(ExplainOptions.defaults().searchMaxSteps());
        assertThat(read.classifierCard()).isEqualTo(card.toString());
        // the records are the whole schema: what was read writes back byte for byte
        assertThat(new String(read.toJson())).isEqualTo(Files.readString(out.resolve(ExplanationWriter.SUMMARY)));
        assertThat(Files.readString(out.resolve(ExplanationWriter.REPORT))).contains("data:image/gif;base64,")
                .contains("Per-chunk localization");
    }

    @Test
    void withoutFontsThePlotsAreLeftOutNamedInOneWarningAndEverythingElseIsWritten() throws IOException {
        Path out = tmp.resolve("no-fonts");
        java.util.logging.Logger log = java.util.logging.Logger.getLogger("org.ctcf.report");
        List<String> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Handler h = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                if (r.getLevel() == java.util.logging.Level.WARNING && r.getMessage().startsWith("not written")) {
                    warnings.add(r.getMessage());
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        log.addHandler(h);
        ExplanationSummary s;
        try {
            Images.textAvailableForTest(false);
            // a fixed λ range (no search) in two chunks: the sweep's plots and the λ plot, quickly
            s = explain(out, Explain.Request.sweep(ExplainOptions.builder().fixRange(-30, 0).lambdaSweepSteps(2)
                    .build(), ChunkSweep.of(60)).withFrames(2).withDisplay(Display.NEUROLOGICAL),
                    Progress.Listener.NONE);
        } finally {
            Images.textAvailableForTest(null);
            log.removeHandler(h);
        }
        assertThat(s.outputs()).containsExactly(ExplanationWriter.COUNTERFACTUAL, ExplanationWriter.RECONSTRUCTION,
                ExplanationWriter.HEATMAP, ExplanationWriter.STITCHED, ExplanationWriter.STITCHED_HEATMAP,
                ExplanationWriter.GIF, ExplanationWriter.PANELS, ExplanationWriter.REPORT, ExplanationWriter.SUMMARY);
        try (var files = Files.list(out)) {
            assertThat(files.map(f -> f.getFileName().toString())).containsExactlyInAnyOrderElementsOf(s.outputs());
        }
        ExplanationSummary read = ExplanationSummary.read(out.resolve(ExplanationWriter.SUMMARY));
        assertThat(read.outputs()).doesNotContain(ExplanationWriter.LAMBDA_PLOT, ExplanationWriter.CHUNK_PLOT,
                ExplanationWriter.SLICE_PLOT).contains(ExplanationWriter.PANELS);
        assertThat(read.warnings()).singleElement().asString().contains(ExplanationWriter.LAMBDA_PLOT, "fontconfig");
        assertThat(read.display()).isEqualTo("neurological");
        assertThat(Files.readString(out.resolve(ExplanationWriter.REPORT))).contains("neurological convention")
                .contains("\"display\":\"neurological\"");
        assertThat(warnings).singleElement().asString().contains(ExplanationWriter.CHUNK_PLOT,
                ExplanationWriter.SLICE_PLOT, ExplanationWriter.LAMBDA_PLOT, "apt-get install fontconfig fonts-dejavu-core");
    }

    @Test
    void oneChunkOfARangeWithoutImagesWritesTheVolumesAndTheSummaryOnly() throws IOException {
        Path out = tmp.resolve("chunk");
        ExplanationSummary s = explain(out, Explain.Request.chunk(ExplainOptions.defaults(),
                new Explain.Slices(15, 25)).withRange(new Explain.Slices(30, 90)).withFrames(3).withImages(false),
                Progress.Listener.NONE);
        assertThat(s.outputs()).containsExactly(ExplanationWriter.COUNTERFACTUAL, ExplanationWriter.RECONSTRUCTION,
                ExplanationWriter.HEATMAP, ExplanationWriter.SUMMARY);
        ExplanationSummary read = ExplanationSummary.read(out.resolve(ExplanationWriter.SUMMARY));
        assertThat(read.sweep()).isNull();
        assertThat(read.range()).isEqualTo("30:90");
        assertThat(read.explanation().chunk()).containsExactly(15, 25);
        assertThat(read.explanation().lambdas()).hasSize(3);
        assertThat(read.processedGrid()).startsWith("224x224x60 ");
        assertThat(new String(read.toJson())).isEqualTo(Files.readString(out.resolve(ExplanationWriter.SUMMARY)));

        assertThatThrownBy(() -> explain(tmp.resolve("bad"), Explain.Request.chunk(ExplainOptions.defaults(),
                new Explain.Slices(55, 65)).withRange(new Explain.Slices(30, 90)), Progress.Listener.NONE))
                .isInstanceOf(IllegalArgumentException.class).hasMessage(
                        "--slices 55:65 is outside the processed volume's 60 slices (0:60)");
    }

    @Test
    void dicomOutWithANiftiInputIsRefusedBeforeAnyWork() {
        Path out = tmp.resolve("nifti-dicom-out");
        assertThatThrownBy(() -> explain(out, Explain.Request.sweep(ExplainOptions.builder().fixRange(-30, 0)
                .lambdaSweepSteps(2).build(), ChunkSweep.of(60)).withDicomOut(tmp.resolve("dcm")),
                Progress.Listener.NONE)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--dicom-out").hasMessageContaining("is not a DICOM series")
                .hasMessageContaining(TestPaths.sample().toString());
        assertThat(out).doesNotExist();
        assertThat(tmp.resolve("dcm")).doesNotExist();
    }

    @Test
    void aScanBelowTheSearchsFloorFindsNoCounterfactualSaysWhyAndWritesNoDicomObjects() throws Exception {
        Path input = TestPaths.root().resolve("models/sample/dicom/cip_ct64_nodule");
        Path out = tmp.resolve("negative");
        Path dcm = out.resolve("dicom");
        // a floor above any prediction: the search stops at λ 0 in every chunk, as the reference's does on a negative
        ExplanationSummary s = explain(input, out, Explain.Request.sweep(ExplainOptions.builder().stopBelow(1.5)
                .lambdaSweepSteps(2).build(), ChunkSweep.of(60)).withFrames(2).withDicomOut(dcm),
                Progress.Listener.NONE);
        ExplanationSummary read = ExplanationSummary.read(out.resolve(ExplanationWriter.SUMMARY));
        assertThat(read.options().stopBelow()).isEqualTo(1.5);
        assertThat(read.counterfactualFound()).isFalse();
        assertThat(read.sweep().counterfactualChunks()).isEmpty();
        assertThat(read.counterfactualPrediction()).isEqualTo(read.initialPrediction());
        assertThat(read.sweep().chunks()).allSatisfy(c -> {
            assertThat(c.stopReason()).isEqualTo(org.ctcf.api.StopReason.BELOW_THRESHOLD);
            assertThat(c.lambdaBound()).isZero();
        });
        assertThat(read.warnings()).anySatisfy(w -> assertThat(w).contains("no counterfactual found",
                "below the search's floor", "--stop-below 0"));
        assertThat(read.warnings()).anySatisfy(w -> assertThat(w).contains("--dicom-out: no DICOM objects"));
        // nothing in the study looks like a counterfactual; the volume written is the reconstruction
        assertThat(s.outputs()).noneMatch(f -> f.startsWith("dicom/"));
        try (var files = Files.list(dcm)) {
            assertThat(files).isEmpty();
        }
        try (Volume cf = VolumeIO.read(out.resolve(ExplanationWriter.COUNTERFACTUAL));
                Volume rec = VolumeIO.read(out.resolve(ExplanationWriter.RECONSTRUCTION))) {
            assertThat(cf.toArray()).containsExactly(rec.toArray());
        }
        assertThat(Files.readString(out.resolve(ExplanationWriter.REPORT))).contains("no counterfactual found");
    }

    @Test
    void aDicomSeriesIsExplainedAndWrittenBackIntoItsStudy() throws Exception {
        Path input = TestPaths.root().resolve("models/sample/dicom/cip_ct64_nodule");
        Path out = tmp.resolve("dicom");
        Path dcm = out.resolve("dicom");
        ExplanationSummary s = explain(input, out, Explain.Request.sweep(ExplainOptions.builder().fixRange(-30, 0)
                .lambdaSweepSteps(2).build(), ChunkSweep.of(60)).withFrames(2).withDicomOut(dcm),
                Progress.Listener.NONE);
        assertThat(s.outputs()).contains("dicom/counterfactual/ctcf-ct-0001.dcm", "dicom/counterfactual/ctcf-ct-0079.dcm",
                "dicom/ctcf-parametric-map.dcm", "dicom/ctcf-secondary-capture.dcm");
        assertThat(s.inputSha256()).hasSize(64);
        try (Volume in = VolumeIO.read(input); Volume back = VolumeIO.read(dcm.resolve("counterfactual"));
                Volume cf = VolumeIO.read(out.resolve(ExplanationWriter.COUNTERFACTUAL))) {
            assertThat(back.geometry().sameGrid(in.geometry(), 1e-4)).as(back.geometry() + " vs " + in.geometry())
                    .isTrue();
            float[] a = back.toArray();
            float[] b = cf.toArray();
            var slices = org.ctcf.io.dicom.DicomReader.series(dcm.resolve("counterfactual"),
                    org.ctcf.io.ReadOptions.defaults()).slices();
            int plane = back.nx() * back.ny();
            for (int k = 0; k < back.nz(); k++) {
                double worst = 0;
                for (int i = k * plane; i < (k + 1) * plane; i++) {
                    worst = Math.max(worst, Math.abs(a[i] - b[i]));  // nothing clamped
                }
                assertThat(worst).as("slice %d: within half its slope", k)
                        .isLessThanOrEqualTo(slices.get(k).slope() / 2 + 1e-3);
            }
            var src = (org.ctcf.io.dicom.DicomSource) in.geometry().sourceHint();
            var derived = (org.ctcf.io.dicom.DicomSource) back.geometry().sourceHint();
            assertThat(study(derived)).isEqualTo(study(src));
            assertThat(derived.seriesInstanceUid()).isNotEqualTo(src.seriesInstanceUid());
        }
        // every kind of object written passes dciodvfy and dcmdump (where the tools are; required under tests/run)
        org.ctcf.io.dicom.DicomWriterTest.requireTools("dciodvfy", "dcmdump");
        for (String f : List.of("counterfactual/ctcf-ct-0001.dcm", "counterfactual/ctcf-ct-0079.dcm",
                "ctcf-parametric-map.dcm", "ctcf-secondary-capture.dcm")) {
            org.ctcf.io.dicom.DicomWriterTest.assertValid(dcm.resolve(f));
        }
    }

    static String study(org.ctcf.io.dicom.DicomSource s) {
        return s.kept().stream().filter(e -> e.tag() == 0x0020000D).map(e -> new String(e.value(),
                java.nio.charset.StandardCharsets.US_ASCII).trim().replace("\0", "")).findFirst().orElseThrow();
    }

    @Test
    void aListenerThatReturnsFalseCancelsAndNoSummaryIsWritten() {
        Path out = tmp.resolve("cancelled");
        assertThatThrownBy(() -> explain(out, Explain.Request.sweep(ExplainOptions.defaults(), ChunkSweep.of(20)),
                p -> p.phase() != Progress.Phase.CHUNK_DONE)).isInstanceOf(CtcfException.CancelledException.class);
        assertThat(out).doesNotExist();  // the outputs appear together or not at all
        KERNEL.get().resetCancel();
        assertThat(List.of(tmp.toFile().list())).noneMatch(n -> n.contains(".partial"));
    }
}
