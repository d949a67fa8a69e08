package org.ctcf.io;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * Output folders that appear whole or not at all. A folder {@code DIR/NAME} is written as a staged sibling,
 * {@code DIR/.NAME.partial-RANDOM}, and renamed into place at the end ({@link #commit}); what stood at the name
 * before is replaced only when it is empty or when the caller recognises it as an earlier output of ctcf's own: it
 * is renamed aside ({@code DIR/.NAME.old-RANDOM}), the staged folder renamed in, and then the old one removed, so
 * a crash in between leaves the earlier output whole under the aside name, and {@link #recover} puts it back.
 * ctcf removes nothing else: not a folder it did not write, not a live writer's staged folder (the writer holds the
 * name's {@link OutputLock}).
 */
public final class OutputFolders {
    /** The staged folders' marker: {@code .NAME.partial-RANDOM}. */
    public static final String PARTIAL = ".partial-";
    /** An earlier output renamed aside during a replacement: {@code .NAME.old-RANDOM}. */
    public static final String OLD = ".old-";

    private OutputFolders() {
    }

    /** A new staged folder's path for {@code target} (not created). */
    public static Path staged(Path target) {
        return target.toAbsolutePath().resolveSibling("." + target.getFileName() + PARTIAL + AtomicFiles.random());
    }

    /** Whether {@code p} exists (not following a link). */
    public static boolean exists(Path p) {
        return Files.exists(p, LinkOption.NOFOLLOW_LINKS);
    }

    /** Whether {@code p} is a folder (not a link to one) with nothing in it. */
    public static boolean isEmptyFolder(Path p) throws IOException {
        if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
            return !ds.iterator().hasNext();
        }
    }

    /** Up to {@code max} entries of folder {@code p} (relative, sorted), for messages. */
    public static List<String> sample(Path p, int max) throws IOException {
        List<String> names = new ArrayList<>();
        if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            return names;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
            for (Path q : ds) {
                names.add(q.getFileName().toString());
            }
        }
        names.sort(null);
        return names.size() > max ? new ArrayList<>(names.subList(0, max)) : names;
    }

    /** How a commit ended. */
    public enum Commit {
        /** The staged folder is now the target. */
        COMMITTED,
        /** The target is something the caller may not replace (left as it was; the staged folder too). */
        REFUSED
    }

    /**
     * Puts {@code staged} at {@code target}: renamed onto an absent target or an empty folder; onto anything else only
     * when {@code replaceable} accepts it (an earlier output of ctcf's), which is then renamed aside, the staged folder
     * renamed in, and the aside removed. Otherwise {@link Commit#REFUSED} and nothing changes. The caller holds the
     * target's {@link OutputLock} (or knows there is no other writer).
     */
    public static Commit commit(Path staged, Path target, Predicate<Path> replaceable) throws IOException {
        Swap swap = swap(staged, target, replaceable);
        if (swap == null) {
            return Commit.REFUSED;
        }
        swap.finish();
        return Commit.COMMITTED;
    }

    /**
     * A commit whose earlier output is kept aside until {@link #finish()} (then removed) or {@link #undo()} (then put
     * back, and the new output moved out of the way and removed): so that two folders committed one after the other
     * (a {@code --dicom-out} and {@code -o}) end both new or both as they were.
     */
    public static final class Swap {
        private final Path target;
        private final Path aside;
        private boolean done;

        private Swap(Path target, Path aside) {
            this.target = target;
            this.aside = aside;
        }

        /** Removes the earlier output set aside (if there was one). */
        public void finish() throws IOException {
            if (done) {
                return;
            }
            done = true;
            if (aside != null) {
                try {
                    AtomicFiles.deleteTree(aside);
                } catch (IOException | java.io.UncheckedIOException e) {
                    // committed all the same; the next run's recover removes it
                    System.getLogger("org.ctcf.io").log(System.Logger.Level.WARNING, "could not remove " + aside
                            + " (an earlier output, replaced): " + e.getMessage());
                }
            }
        }

        /** Takes the new output away again (removed) and puts the earlier one back. */
        public void undo() throws IOException {
            if (done) {
                return;
            }
            done = true;
            Path away = staged(target);
            rename(target, away);
            if (aside != null) {
                rename(aside, target);
            }
            AtomicFiles.deleteTree(away);
        }
    }

    /**
     * The first half of {@link #commit}: {@code staged} renamed to {@code target}, an earlier output renamed aside
     * and kept; null (nothing changed) when {@code replaceable} refuses what is there.
     */
    public static Swap swap(Path staged, Path target, Predicate<Path> replaceable) throws IOException {
        syncFolders(staged);
        if (!exists(target) || isEmptyFolder(target)) {
            try {
                rename(staged, target);  // rename(2) replaces an empty folder in one step
                syncParent(target);
                return new Swap(target, null);
            } catch (IOException e) {
                if (!exists(target) || isEmptyFolder(target)) {
                    throw OutputException.of(target, e);
                }
                // something appeared meanwhile: judge it below
            }
        }
        if (!replaceable.test(target)) {
            return null;
        }
        Path aside = target.toAbsolutePath().resolveSibling("." + target.getFileName() + OLD + AtomicFiles.random());
        try {
            rename(target, aside);
        } catch (NoSuchFileException e) {
            aside = null;  // gone meanwhile
        } catch (IOException e) {
            throw OutputException.of(target, e);
        }
        try {
            rename(staged, target);
        } catch (IOException e) {
            try {
                if (aside != null) {
                    rename(aside, target);  // put the earlier output back
                }
            } catch (IOException again) {
                e.addSuppressed(again);
            }
            throw OutputException.of(target, e);
        }
        syncParent(target);
        return new Swap(target, aside);
    }

    /** Forces the entries of {@code root} and of every folder below it to the disk (the files' names). */
    static void syncFolders(Path root) throws IOException {
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var walk = Files.walk(root)) {
            for (Path d : walk.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)).toList()) {
                syncParent(d.resolve("x"));
            }
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** Makes a rename in {@code p}'s folder durable (fsync of the folder, where the platform allows it). */
    static void syncParent(Path p) {
        Path dir = p.toAbsolutePath().getParent();
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(dir,
                java.nio.file.StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // not every platform opens folders: the rename stands, only its durability after a power loss is less sure
        }
    }

    private static void rename(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    /**
     * What a crashed writer of {@code target} left beside it, cleaned up by a caller that holds the target's {@link
     * OutputLock} (so the writer is gone): its staged folders are removed; an earlier output set aside during a
     * replacement (one {@code ownAside} accepts as ctcf's) is put back when the target is missing, and removed when
     * the target is in place. Returns what it did, for the log.
     */
    public static List<Recovered> recover(Path target, Predicate<Path> ownAside) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        String name = target.getFileName().toString();
        List<Recovered> done = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return done;
        }
        List<Path> staged = new ArrayList<>();
        List<Path> asides = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "." + globEscape(name) + ".*")) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                String rest = n.substring(name.length() + 1);
                if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                if (isRandomSuffix(rest, PARTIAL)) {
                    staged.add(p);
                } else if (isRandomSuffix(rest, OLD)) {
                    asides.add(p);
                }
            }
        }
        staged.sort(null);
        asides.sort(null);
        for (Path p : staged) {
            AtomicFiles.deleteTree(p);
            done.add(new Recovered(p, Recovered.What.STAGED_REMOVED));
        }
        for (Path p : asides) {
            if (!ownAside.test(p)) {
                continue;  // not an output of ctcf's (a folder someone named like one): left alone
            }
            if (!exists(target)) {
                rename(p, target);
                done.add(new Recovered(p, Recovered.What.RESTORED));
            } else {
                AtomicFiles.deleteTree(p);
                done.add(new Recovered(p, Recovered.What.ASIDE_REMOVED));
            }
        }
        return done;
    }

    /** One thing {@link #recover} did: to {@code path}, a staged folder or an earlier output set aside. */
    public record Recovered(Path path, What what) {
        public enum What {
            /** A dead writer's staged folder, removed. */
            STAGED_REMOVED,
            /** An earlier output set aside by an interrupted replacement, renamed back into place. */
            RESTORED,
            /** An earlier output set aside by a replacement that had finished but for removing it, removed. */
            ASIDE_REMOVED
        }

        @Override
        public String toString() {
            return switch (what) {
                case STAGED_REMOVED -> "removed " + path + " (left by an interrupted run)";
                case RESTORED -> "restored " + path + " to its place (an interrupted replacement)";
                case ASIDE_REMOVED -> "removed " + path + " (an earlier output, replaced)";
            };
        }
    }

    /**
     * Whether {@code rest} is exactly {@code marker} and the 12 hex digits {@link AtomicFiles#random} makes: the
     * names ctcf gives, and no other (not {@code .scan.old-2023}, not {@code .p1.old-protocol.partial-…}).
     */
    static boolean isRandomSuffix(String rest, String marker) {
        return rest.length() == marker.length() + 12 && rest.startsWith(marker)
                && rest.substring(marker.length()).chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    }

    /** The name of output {@code name}'s staged folder {@code fileName} ({@code .NAME.partial-RANDOM}), or null. */
    public static String stagedName(String fileName) {
        int at = fileName.lastIndexOf(PARTIAL);
        if (!fileName.startsWith(".") || at < 2 || fileName.charAt(at) != '.'
                || !isRandomSuffix(fileName.substring(at), PARTIAL)) {
            return null;
        }
        return fileName.substring(1, at);
    }

    private static String globEscape(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if ("*?[]{}\\".indexOf(c) >= 0) {
                b.append('\\');
            }
            b.append(c);
        }
        return b.toString();
    }

    /**
     * Refuses an output folder that is an input, holds one or lies inside one (after resolving links): writing there
     * would mix ctcf's files into the input or, on a re-run, make the input look like an output.
     *
     * @param option how the user named the output ({@code -o}, {@code --dicom-out}), for the message
     * @param insideAllowed whether the output may lie inside a folder input (a DICOM output into the study's folder)
     */
    public static void checkNotAnInput(Path out, String option, List<Path> inputs, boolean insideAllowed) {
        Path o = real(out);
        for (Path in : inputs) {
            if (in == null) {
                continue;
            }
            Path i = real(in);
            String what = null;
            if (o.equals(i)) {
                what = "is the input " + in;
            } else if (i.startsWith(o)) {
                what = "holds the input " + in;
            } else if (!insideAllowed && o.startsWith(i)) {
                what = "lies inside the input " + in;
            }
            if (what != null) {
                throw new IllegalArgumentException(option + " " + out + " " + what + ": ctcf never writes into or "
                        + "around its inputs (a re-run would take its outputs for inputs, or the reverse); give "
                        + option + " a folder of its own, outside the inputs");
            }
        }
    }

    /**
     * {@code p} with its links resolved: the real path of its longest existing prefix, with the rest (not yet
     * created) appended.
     */
    public static Path real(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        List<String> rest = new ArrayList<>();
        while (existing != null && !Files.exists(existing)) {
            if (existing.getFileName() != null) {
                rest.add(0, existing.getFileName().toString());
            }
            existing = existing.getParent();
        }
        Path r;
        try {
            r = existing == null ? abs.getRoot() : existing.toRealPath();
        } catch (IOException e) {
            r = existing;
        }
        for (String s : rest) {
            r = r.resolve(s);
        }
        return r;
    }
}
