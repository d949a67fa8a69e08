package org.ctcf.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * The probe application of {@link StandaloneClusterIT}, packed into a jar of its own at test time and run through
 * SparkSubmit: {@code ClusterProbeApp <outDir> [items] [sleepMillis]} runs {@code items} tasks (one a partition),
 * each sleeping {@code sleepMillis}, writing {@code <outDir>/done-<item>} and returning
 * {@code "<item> <executorId> <pid> <gpu addresses, comma separated, or ->"}; the driver writes the collected lines
 * to {@code <outDir>/result.txt}, in item order.
 */
public final class ClusterProbeApp {
    private ClusterProbeApp() {
    }

    public static void main(String[] args) throws IOException {
        String out = args[0];
        int items = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        long sleep = args.length > 2 ? Long.parseLong(args[2]) : 2000;
        SparkConf conf = new SparkConf().setAppName("ctcf-cluster-probe");
        try (JavaSparkContext sc = new JavaSparkContext(conf)) {
            List<Integer> input = IntStream.range(0, items).boxed().toList();
            List<String> lines = sc.parallelize(input, items).map(item -> task(item, out, sleep)).collect();
            Files.write(Path.of(out, "result.txt"), new ArrayList<>(lines), StandardCharsets.UTF_8);
        }
    }

    private static String task(int item, String out, long sleep) {
        try {
            Thread.sleep(sleep);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        ResourceInformation gpu = TaskContext.get().resourcesJMap().get("gpu");
        String gpus = gpu == null ? "-" : String.join(",", gpu.addresses());
        String line = item + " " + SparkEnv.get().executorId() + " " + ProcessHandle.current().pid() + " " + gpus;
        try {
            Files.writeString(Path.of(out, "done-" + item), line + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return line;
    }
}
