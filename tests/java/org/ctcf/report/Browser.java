package org.ctcf.report;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import javax.imageio.ImageIO;

import org.ctcf.TestPaths;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Browser tests' harness: runs tests/browser/drive.mjs (node + playwright-core from tests/browser/node_modules,
 * installed by tests/browser/install.sh under CTCF_TEST_TOOLS=1) on one page in the system's headless Chromium
 * (SwiftShader WebGL2) and returns what the page did. A test starts with {@link #requireUnderTestTools()}, builds its
 * steps with the factories below ({@link #click}, {@link #waitFor}, {@link #eval}, {@link #screenshot}, ...) and
 * calls {@link #run}; a failing step throws {@link StepFailed}, which carries what was recorded until then.
 */
public final class Browser {
    /** How long one drive.mjs run may take in all. */
    public static final long TIMEOUT_SECONDS = 180;
    public static final List<Integer> DEFAULT_VIEWPORT = List.of(1100, 1400);

    private static final ObjectMapper JSON = new ObjectMapper();

    private Browser() {
    }

    /** The Chromium the tests drive: /usr/bin/chromium, chromium-browser or google-chrome; null when none. */
    public static Path chromium() {
        for (String c : new String[] {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
            if (Files.isExecutable(Path.of(c))) {
                return Path.of(c);
            }
        }
        return null;
    }

    /** node on the PATH (node or nodejs), or null. */
    public static Path node() {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String name : new String[] {"node", "nodejs"}) {
            for (String dir : path.split(File.pathSeparator)) {
                if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
                    return Path.of(dir, name);
                }
            }
        }
        return null;
    }

    private static int nodeMajor = -1;

    /** node's major version (0 when it does not answer); asked once. */
    static synchronized int nodeMajor(Path node) {
        if (nodeMajor < 0) {
            nodeMajor = 0;
            try {
                Process p = new ProcessBuilder(node.toString(), "-p", "process.versions.node")
                        .redirectErrorStream(true).start();
                if (p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    String v = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
                    nodeMajor = Integer.parseInt(v.substring(0, v.indexOf('.')));
                } else {
                    p.destroyForcibly();
                }
            } catch (IOException | RuntimeException e) {
                nodeMajor = 0;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return nodeMajor;
    }

    /** tests/browser of the checkout (TestPaths.root(): ctcf.test.root, else the working directory). */
    public static Path dir() {
        return TestPaths.root().resolve("tests/browser");
    }

    public static Path driver() {
        return dir().resolve("drive.mjs");
    }

    /** What keeps the browser tests from running here, or null when nothing does. */
    public static String missing() {
        List<String> m = new ArrayList<>();
        if (chromium() == null) {
            m.add("Chromium (/usr/bin/chromium; apt-get install chromium, or CTCF_TEST_TOOLS=1 . .ci/env.sh)");
        }
        Path node = node();
        if (node == null) {
            m.add("node on the PATH (apt-get install nodejs npm)");
        } else if (nodeMajor(node) < 20) {
            m.add("node >= 20 (" + node + " is " + nodeMajor(node) + "; Debian 12's is 18: nodejs 20+ from Debian 13 "
                    + "or NodeSource)");
        }
        if (!Files.isRegularFile(dir().resolve("node_modules/playwright-core/package.json"))) {
            m.add("tests/browser/node_modules/playwright-core (bash tests/browser/install.sh, or Maven with "
                    + "CTCF_TEST_TOOLS=1 or -Dctcf.browser.tools=true)");
        }
        if (!Files.isRegularFile(driver())) {
            m.add(driver().toString());
        }
        return m.isEmpty() ? null : String.join("; ", m);
    }

    public static boolean available() {
        return missing() == null;
    }

    /** Under CTCF_TEST_TOOLS=1 (tests/run) a missing tool fails the test; elsewhere the test is skipped. */
    public static void requireUnderTestTools() {
        String why = missing();
        if (why != null && "1".equals(System.getenv("CTCF_TEST_TOOLS"))) {
            throw new AssertionError("browser test tools missing under CTCF_TEST_TOOLS=1: " + why);
        }
        assumeTrue(why == null, () -> "browser test tools missing: " + why);
    }

    // ---- steps (drive.mjs's step kinds) ----

    /** Waits until the JavaScript expression is truthy (polled every 100 ms). */
    public static Map<String, Object> waitFor(String expression, long timeoutMs) {
        return step("waitFor", expression, "timeoutMs", timeoutMs);
    }

    public static Map<String, Object> waitFor(String expression) {
        return step("waitFor", expression);
    }

    /** Clicks the first element the CSS selector matches, once it is visible and clickable. */
    public static Map<String, Object> click(String selector) {
        return step("click", selector);
    }

    /** A mouse click at fractions (fx, fy) of the element's box, e.g. on a canvas chart. */
    public static Map<String, Object> clickAt(String selector, double fx, double fy) {
        return step("clickAt", selector, "x", fx, "y", fy);
    }

    /** The mouse moved to fractions (fx, fy) of the element's box. */
    public static Map<String, Object> hover(String selector, double fx, double fy) {
        return step("hover", selector, "x", fx, "y", fy);
    }

    /** Mouse down at (fx0, fy0) of the element's box, moved to (fx1, fy1), up. */
    public static Map<String, Object> drag(String selector, double fx0, double fy0, double fx1, double fy1) {
        return step("drag", selector, "from", List.of(fx0, fy0), "to", List.of(fx1, fy1));
    }

    /** A key press (Playwright key names: "ArrowUp", "Enter", "a"). */
    public static Map<String, Object> press(String key) {
        return step("press", key);
    }

    /** Evaluates the expression (awaiting a promise); its JSON value goes to {@link Result#values()} as name. */
    public static Map<String, Object> eval(String expression, String as) {
        return step("eval", expression, "as", as);
    }

    /** A screenshot of the viewport, name a plain file name ("page.png"). */
    public static Map<String, Object> screenshot(String name) {
        return step("screenshot", name);
    }

    /** A screenshot clipped to the element's box. */
    public static Map<String, Object> screenshot(String name, String selector) {
        return step("screenshot", name, "selector", selector);
    }

    public static Map<String, Object> sleep(long ms) {
        return step("sleepMs", ms);
    }

    /** Any step: kind, its value, then more key/value pairs ("timeoutMs", 5000). */
    public static Map<String, Object> step(String kind, Object value, Object... more) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put(kind, value);
        if (more.length % 2 != 0) {
            throw new IllegalArgumentException("key/value pairs expected");
        }
        for (int i = 0; i < more.length; i += 2) {
            s.put((String) more[i], more[i + 1]);
        }
        return s;
    }

    // ---- results ----

    /** A box in CSS pixels, viewport coordinates at the time of the screenshot. */
    public record Box(double x, double y, double width, double height) {
    }

    /** A screenshot: the PNG, the image, and the box it shows (so image pixels map to page coordinates). */
    public record Shot(String name, Path path, BufferedImage image, Box box, String selector,
            double deviceScaleFactor) {
    }

    public record ConsoleMessage(String type, String text, String location) {
    }

    /**
     * What drive.mjs recorded. {@code values}: each eval's "as" value (Jackson's Map/List/String/Number/Boolean).
     */
    public record Result(boolean ok, String error, Integer failedStep, Map<String, Object> values,
            Map<String, Shot> screenshots, List<ConsoleMessage> console, List<String> pageErrors,
            List<String> externalRequests, Path resultsJson, String output) {

        public Object value(String name) {
            if (!values.containsKey(name)) {
                throw new IllegalArgumentException("no value \"" + name + "\" (have " + values.keySet() + ")");
            }
            return values.get(name);
        }

        public Shot shot(String name) {
            Shot s = screenshots.get(name);
            if (s == null) {
                throw new IllegalArgumentException("no screenshot \"" + name + "\" (have " + screenshots.keySet()
                        + ")");
            }
            return s;
        }

        public BufferedImage image(String name) {
            return shot(name).image();
        }

        /** console.error messages and uncaught page errors, one string each. */
        public List<String> consoleErrors() {
            List<String> e = new ArrayList<>();
            for (ConsoleMessage m : console) {
                if ("error".equals(m.type())) {
                    e.add("console.error: " + m.text() + (m.location() == null ? "" : " (" + m.location() + ")"));
                }
            }
            for (String p : pageErrors) {
                e.add("page error: " + p);
            }
            return e;
        }
    }

    /** A step failed (or the page did not open): the message says which and why; the partial result is kept. */
    public static final class StepFailed extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final transient Result result;

        StepFailed(String message, Result result) {
            super(message);
            this.result = result;
        }

        public Result result() {
            return result;
        }
    }

    // ---- running ----

    /** {@link #run(Path, List, List, Path)} with the {@link #DEFAULT_VIEWPORT}. */
    public static Result run(Path page, List<Map<String, Object>> steps, Path outDir)
            throws IOException, InterruptedException {
        return run(page, DEFAULT_VIEWPORT, steps, outDir);
    }

    /**
     * Opens page (a local file) in a viewport of [width, height] CSS pixels, runs the steps, and returns what was
     * recorded; outDir receives script.json, results.json, drive.log and the screenshots. Throws {@link StepFailed}
     * when a step fails or the page does not open, {@link IllegalStateException} when the tools are missing or
     * drive.mjs cannot run at all, or after {@link #TIMEOUT_SECONDS}.
     */
    public static Result run(Path page, List<Integer> viewport, List<Map<String, Object>> steps, Path outDir)
            throws IOException, InterruptedException {
        Result r = attempt(page, viewport, steps, outDir);
        if (!r.ok()) {
            throw new StepFailed("browser: " + r.error() + describeErrors(r), r);
        }
        return r;
    }

    /** Like {@link #run(Path, List, List, Path)}, but returns a failed step's result instead of throwing. */
    public static Result attempt(Path page, List<Integer> viewport, List<Map<String, Object>> steps, Path outDir)
            throws IOException, InterruptedException {
        String why = missing();
        if (why != null) {
            throw new IllegalStateException("browser test tools missing: " + why);
        }
        Files.createDirectories(outDir);
        Path out = outDir.toAbsolutePath();
        Map<String, Object> script = new LinkedHashMap<>();
        script.put("page", page.toAbsolutePath().toUri().toString());
        script.put("viewport", viewport);
        script.put("chromium", chromium().toString());
        script.put("out", out.toString());
        script.put("steps", steps);
        Path scriptFile = out.resolve("script.json");
        JSON.writerWithDefaultPrettyPrinter().writeValue(scriptFile.toFile(), script);
        Path results = out.resolve("results.json");
        Files.deleteIfExists(results);
        Path log = out.resolve("drive.log");
        Process p = new ProcessBuilder(node().toString(), driver().toString(), scriptFile.toString())
                .directory(dir().toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
            throw new IllegalStateException("drive.mjs did not finish in " + TIMEOUT_SECONDS + " s: " + read(log));
        }
        String output = read(log);
        if (!Files.isRegularFile(results)) {
            throw new IllegalStateException("drive.mjs (exit " + p.exitValue() + ") wrote no results.json: " + output);
        }
        Result r = parse(results, output);
        if (p.exitValue() == 2) {
            throw new IllegalStateException("drive.mjs could not run: " + r.error());
        }
        if (r.ok() != (p.exitValue() == 0)) {
            throw new IllegalStateException("drive.mjs exit " + p.exitValue() + " but results.json ok=" + r.ok()
                    + ": " + output);
        }
        return r;
    }

    private static String describeErrors(Result r) {
        List<String> e = r.consoleErrors();
        return e.isEmpty() ? "" : "; page console errors: " + e;
    }

    private static String read(Path p) {
        try {
            return Files.isRegularFile(p) ? Files.readString(p, StandardCharsets.UTF_8).strip() : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static Result parse(Path resultsJson, String output) throws IOException {
        Map<String, Object> j = JSON.readValue(resultsJson.toFile(), new TypeReference<Map<String, Object>>() {
        });
        Map<String, Shot> shots = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : ((Map<String, Object>) j.getOrDefault("screenshots", Map.of()))
                .entrySet()) {
            Map<String, Object> s = (Map<String, Object>) e.getValue();
            Map<String, Object> b = (Map<String, Object>) s.get("box");
            Path path = Path.of((String) s.get("path"));
            BufferedImage img = ImageIO.read(path.toFile());
            if (img == null) {
                throw new IOException("screenshot " + path + " is not a readable image");
            }
            shots.put(e.getKey(), new Shot(e.getKey(), path, img, new Box(num(b.get("x")), num(b.get("y")),
                    num(b.get("width")), num(b.get("height"))), (String) s.get("selector"),
                    num(s.getOrDefault("deviceScaleFactor", 1))));
        }
        List<ConsoleMessage> console = new ArrayList<>();
        for (Object o : (List<Object>) j.getOrDefault("console", List.of())) {
            Map<String, Object> m = (Map<String, Object>) o;
            console.add(new ConsoleMessage((String) m.get("type"), (String) m.get("text"),
                    (String) m.get("location")));
        }
        Object failed = j.get("failedStep");
        return new Result(Boolean.TRUE.equals(j.get("ok")), (String) j.get("error"),
                failed == null ? null : ((Number) failed).intValue(),
                new LinkedHashMap<>((Map<String, Object>) j.getOrDefault("values", Map.of())), shots,
                console, List.copyOf((List<String>) j.getOrDefault("pageErrors", List.of())),
                List.copyOf((List<String>) j.getOrDefault("externalRequests", List.of())), resultsJson, output);
    }

    private static double num(Object o) {
        return o == null ? 0 : ((Number) o).doubleValue();
    }
}
