package org.ctcf.api;

/**
 * Where an explanation spent its time (seconds) and work, and the process's peak resident memory during it.
 *
 * @param slicesDecoded decoder work in slices (the cost measure the fast mode reduces)
 * @param classifierCalls classifier forward passes, one per volume
 * @param gradientSlices slices a decoder vector–Jacobian product ran through (counted in {@code slicesDecoded} too)
 * @param peakResidentMiB peak resident set of the process during the call (Linux), or -1
 */
public record Timings(double encodeDecode, double gradient, double search, double sweepFrames, double stitching,
        double total, long lambdasEvaluated, long slicesDecoded, long classifierCalls, long gradientSlices,
        double peakResidentMiB) {
}
