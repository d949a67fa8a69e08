package org.ctcf.cli;

import java.io.IOException;
import java.nio.file.Path;

import org.ctcf.api.Classifier;
import org.ctcf.api.Kernel;
import org.ctcf.api.Models;
import org.ctcf.api.Target;
import org.ctcf.io.checkpoint.ModelFormatException;

import picocli.CommandLine.Option;

/** {@code --classifier CARD --target NAME}: the explained classifier, by default the shipped nodule detector. */
final class ClassifierOptions {
    @Option(names = "--classifier", paramLabel = "CARD",
            description = "The classifier's card. Default: the shipped models/nodule-detector.json.")
    Path card;

    @Option(names = "--target", paramLabel = "NAME|INDEX", description = "Class to explain. Default: the card's.")
    String target;

    /** The card given, or the shipped default. */
    Path cardFile() {
        return card != null ? card : Models.defaultClassifier();
    }

    Classifier load(Kernel k) throws IOException {
        return Classifier.load(cardFile(), k);
    }

    /** The explained score of {@code clf}: --target, or the card's. */
    Target target(Classifier clf) throws ModelFormatException {
        return clf.target(target);
    }
}
