package org.ctcf;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package arrows of the house, checked on the compiled classes: core at the bottom; io and internal on core
 * (internal may read checkpoints from io, io never calls the kernel); api over both; the tools (report, eval,
 * train) over api; the CLI on top, and the Spark application over it (the only code that touches Spark). Foreign
 * memory (java.lang.foreign) stays below api: the kernel boundary in internal, off-heap voxels in core's Volume,
 * memory-mapped files in io.
 */
class ArchitectureTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importProductionClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("org.ctcf");
    }

    @Test
    void packageArrowsRunOneWay() {
        layeredArchitecture().consideringOnlyDependenciesInLayers()
                .layer("core").definedBy("org.ctcf.core..")
                .layer("io").definedBy("org.ctcf.io..")
                .layer("internal").definedBy("org.ctcf.internal..")
                .layer("api").definedBy("org.ctcf.api..")
                .layer("tools").definedBy("org.ctcf.report..", "org.ctcf.eval..", "org.ctcf.train..")
                .layer("cli").definedBy("org.ctcf.cli..")
                .layer("spark").definedBy("org.ctcf.spark..")
                .whereLayer("spark").mayNotBeAccessedByAnyLayer()
                .whereLayer("cli").mayOnlyBeAccessedByLayers("spark")
                .whereLayer("tools").mayOnlyBeAccessedByLayers("cli", "tools", "spark")
                .whereLayer("api").mayOnlyBeAccessedByLayers("cli", "tools", "spark")
                .whereLayer("internal").mayOnlyBeAccessedByLayers("api", "cli")
                .whereLayer("io").mayOnlyBeAccessedByLayers("internal", "api", "tools", "cli", "spark")
                .check(classes);
    }

    /** Spark is provided by a cluster: only the Spark application (its own jar) may touch it. */
    @Test
    void onlyTheSparkApplicationDependsOnSpark() {
        noClasses().that().resideOutsideOfPackage("org.ctcf.spark..")
                .should().dependOnClassesThat().resideInAnyPackage("org.apache.spark..", "scala..")
                .check(classes);
    }

    @Test
    void theApiAndEverythingAboveItSpeakInDomainTypes() {
        noClasses().that().resideInAnyPackage("org.ctcf.api..", "org.ctcf.report..", "org.ctcf.eval..",
                "org.ctcf.train..", "org.ctcf.cli..", "org.ctcf.spark..")
                .should().dependOnClassesThat().resideInAPackage("java.lang.foreign..")
                .check(classes);
    }
}
