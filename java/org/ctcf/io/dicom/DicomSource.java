package org.ctcf.io.dicom;

import java.util.List;
import java.util.Set;

/**
 * Where a volume read from DICOM came from: what a derived object written back into the same study must copy or
 * reference. The DICOM reader attaches it to the volume's geometry as its source hint
 * ({@code volume.geometry().sourceHint() instanceof DicomSource}); the DICOM writer takes it.
 *
 * @param kept the source's elements of the Patient, General Study and Frame of Reference modules (and the few
 *     others in {@link #KEPT_TAGS}), as found in the first instance of the series, in ascending tag order
 * @param instances the source images in the volume's slice order (k = 0 first); one per slice, or one for a
 *     multi-frame file (then {@code frames} of it)
 * @param transferSyntaxUid the source's transfer syntax
 * @param bitsAllocated the source's Bits Allocated (16 for CT)
 * @param bitsStored the source's Bits Stored
 * @param pixelRepresentation 0 unsigned, 1 two's complement
 * @param rescaleSlope the source's Rescale Slope (1 when absent)
 * @param rescaleIntercept the source's Rescale Intercept (0 when absent)
 * @param files the files the volume was read from, one per instance in slice order (what the input's hash covers)
 */
public record DicomSource(List<DicomElement> kept, List<Instance> instances, String modality,
        String seriesInstanceUid, String seriesDescription, String transferSyntaxUid, int bitsAllocated,
        int bitsStored, int pixelRepresentation, double rescaleSlope, double rescaleIntercept,
        List<java.nio.file.Path> files) {

    /** A source without its files (a hand-made one). */
    public DicomSource(List<DicomElement> kept, List<Instance> instances, String modality, String seriesInstanceUid,
            String seriesDescription, String transferSyntaxUid, int bitsAllocated, int bitsStored,
            int pixelRepresentation, double rescaleSlope, double rescaleIntercept) {
        this(kept, instances, modality, seriesInstanceUid, seriesDescription, transferSyntaxUid, bitsAllocated,
                bitsStored, pixelRepresentation, rescaleSlope, rescaleIntercept, List.of());
    }

    /** One source SOP instance: its class, its UID and how many of the volume's slices it holds. */
    public record Instance(String sopClassUid, String sopInstanceUid, int frames) {
    }

    /** An element as read: tag (group << 16 | element), VR (two letters) and value bytes, little endian. */
    public record DicomElement(int tag, String vr, byte[] value) {
        /** A text element as DICOM stores it: ASCII, padded to even length (UIDs with NUL, other VRs with a space). */
        public static DicomElement text(int tag, String vr, String value) {
            byte[] b = value.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            if ((b.length & 1) == 1) {
                b = java.util.Arrays.copyOf(b, b.length + 1);
                b[b.length - 1] = (byte) ("UI".equals(vr) ? 0 : ' ');
            }
            return new DicomElement(tag, vr, b);
        }
    }

    /**
     * The tags copied into derived objects: the Patient module (every element of group 0010 is also kept), General
     * Study, Frame of Reference, and the study-level General Equipment fields.
     */
    public static final Set<Integer> KEPT_TAGS = Set.of(
            0x00080005, // Specific Character Set: how the kept text is encoded
            0x00080020, // Study Date
            0x00080030, // Study Time
            0x00080050, // Accession Number
            0x00080090, // Referring Physician's Name
            0x00081030, // Study Description
            0x00080070, // Manufacturer
            0x00080080, // Institution Name
            0x0020000D, // Study Instance UID
            0x00200010, // Study ID
            0x00200052, // Frame of Reference UID
            0x00201040, // Position Reference Indicator
            0x00180015); // Body Part Examined

    public DicomSource {
        kept = List.copyOf(kept);
        instances = List.copyOf(instances);
        files = List.copyOf(files);
    }

    /** Whether the reader keeps {@code tag} for derived objects. */
    public static boolean kept(int tag) {
        return (tag >>> 16) == 0x0010 || KEPT_TAGS.contains(tag);
    }
}
