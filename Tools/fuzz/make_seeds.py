"""Writes seed frames for the fuzzers: small images encoded by DCMTK (dcmcjpeg, dcmcjpls) or pylibjpeg-openjpeg.

    python3 make_seeds.py            # pure-Swift JPEG decoders -> Tools/fuzz/corpus
    python3 make_seeds.py libjpeg    # libjpeg 8-bit baseline/extended/progressive -> Tools/fuzz/corpus-libjpeg
    python3 make_seeds.py openjpeg   # JPEG 2000 codestreams -> Tools/fuzz/corpus-openjpeg
"""
import os, subprocess, sys, tempfile
import numpy as np, pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_frames
from pydicom.uid import ExplicitVRLittleEndian

here = os.path.dirname(os.path.abspath(__file__))
target = sys.argv[1] if len(sys.argv) > 1 else "pure"
corpus = os.path.join(here, {"pure": "corpus", "libjpeg": "corpus-libjpeg", "openjpeg": "corpus-openjpeg"}[target])
os.makedirs(corpus, exist_ok=True)
rng = np.random.default_rng(7)

if target == "openjpeg":
    from openjpeg import encode  # pylibjpeg-openjpeg (encode_array in its utils)
    n = 0
    for spp, bits, signed, ratios, extra in [
            (1, 8, False, None, {}), (1, 12, False, None, {"add_tlm": True, "add_plt": True}), (1, 16, True, None, {}),
            (3, 8, False, None, {}), (1, 12, False, [20], {}), (3, 8, False, [10, 5], {"add_plt": True}),
            (1, 8, False, None, {"codec_format": 1})]:
        shape = (33, 40, spp) if spp > 1 else (33, 40)  # 6 resolution levels need 32 pixels a side
        a = rng.integers(0, 1 << (bits - 1 if signed else bits), shape)
        a = a.astype(np.int16 if signed else (np.uint8 if bits <= 8 else np.uint16))
        options = {"photometric_interpretation": 1 if spp == 3 else 2, "use_mct": spp == 3, "bits_stored": bits}
        if ratios:
            options["compression_ratios"] = ratios
        options.update(extra)
        with open(os.path.join(corpus, "seed%d" % n), "wb") as f:
            f.write(encode(a, **options))
        n += 1
    print("wrote", n, "seeds to", corpus)
    sys.exit(0)

cases = [
    (1, 8, 8, "dcmcjpeg", ["+el", "+sv", "1"]), (1, 16, 12, "dcmcjpeg", ["+el", "+sv", "6"]), (3, 8, 8, "dcmcjpeg", ["+el", "+sv", "4"]),
    (1, 16, 12, "dcmcjpeg", ["+ee"]), (1, 8, 8, "dcmcjpeg", ["+eb"]), (1, 8, 8, "dcmcjpls", ["+el"]),
    (1, 16, 16, "dcmcjpls", ["+en", "+md", "2"]), (3, 8, 8, "dcmcjpls", ["+el", "+is"]), (3, 8, 8, "dcmcjpls", ["+el", "+il"]),
] if target == "pure" else [
    (1, 8, 8, "dcmcjpeg", ["+eb"]), (1, 8, 8, "dcmcjpeg", ["+eb", "-ho"]), (1, 8, 8, "dcmcjpeg", ["+ee", "+be"]),
    (1, 8, 8, "dcmcjpeg", ["+ep"]), (1, 8, 8, "dcmcjpeg", ["+es"]), (3, 8, 8, "dcmcjpeg", ["+eb", "+s2"]),
    (3, 8, 8, "dcmcjpeg", ["+eb", "+s4"]), (3, 8, 8, "dcmcjpeg", ["+eb", "+cr"]), (3, 8, 8, "dcmcjpeg", ["+ep", "+q", "50"]),
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
