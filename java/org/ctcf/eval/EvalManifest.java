package org.ctcf.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * An evaluation manifest: CSV with the header {@code volume,label} and optionally {@code x_mm,y_mm,z_mm} (the
 * world position of the finding, e.g. a nodule centre, in the volume's own world coordinates). Labels are 0/1 or
 * negative/positive. Relative paths are resolved against the manifest's folder. Errors name file and line.
 */
public record EvalManifest(Path file, List<Case> cases) {
    /**
     * One volume. {@code position} is null when the row has none. {@code id} is the scan's id for {@code --shard}:
     * the volume's path exactly as the manifest writes it (e.g. {@code scans/a.nii.gz}), so a shard owns the same
     * scans on every machine and under any order of the rows.
     */
    public record Case(int line, Path volume, boolean positive, double[] position, String id) {
        public String name() {
            return volume.getFileName().toString();
        }
    }

    /** Reads {@code file}; every volume listed must be readable. */
    public static EvalManifest read(Path file) throws IOException {
        return read(file, true);
    }

    /**
     * Reads {@code file}; with {@code checkVolumes} false the volumes need not be on this machine (merging shards'
     * results needs only the manifest's rows and order).
     */
    public static EvalManifest read(Path file, boolean checkVolumes) throws IOException {
        Path base = file.toAbsolutePath().getParent();
        List<Case> cases = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        String[] header = null;
        for (org.ctcf.io.Csv.Record rec : org.ctcf.io.Csv.parse(file, Files.readString(file,
                java.nio.charset.StandardCharsets.UTF_8), true)) {
            String[] f = rec.fields().toArray(String[]::new);
            String raw = org.ctcf.core.Text.printable(String.join(",", f));
            int lineNo = rec.line();
            if (header == null) {
                header = f;
                List<String> h = List.of(f);
                boolean pos = h.size() == 5 && h.subList(2, 5).equals(List.of("x_mm", "y_mm", "z_mm"));
                if (h.size() < 2 || !h.get(0).equals("volume") || !h.get(1).equals("label") || !(h.size() == 2 || pos)) {
                    throw bad(file, lineNo, "the header must be 'volume,label' or 'volume,label,x_mm,y_mm,z_mm', not '"
                            + raw + "'");
                }
                continue;
            }
            if (f.length != header.length) {
                throw bad(file, lineNo, header.length + " columns expected, found " + f.length);
            }
            boolean positive = switch (f[1].toLowerCase(Locale.ROOT)) {
                case "1", "positive", "true" -> true;
                case "0", "negative", "false" -> false;
                default -> throw bad(file, lineNo, "label '" + f[1] + "' is not 0/1 or negative/positive");
            };
            Path v = base.resolve(f[0]).normalize();
            if (checkVolumes && !Files.isReadable(v)) {
                throw bad(file, lineNo, "volume " + v + " does not exist or is not readable");
            }
            if (!seen.add(v.getFileName().toString())) {  // results are keyed by file name
                throw bad(file, lineNo, "a volume named " + v.getFileName() + " is listed already");
            }
            double[] position = null;
            if (header.length == 5 && !(f[2].isEmpty() && f[3].isEmpty() && f[4].isEmpty())) {
                try {
                    position = new double[] {Double.parseDouble(f[2]), Double.parseDouble(f[3]),
                        Double.parseDouble(f[4])};
                } catch (NumberFormatException e) {
                    throw bad(file, lineNo, "position '" + f[2] + "," + f[3] + "," + f[4] + "' is not three numbers");
                }
            }
            cases.add(new Case(lineNo, v, positive, position, f[0]));
        }
        if (cases.isEmpty()) {
            throw new IOException(file + ": no volumes listed");
        }
        return new EvalManifest(file, List.copyOf(cases));
    }

    private static IOException bad(Path file, int line, String what) {
        return new IOException(file + ":" + line + ": " + what);
    }
}
