package org.ctcf.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.ctcf.io.OutputException;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * What ctcf recognises as its own explain output folder, the only kind it ever replaces: a folder whose
 * {@code summary.json} (written last, by ctcf) lists every file in it. A folder with anything else in it (an input,
 * a user's notes, another program's files) is not replaced, not mixed into and not removed.
 */
final class ExplainOutputs {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ExplainOutputs() {
    }

    /**
     * The outputs that {@code folder}'s summary lists, relative to the folder (the summary itself included), or null
     * when the folder has no summary.json of ctcf's (missing, unreadable, without an {@code outputs} list).
     */
    static Set<String> listed(Path folder) {
        Path summary = folder.resolve(ExplanationWriter.SUMMARY);
        if (!Files.isRegularFile(summary, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        try {
            JsonNode root = JSON.readTree(summary.toFile());
            JsonNode outputs = root == null ? null : root.get("outputs");
            if (outputs == null || !outputs.isArray() || !root.has("input_sha256")) {
                return null;
            }
            Set<String> names = new LinkedHashSet<>();
            for (JsonNode o : outputs) {
                if (o.isTextual() && !Path.of(o.asText()).isAbsolute()) {
                    names.add(Path.of(o.asText()).normalize().toString());
                }
            }
            names.add(ExplanationWriter.SUMMARY);
            return names;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Whether every file below {@code folder} is one its summary lists: an output of ctcf's, which it may replace. */
    static boolean isOwn(Path folder) {
        if (!Files.isDirectory(folder, LinkOption.NOFOLLOW_LINKS)) {
            return false;  // a link (to whatever folder) or a file is not a folder ctcf wrote
        }
        Set<String> listed = listed(folder);
        if (listed == null) {
            return false;
        }
        try (var walk = Files.walk(folder)) {
            for (Path p : walk.toList()) {
                if (p.equals(folder) || Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                if (!listed.contains(folder.relativize(p).toString())) {
                    return false;
                }
            }
            return true;
        } catch (IOException | java.io.UncheckedIOException e) {
            return false;
        }
    }

    /**
     * Up to {@code max} files below {@code folder} (relative) that its summary does not list, or, without a summary
     * of ctcf's, its first entries: what makes it not ctcf's, for a message.
     */
    static List<String> foreign(Path folder, int max) throws IOException {
        Set<String> listed = listed(folder);
        if (listed == null) {
            return org.ctcf.io.OutputFolders.sample(folder, max);
        }
        List<String> out = new ArrayList<>();
        try (var walk = Files.walk(folder)) {
            for (Path p : walk.sorted().toList()) {
                if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && !listed.contains(folder.relativize(p)
                        .toString()) && out.size() < max) {
                    out.add(folder.relativize(p).toString());
                }
            }
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
        return out;
    }

    /** Whether {@code folder} is a complete output: its summary is there and every output it lists inside is too. */
    static boolean complete(Path folder) {
        Set<String> listed = listed(folder);
        if (listed == null) {
            return false;
        }
        for (String name : listed) {
            if (!Files.exists(folder.resolve(name), LinkOption.NOFOLLOW_LINKS)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Checks, before a commit, that {@code staged} holds a summary.json of ctcf's and that every output it lists was
     * written: a relative one inside {@code staged}, an absolute one below {@code dicomFinal} in {@code dicomStaged},
     * any other absolute one where it says.
     */
    static void checkWritten(Path staged, Path dicomFinal, Path dicomStaged) throws IOException {
        Path summary = staged.resolve(ExplanationWriter.SUMMARY);
        List<String> outputs = new ArrayList<>();
        try {
            JsonNode root = JSON.readTree(summary.toFile());
            JsonNode list = root == null ? null : root.get("outputs");
            if (list == null || !list.isArray()) {
                throw new IOException("no outputs list");
            }
            list.forEach(o -> outputs.add(o.asText()));
        } catch (IOException e) {
            throw new OutputException(summary, "not committed: the summary is missing or unreadable ("
                    + e.getMessage() + ")", e);
        }
        List<String> missing = new ArrayList<>();
        for (String o : outputs) {
            Path p = Path.of(o);
            Path at;
            if (!p.isAbsolute()) {
                at = staged.resolve(p);
            } else if (dicomFinal != null && dicomStaged != null && p.normalize().startsWith(dicomFinal)) {
                at = dicomStaged.resolve(dicomFinal.relativize(p.normalize()));
            } else {
                at = p;
            }
            if (!Files.exists(at, LinkOption.NOFOLLOW_LINKS)) {
                missing.add(o);
            }
        }
        if (!missing.isEmpty()) {
            throw new OutputException(staged, "not committed: the summary lists outputs that were not written ("
                    + String.join(", ", missing.subList(0, Math.min(5, missing.size()))) + (missing.size() > 5
                            ? " and " + (missing.size() - 5) + " more" : "") + ")", null);
        }
    }
}
