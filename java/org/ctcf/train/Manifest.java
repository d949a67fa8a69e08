package org.ctcf.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;

/**
 * A training manifest: one volume per line,
 * {@code <split> <volume> [mask=<lung mask>|mask=threshold] [patient=<id>] [nodules=present]}, where split is
 * {@code train}, {@code val} (held out for testing) or {@code calib} (held out for a calibration); {@code #} starts a comment. Relative paths are resolved against {@code root}
 * (default: the manifest's folder). {@code mask=threshold} declares the −500 HU pseudo-mask ({@link LungLabels})
 * the volume's lung mask; {@code nodules=present} marks a volume with real nodules (the nodule detector never uses
 * it). Every problem names the file and line.
 */
public record Manifest(Path file, List<Entry> entries) {

    /**
     * One volume: its split, file, optional lung mask (or {@code thresholdMask}: the −500 HU pseudo-mask is its
     * mask), patient id (default: the file name) and whether it holds real nodules.
     */
    public record Entry(String split, Path volume, Path mask, boolean thresholdMask, String patient, boolean nodules,
            int line) {
        public boolean isTrain() {
            return split.equals("train");
        }

        /** Whether the volume has a lung mask (a file, or the declared pseudo-mask) to place synthetic nodules in. */
        public boolean hasLungMask() {
            return mask != null || thresholdMask;
        }
    }

    public static Manifest read(Path file, Path root) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such manifest");
        }
        Path base = root != null ? root : file.toAbsolutePath().getParent();
        List<Entry> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int hash = line.indexOf('#');
            if (hash >= 0) {
                line = line.substring(0, hash);
            }
            line = line.strip();
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split("\\s+");
            String where = file + ":" + (i + 1) + ": ";
            if (f.length < 2) {
                throw new IOException(where + "expected '<train|val|calib> <volume> [mask=FILE|threshold] [patient=ID]"
                        + " [nodules=present]'");
            }
            String split = f[0].toLowerCase(Locale.ROOT);
            if (!split.equals("train") && !split.equals("val") && !split.equals("calib")) {
                throw new IOException(where + "split must be train, val or calib, not '" + f[0] + "'");
            }
            Path vol = base.resolve(f[1]);
            Path mask = null;
            boolean threshold = false;
            boolean nodules = false;
            String patient = vol.getFileName().toString();
            for (int k = 2; k < f.length; k++) {
                if (f[k].equals("mask=threshold")) {
                    threshold = true;
                } else if (f[k].startsWith("mask=")) {
                    mask = base.resolve(f[k].substring(5));
                } else if (f[k].startsWith("patient=")) {
                    patient = f[k].substring(8);
                } else if (f[k].startsWith("nodules=")) {
                    String v = f[k].substring(8);
                    if (!v.equals("present") && !v.equals("absent")) {
                        throw new IOException(where + "nodules= must be present or absent, not '" + v + "'");
                    }
                    nodules = v.equals("present");
                } else {
                    throw new IOException(where + "unknown field '" + f[k]
                            + "' (mask=FILE, mask=threshold, patient=ID, nodules=present)");
                }
            }
            for (Path p : mask == null ? List.of(vol) : List.of(vol, mask)) {
                if (!Files.isRegularFile(p)) {
                    throw new NoSuchFileException(p.toString(), null, "listed at " + file + ":" + (i + 1)
                            + " but missing");
                }
            }
            out.add(new Entry(split, vol, mask, threshold, patient, nodules, i + 1));
        }
        if (out.stream().noneMatch(Entry::isTrain)) {
            throw new IOException(file + ": no 'train' volume listed");
        }
        Map<String, String> splitOf = new HashMap<>();
        for (Entry e : out) {
            String other = splitOf.putIfAbsent(e.patient(), e.split());
            if (other != null && !other.equals(e.split())) {
                throw new IOException(file + ":" + e.line() + ": patient " + e.patient() + " is in both " + other
                        + " and " + e.split() + "; hold whole patients out");
            }
        }
        return new Manifest(file, List.copyOf(out));
    }

    public List<Entry> train() {
        return entries.stream().filter(Entry::isTrain).toList();
    }

    /** The held-out (test) volumes. */
    public List<Entry> validation() {
        return entries.stream().filter(e -> e.split().equals("val")).toList();
    }

    /** The calibration volumes (split {@code calib}): neither trained on nor tested. */
    public List<Entry> calibration() {
        return entries.stream().filter(e -> e.split().equals("calib")).toList();
    }
}
