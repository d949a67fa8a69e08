package org.ctcf.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

import org.ctcf.core.Geometry;
import org.ctcf.core.Volume;
import org.ctcf.io.dicom.DicomReader;

/** Entry point for volume files: picks the reader by extension (or DICOM by content: folder, DICOMDIR, 'DICM'), writes NIfTI-1. */
public final class VolumeIO {
    private VolumeIO() {
    }

    /** The file formats ctcf reads. */
    public enum Format {
        NIFTI, METAIMAGE, DICOM;

        static Format of(Path file) throws VolumeFormatException {
            String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
            if (name.endsWith(".nii") || name.endsWith(".nii.gz")) {
                return NIFTI;
            }
            if (name.endsWith(".mha") || name.endsWith(".mhd")) {
                return METAIMAGE;
            }
            if (DicomReader.isDicom(file)) {
                return DICOM;
            }
            throw new VolumeFormatException(file, "unknown volume format (ctcf reads .nii, .nii.gz, .mha, .mhd, and"
                    + " DICOM: a folder, a DICOMDIR or a DICOM file)");
        }
    }

    /** What {@code ctcf info} reports without reading voxels. */
    public record Info(Format format, String detail, Geometry geometry) {
    }

    public static Volume read(Path file) throws IOException {
        return read(file, ReadOptions.defaults());
    }

    public static Volume read(Path file, ReadOptions options) throws IOException {
        checkReadable(file);
        return switch (Format.of(file)) {
            case NIFTI -> NiftiReader.read(file, options);
            case METAIMAGE -> MetaImageReader.read(file, options);
            case DICOM -> DicomReader.read(file, options);
        };
    }

    public static Info info(Path file) throws IOException {
        return info(file, ReadOptions.defaults());
    }

    /**
     * The header of {@code file}; for DICOM, {@code options.series()} picks the series and the detail starts with the
     * list of the series found.
     */
    public static Info info(Path file, ReadOptions options) throws IOException {
        checkReadable(file);
        return switch (Format.of(file)) {
            case NIFTI -> {
                NiftiReader.Header h = NiftiReader.readHeader(file, ReadOptions.defaults());
                String detail = "NIfTI-" + h.version() + (NiftiReader.isGzip(file) ? " (gzip)" : "") + ", "
                        + h.type().name().toLowerCase(Locale.ROOT) + ", " + (h.order() == java.nio.ByteOrder.BIG_ENDIAN
                                ? "big" : "little") + "-endian, scl " + h.slope() + "/" + h.intercept()
                        + ", affine from " + h.transformSource();
                yield new Info(Format.NIFTI, detail, h.geometry());
            }
            case METAIMAGE -> {
                MetaImageReader.Header h = MetaImageReader.readHeader(file, options);
                String detail = "MetaImage, " + h.elementType() + (h.compressed() ? ", zlib" : "") + ", "
                        + (h.order() == java.nio.ByteOrder.BIG_ENDIAN ? "big" : "little") + "-endian"
                        + (h.dataFile().equals(file) ? "" : ", data in " + h.dataFile().getFileName());
                yield new Info(Format.METAIMAGE, detail, h.geometry());
            }
            case DICOM -> {
                DicomReader.Series s = DicomReader.series(file, options);
                String detail = s.detail() + (s.all().size() > 1 ? "\nseries found (" + s.all().size() + "):\n"
                        + DicomReader.listing(s.all()) : "");
                yield new Info(Format.DICOM, detail, s.geometry());
            }
        };
    }

    /** Writes NIfTI-1 float32; {@code .nii.gz} compresses. The output keeps the volume's affine exactly. */
    public static void write(Volume volume, Path file) throws IOException {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (!name.endsWith(".nii") && !name.endsWith(".nii.gz")) {
            throw new VolumeFormatException(file, "ctcf writes NIfTI; name the output .nii.gz or .nii");
        }
        NiftiWriter.write(volume, file);
    }

    private static void checkReadable(Path file) throws IOException {
        if (!Files.exists(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such file");
        }
        if (!Files.isRegularFile(file) && !Files.isDirectory(file)) {
            throw new VolumeFormatException(file, "not a regular file or a DICOM folder");
        }
    }
}
