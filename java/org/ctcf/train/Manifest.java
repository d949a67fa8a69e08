package org.ctcf.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A training manifest: one volume per line, {@code <split> <volume> [mask=<lung mask>] [patient=<id>]}, where
 * split is {@code train} or {@code val}; {@code #} starts a comment. Relative paths are resolved against
 * {@code root} (default: the manifest's folder). Every problem names the file and line.
 */
public record Manifest(Path file, List<Entry> entries) {

    /** One volume: its split, file, optional lung mask and patient id (default: the file name). */
    public record Entry(String split, Path volume, Path mask, String patient, int line) {
        public boolean isTrain() {
            return split.equals("train");
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
                throw new IOException(where + "expected '<train|val> <volume> [mask=FILE] [patient=ID]'");
            }
            String split = f[0].toLowerCase(Locale.ROOT);
            if (!split.equals("train") && !split.equals("val")) {
                throw new IOException(where + "split must be train or val, not '" + f[0] + "'");
            }
            Path vol = base.resolve(f[1]);
            Path mask = null;
            String patient = vol.getFileName().toString();
            for (int k = 2; k < f.length; k++) {
                if (f[k].startsWith("mask=")) {
                    mask = base.resolve(f[k].substring(5));
                } else if (f[k].startsWith("patient=")) {
                    patient = f[k].substring(8);
                } else {
                    throw new IOException(where + "unknown field '" + f[k] + "' (mask=FILE, patient=ID)");
                }
            }
            for (Path p : mask == null ? List.of(vol) : List.of(vol, mask)) {
                if (!Files.isRegularFile(p)) {
                    throw new NoSuchFileException(p.toString(), null, "listed at " + file + ":" + (i + 1)
                            + " but missing");
                }
            }
            out.add(new Entry(split, vol, mask, patient, i + 1));
        }
        if (out.stream().noneMatch(Entry::isTrain)) {
            throw new IOException(file + ": no 'train' volume listed");
        }
        List<String> trainPatients = out.stream().filter(Entry::isTrain).map(Entry::patient).toList();
        for (Entry e : out) {
            if (!e.isTrain() && trainPatients.contains(e.patient())) {
                throw new IOException(file + ":" + e.line() + ": patient " + e.patient()
                        + " is in both train and val; hold whole patients out");
            }
        }
        return new Manifest(file, List.copyOf(out));
    }

    public List<Entry> train() {
        return entries.stream().filter(Entry::isTrain).toList();
    }

    public List<Entry> validation() {
        return entries.stream().filter(e -> !e.isTrain()).toList();
    }
}
