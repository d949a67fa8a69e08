package org.ctcf.cli;

import java.io.PrintWriter;

import org.ctcf.report.ExplanationSummary;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** The {@code ctcf} command line: a thin shell over the Java API. {@link #run} is what tests call in-process. */
@Command(name = "ctcf", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Counterfactual explanations for 3D CT classifiers (Latent Shift).",
        subcommands = {InfoCommand.class, PreprocessCommand.class, ExplainCommand.class, SaliencyCommand.class,
            EvaluateCommand.class,
            PredictCommand.class,
            SegmentCommand.class,
            AeCommand.class,
            TrainCommand.class,
            ModelsCommand.class,
            CheckReferenceCommand.class,
            BenchCommand.class,
            DoctorCommand.class,
            CommandLine.HelpCommand.class},
        footerHeading = "%nExit codes:%n")
public final class Main implements Runnable {
    @Mixin
    GlobalOptions global = new GlobalOptions();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        int code = run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true));
        System.exit(code);
    }

    /** Runs the CLI with the given streams and returns the exit code (never calls System.exit). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        Main main = new Main();
        CommandLine cmd = new CommandLine(main);
        cmd.getCommandSpec().usageMessage().footer(ExitCode.helpLines());
        cmd.setOut(out);
        cmd.setErr(err);
        cmd.setExecutionExceptionHandler(new ExceptionMapper(main.global));
        cmd.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println("ctcf: " + ex.getMessage());
            ex.getCommandLine().getErr().println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName()
                    + " --help' for usage.");
            return ExitCode.USAGE.code();
        });
        cmd.setExecutionStrategy(parseResult -> {
            if (main.global.verbose && main.global.quiet) {
                err.println("ctcf: --verbose and --quiet are mutually exclusive");
                return ExitCode.USAGE.code();
            }
            main.global.applyLogging();
            // every read without explicit options (SeriesOption, evaluate's volumes, explain) follows the flag
            org.ctcf.io.ReadOptions.confineByDefault(main.global.confineInputs);
            org.ctcf.api.InputDomain.allowModalities(main.global.allowModality != null ? main.global.allowModality
                    : java.util.List.of());
            org.ctcf.io.ReadOptions.maxVoxelsByDefault(main.global.maxVoxels != null ? main.global.maxVoxels
                    : org.ctcf.io.ReadOptions.DEFAULT_MAX_VOXELS);
            return new CommandLine.RunLast().execute(parseResult);
        });
        return cmd.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static String version() {
        return ExplanationSummary.Versions.ctcfVersion();
    }

    /** {@code ctcf --version}: the Java layer's version; the native library's is in {@code ctcf doctor}. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"ctcf " + version(), "Java " + Runtime.version() + " (" + System.getProperty(
                    "java.vm.name") + ")"};
        }
    }
}
