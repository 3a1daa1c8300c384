"""Writes seed frames for the pure-JPEG fuzzer into Tools/fuzz/corpus: small images encoded by DCMTK."""
import os, subprocess, sys, tempfile
import numpy as np, pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_frames
from pydicom.uid import ExplicitVRLittleEndian

here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.join(here, "corpus")
os.makedirs(corpus, exist_ok=True)
rng = np.random.default_rng(7)
cases = [
    (1, 8, 8, "dcmcjpeg", ["+el", "+sv", "1"]), (1, 16, 12, "dcmcjpeg", ["+el", "+sv", "6"]), (3, 8, 8, "dcmcjpeg", ["+el", "+sv", "4"]),
    (1, 16, 12, "dcmcjpeg", ["+ee"]), (1, 8, 8, "dcmcjpeg", ["+eb"]), (1, 8, 8, "dcmcjpls", ["+el"]),
    (1, 16, 16, "dcmcjpls", ["+en", "+md", "2"]), (3, 8, 8, "dcmcjpls", ["+el", "+is"]), (3, 8, 8, "dcmcjpls", ["+el", "+il"]),
]
with tempfile.TemporaryDirectory() as tmp:
    for n, (spp, ba, bs, tool, options) in enumerate(cases):
        shape = (12, 17, spp) if spp > 1 else (12, 17)
        a = (np.add.outer(np.arange(12), np.arange(17))[..., None] * 9 if spp > 1 else np.add.outer(np.arange(12), np.arange(17)) * 9)
        a = (np.broadcast_to(a, shape) + rng.integers(0, 20, shape)) % (1 << bs)
        ds = Dataset(); ds.file_meta = FileMetaDataset(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = "1.2.3.%d" % n
        ds.Rows, ds.Columns, ds.SamplesPerPixel = 12, 17, spp
        ds.PhotometricInterpretation = "RGB" if spp == 3 else "MONOCHROME2"
        if spp == 3: ds.PlanarConfiguration = 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = ba, bs, bs - 1, 0
        ds.PixelData = a.astype(np.uint8 if ba == 8 else np.uint16).tobytes()
        src, dst = os.path.join(tmp, "in.dcm"), os.path.join(tmp, "out.dcm")
        ds.save_as(src, enforce_file_format=True)
        subprocess.run([tool] + options + [src, dst], check=True)
        out = pydicom.dcmread(dst)
        frame = next(generate_frames(out.PixelData, number_of_frames=1))
        with open(os.path.join(corpus, "seed%02d.jpg" % n), "wb") as f:
            f.write(frame)
print("wrote", len(cases), "seeds to", corpus)
