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

    public static void main(String[] args) throws Throwable {
        Runtime.Version v = Runtime.version();
        if (v.compareToIgnoreOptional(Runtime.Version.parse("25.0.3")) < 0) {
            System.err.println("ctcf spark: Spark 4.2 with ctcf needs Java 25.0.3 or newer; this JVM is " + v + " ("
                    + System.getProperty("java.home") + "). Set JAVA_HOME (spark-submit, workers: spark-env.sh) to a "
                    + "Java 25.0.3+");
            System.exit(1);
        }
        try {
            Class.forName("org.ctcf.spark.SparkApp").getMethod("main", String[].class).invoke(null, (Object) args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
