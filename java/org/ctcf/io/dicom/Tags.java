package org.ctcf.io.dicom;

/** The tags the reader uses, and the VRs implicit-VR files need for them (a small part of the DICOM dictionary). */
final class Tags {
    private Tags() {
    }

    static final int TRANSFER_SYNTAX = 0x00020010;
    static final int SOP_CLASS = 0x00080016;
    static final int SOP_INSTANCE = 0x00080018;
    static final int MODALITY = 0x00080060;
    static final int IMAGE_TYPE = 0x00080008;
    static final int MANUFACTURER = 0x00080070;
    static final int SOFTWARE_VERSIONS = 0x00181020;
    static final int SERIES_DESCRIPTION = 0x0008103E;
    static final int SLICE_THICKNESS = 0x00180050;
    static final int SPACING_BETWEEN_SLICES = 0x00180088;
    static final int GANTRY_TILT = 0x00181120;
    static final int SERIES_UID = 0x0020000E;
    static final int SERIES_NUMBER = 0x00200011;
    static final int INSTANCE_NUMBER = 0x00200013;
    static final int IPP = 0x00200032;
    static final int IOP = 0x00200037;
    static final int SAMPLES_PER_PIXEL = 0x00280002;
    static final int PHOTOMETRIC = 0x00280004;
    static final int PLANAR_CONFIGURATION = 0x00280006;
    static final int NUMBER_OF_FRAMES = 0x00280008;
    static final int ROWS = 0x00280010;
    static final int COLUMNS = 0x00280011;
    static final int PIXEL_SPACING = 0x00280030;
    static final int BITS_ALLOCATED = 0x00280100;
    static final int BITS_STORED = 0x00280101;
    static final int HIGH_BIT = 0x00280102;
    static final int PIXEL_REPRESENTATION = 0x00280103;
    static final int PIXEL_PADDING_VALUE = 0x00280120;
    static final int PIXEL_PADDING_RANGE_LIMIT = 0x00280121;
    static final int RESCALE_INTERCEPT = 0x00281052;
    static final int RESCALE_SLOPE = 0x00281053;
    static final int PIXEL_DATA = 0x7FE00010;
    static final int FLOAT_PIXEL_DATA = 0x7FE00008;
    static final int DOUBLE_PIXEL_DATA = 0x7FE00009;
    // Enhanced multi-frame functional groups
    static final int SHARED_FUNCTIONAL_GROUPS = 0x52009229;
    static final int PER_FRAME_FUNCTIONAL_GROUPS = 0x52009230;
    static final int PLANE_POSITION_SEQUENCE = 0x00209113;
    static final int PLANE_ORIENTATION_SEQUENCE = 0x00209116;
    static final int PIXEL_MEASURES_SEQUENCE = 0x00289110;
    static final int PIXEL_VALUE_TRANSFORMATION_SEQUENCE = 0x00289145;
    // DICOMDIR
    static final int DIRECTORY_RECORD_SEQUENCE = 0x00041220;
    static final int REFERENCED_FILE_ID = 0x00041500;
    static final int DIRECTORY_RECORD_TYPE = 0x00041430;
    // data elements with a structural meaning
    static final int ITEM = 0xFFFEE000;
    static final int ITEM_DELIMITATION = 0xFFFEE00D;
    static final int SEQUENCE_DELIMITATION = 0xFFFEE0DD;

    /** The VR of {@code tag} for implicit-VR data sets: known where the reader or the kept modules need it. */
    static String implicitVr(int tag) {
        int group = tag >>> 16;
        if ((tag & 0xFFFF) == 0 && group != 0xFFFE) {
            return "UL"; // group lengths
        }
        switch (tag) {
            case ROWS, COLUMNS, BITS_ALLOCATED, BITS_STORED, HIGH_BIT, PIXEL_REPRESENTATION, SAMPLES_PER_PIXEL,
                    PLANAR_CONFIGURATION, PIXEL_PADDING_VALUE, PIXEL_PADDING_RANGE_LIMIT, 0x00041410, 0x00041420 -> {
                return "US";
            }
            case 0x00041200, 0x00041202, 0x00041400 -> {
                return "UL";
            }
            case SHARED_FUNCTIONAL_GROUPS, PER_FRAME_FUNCTIONAL_GROUPS, PLANE_POSITION_SEQUENCE,
                    PLANE_ORIENTATION_SEQUENCE, PIXEL_MEASURES_SEQUENCE, PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
                    DIRECTORY_RECORD_SEQUENCE, 0x00081115, 0x00081140, 0x00081199, 0x00082112, 0x00081250,
                    0x00081032, 0x00400275, 0x00180012, 0x00180014, 0x00089121, 0x00209221, 0x00209222,
                    0x00280009 -> {
                return tag == 0x00280009 ? "AT" : "SQ";
            }
            case PIXEL_DATA -> {
                return "OW";
            }
            case TRANSFER_SYNTAX, SOP_CLASS, SOP_INSTANCE, SERIES_UID, 0x0020000D, 0x00200052, 0x00020002, 0x00020003,
                    0x00020012, 0x00081150, 0x00081155, 0x00041510, 0x00041511, 0x00041512 -> {
                return "UI";
            }
            case MODALITY, PHOTOMETRIC, 0x00180015, 0x00100040, 0x00080008, DIRECTORY_RECORD_TYPE, REFERENCED_FILE_ID,
                    0x00080005 -> {
                return "CS";
            }
            case SLICE_THICKNESS, SPACING_BETWEEN_SLICES, GANTRY_TILT, IPP, IOP, PIXEL_SPACING, RESCALE_INTERCEPT,
                    RESCALE_SLOPE, 0x00101020, 0x00101030 -> {
                return "DS";
            }
            case SERIES_NUMBER, INSTANCE_NUMBER, NUMBER_OF_FRAMES, 0x00200012 -> {
                return "IS";
            }
            case 0x00080020, 0x00100030 -> {
                return "DA";
            }
            case 0x00080030, 0x00100032 -> {
                return "TM";
            }
            case 0x00080090, 0x00100010 -> {
                return "PN";
            }
            case 0x00080050, 0x00200010 -> {
                return "SH";
            }
            case 0x00101010 -> {
                return "AS";
            }
            case 0x00104000 -> {
                return "LT";
            }
            case SERIES_DESCRIPTION, 0x00081030, 0x00080070, 0x00181020, 0x00080080, 0x00201040, 0x00100020, 0x00100021,
                    0x00101000, 0x00101040 -> {
                return "LO";
            }
            default -> {
                return "UN";
            }
        }
    }
}
