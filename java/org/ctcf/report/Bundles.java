package org.ctcf.report;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The third-party scripts the build bundles into the jar for {@code report.html} (cmake/fetch-npm-bundle.sh, pinned
 * versions and SHA-256s in pom.xml), each beside its license notice: NiiVue's single-file UMD build (the 3-D viewer)
 * and Chart.js's (the charts). A build without npm or network has neither; the accessors then return null and the
 * page says that it has no viewer or no charts.
 */
public final class Bundles {
    /** NiiVue (BSD-2-Clause), global {@code niivue}; its notice is {@link #NIIVUE_NOTICE}. */
    public static final String NIIVUE = "/org/ctcf/report/niivue.umd.js";
    public static final String NIIVUE_NOTICE = "/org/ctcf/report/niivue-NOTICE.txt";
    /** Chart.js (MIT), global {@code Chart}; its notice is {@link #CHARTJS_NOTICE}. */
    public static final String CHARTJS = "/org/ctcf/report/chart.umd.js";
    public static final String CHARTJS_NOTICE = "/org/ctcf/report/chartjs-NOTICE.txt";

    private Bundles() {
    }

    /** The bundled NiiVue script, or null when this build has none. */
    public static String niivue() {
        return resource(NIIVUE);
    }

    /** The bundled Chart.js script, or null when this build has none. */
    public static String chartjs() {
        return resource(CHARTJS);
    }

    /** A class-path resource as UTF-8 text ({@link #NIIVUE_NOTICE}, ...), or null when absent. */
    public static String resource(String name) {
        try (InputStream in = Bundles.class.getResourceAsStream(name)) {
            return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + name + " from the class path", e);
        }
    }
}
