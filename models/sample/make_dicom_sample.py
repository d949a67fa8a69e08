#!/usr/bin/env python3
"""Writes models/sample/dicom/cip_ct64_nodule/: the sample CT (cip_ct64_nodule.nii.gz) as a DICOM CT series, one
CT Image Storage file per slice, Explicit VR Little Endian, stored as unsigned 12-bit with Rescale Intercept -1024
as scanners write CT. Made with pydicom (Debian python3-pydicom), independently of ctcf's own DICOM code, so that
`ctcf explain models/sample/dicom/cip_ct64_nodule --dicom-out DIR` has a DICOM input to work on.

Geometry: the NIfTI's sform (RAS+) mapped to DICOM's LPS: IOP row direction = voxel axis i, column direction =
voxel axis j, IPP = the world position of voxel (0, 0, k). Same license as the NIfTI (CIP, LICENSE-CIP.txt).

Usage: /usr/bin/python3 models/sample/make_dicom_sample.py   (deterministic: fixed UIDs derived from a seed)
"""
import gzip
import hashlib
import os
import struct

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "cip_ct64_nodule.nii.gz")
OUT = os.path.join(HERE, "dicom", "cip_ct64_nodule")
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def uid(name):
    """A 2.25 UID from a hash of NAME: deterministic, so regenerating gives the same files."""
    return "2.25." + str(int(hashlib.sha256(("ctcf-sample-" + name).encode()).hexdigest()[:30], 16))


def read_nifti(path):
    b = gzip.open(path).read()
    dim = struct.unpack("<8h", b[40:56])
    datatype = struct.unpack("<h", b[70:72])[0]
    vox = int(struct.unpack("<f", b[108:112])[0])
    slope, inter = struct.unpack("<2f", b[112:120])
    srow = np.array(struct.unpack("<12f", b[280:328]), dtype=np.float64).reshape(3, 4)
    nx, ny, nz = dim[1], dim[2], dim[3]
    dtype = {4: "<i2", 16: "<f4", 512: "<u2"}[datatype]
    data = np.frombuffer(b[vox:vox + nx * ny * nz * np.dtype(dtype).itemsize], dtype=dtype)
    data = data.reshape(nz, ny, nx).astype(np.float64)
    if slope not in (0.0, 1.0) or inter != 0.0:
        data = data * (slope if slope != 0 else 1.0) + inter
    return data, srow


def main():
    hu, srow = read_nifti(SRC)
    nz, ny, nx = hu.shape
    lps = srow.copy()
    lps[0:2, :] *= -1  # RAS -> LPS
    col_i = lps[:, 0]
    col_j = lps[:, 1]
    si = np.linalg.norm(col_i)
    sj = np.linalg.norm(col_j)
    sk = np.linalg.norm(lps[:, 2])
    iop = list(col_i / si) + list(col_j / sj)
    os.makedirs(OUT, exist_ok=True)
    study, series, frame = uid("study"), uid("series"), uid("frame-of-reference")
    for k in range(nz):
        ipp = lps[:, 3] + k * lps[:, 2]
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CT_STORAGE
        meta.MediaStorageSOPInstanceUID = uid("image-%d" % k)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = uid("implementation")
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.is_little_endian = True
        ds.is_implicit_VR = False
        ds.SOPClassUID = CT_STORAGE
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.Modality = "CT"
        ds.Manufacturer = "ctcf sample (from the Chest Imaging Platform test data)"
        ds.PatientName = "CIP^Sample"
        ds.PatientID = "CTCF-SAMPLE-1"
        ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.StudyInstanceUID = study
        ds.StudyDate = "20000101"
        ds.StudyTime = "000000"
        ds.ReferringPhysicianName = ""
        ds.StudyID = "1"
        ds.AccessionNumber = ""
        ds.StudyDescription = "ctcf sample chest CT with a synthetic nodule"
        ds.SeriesInstanceUID = series
        ds.SeriesNumber = 1
        ds.PatientPosition = "FFS"  # assumed: the CIP file does not say; feet first supine is the chest CT default
        ds.Laterality = ""
        ds.SeriesDescription = "cip_ct64_nodule"
        ds.FrameOfReferenceUID = frame
        ds.PositionReferenceIndicator = ""
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [float("%.6f" % v) for v in ipp]
        ds.ImageOrientationPatient = [float("%.8f" % v) for v in iop]
        ds.PixelSpacing = [float("%.6f" % sj), float("%.6f" % si)]  # row spacing (between rows), column spacing
        ds.SliceThickness = float("%.6f" % sk)
        ds.SliceLocation = float("%.6f" % ipp[2])
        ds.KVP = ""
        ds.AcquisitionNumber = 1
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ny
        ds.Columns = nx
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter = -600
        ds.WindowWidth = 1500
        stored = np.clip(np.rint(hu[k] + 1024), 0, 4095).astype("<u2")  # rows = j, columns = i
        ds.PixelData = stored.tobytes()
        ds.save_as(os.path.join(OUT, "IM%04d.dcm" % (k + 1)), write_like_original=False)
    print("wrote %d files to %s" % (nz, OUT))


if __name__ == "__main__":
    main()
