package org.ctcf.spark;

import java.lang.reflect.InvocationTargetException;

/**
 * The Spark application's main class ({@code spark-submit --class org.ctcf.spark.SparkMain ctcf-spark.jar ...}).
 * It is compiled for Java 17 (the oldest Java Spark 4 runs on) and uses nothing of ctcf, so that a JVM too old for
 * ctcf gets one clear message instead of an {@code UnsupportedClassVersionError}; then it hands over to {@link
 * SparkApp}'s {@code main}, which the rest of ctcf (Java 25) is compiled with.
 */
public final class SparkMain {
    private SparkMain() {
    }

    /** Spark 4.2 runs on Java 25 from 25.0.3 (and ctcf's FFM kernel needs 22 or newer anyway). */
    static final String MINIMUM_JAVA = "25.0.3";

    public static void main(String[] args) throws Throwable {
        String problem = javaProblem(Runtime.version());
        if (problem != null) {
            System.err.println("ctcf spark: " + problem);
            System.exit(1);
        }
        try {
            Class.forName("org.ctcf.spark.SparkApp").getMethod("main", String[].class).invoke(null, (Object) args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /** Why JVM version {@code v} cannot run the Spark application, or null (the driver's and every executor's check). */
    static String javaProblem(Runtime.Version v) {
        if (v.compareToIgnoreOptional(Runtime.Version.parse(MINIMUM_JAVA)) < 0) {
            return "Spark 4.2 with ctcf needs Java " + MINIMUM_JAVA + " or newer; this JVM is " + v + " ("
                    + System.getProperty("java.home") + "). Set JAVA_HOME (spark-submit, workers: spark-env.sh) to a "
                    + "Java " + MINIMUM_JAVA + "+";
        }
        return null;
    }
}
