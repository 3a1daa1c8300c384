#!/usr/bin/env python3
"""Prints what pydicom reads from DICOM files, as JSON, for swift-dicom's conformance test.

Usage: pydicom_reference.py FILE...

For every file: {"path", "error"} when pydicom cannot read it, else {"path", "transfer_syntax",
"meta": [elements], "dataset": [elements]}. An element is {"tag": "ggggeeee", "vr", "length", "crc"}
with the CRC-32 of the raw value bytes in little-endian byte order (big-endian values are swapped per
VR), plus "items" (a list of element lists) for sequences, "fragments" (CRC-32 of the encapsulated item
stream) for undefined-length pixel data, and "text" (the decoded value, values joined by backslash)
for text VRs that depend on the Specific Character Set.
"""
import json
import sys
import zlib

import pydicom
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.dataelem import RawDataElement
from pydicom.sequence import Sequence

WORD = {"US": 2, "SS": 2, "OW": 2, "AT": 2, "UL": 4, "SL": 4, "FL": 4, "OF": 4, "OL": 4,
        "FD": 8, "OD": 8, "SV": 8, "UV": 8, "OV": 8}
CHARSET_VRS = {"SH", "LO", "ST", "LT", "PN", "UC", "UT"}


def swap(value, size):
    out = bytearray(len(value))
    n = len(value) - len(value) % size
    for i in range(0, n, size):
        out[i:i + size] = value[i:i + size][::-1]
    out[n:] = value[n:]
    return bytes(out)


def text_of(elem):
    value = elem.value
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def elements(ds, little_endian):
    out = []
    for tag in sorted(ds._dict.keys()):
        raw = ds._dict[tag]
        elem = ds[tag]
        entry = {"tag": "%08X" % int(tag), "vr": str(elem.VR)}
        if isinstance(elem.value, Sequence) or elem.VR == "SQ":
            entry["vr"] = "SQ"
            entry["items"] = [elements(item, little_endian) for item in (elem.value or [])]
            out.append(entry)
            continue
        if isinstance(raw, RawDataElement):
            value = raw.value if raw.value is not None else b""
        else:
            # Already converted by pydicom (File Meta, Specific Character Set…): encode it again.
            fp = DicomBytesIO()
            fp.is_little_endian = True
            fp.is_implicit_VR = True
            write_data_element(fp, elem)
            value = fp.getvalue()[8:]
        if isinstance(raw, RawDataElement) and raw.length == 0xFFFFFFFF:
            entry["fragments"] = zlib.crc32(value) & 0xFFFFFFFF
            entry["length"] = len(value)
            out.append(entry)
            continue
        if not little_endian and isinstance(raw, RawDataElement) and entry["vr"] in WORD:
            value = swap(value, WORD[entry["vr"]])
        entry["length"] = len(value)
        entry["crc"] = zlib.crc32(value) & 0xFFFFFFFF
        if entry["vr"] in CHARSET_VRS:
            try:
                entry["text"] = text_of(elem)
            except Exception as error:  # pydicom could not decode: record that
                entry["text_error"] = str(error)
        out.append(entry)
    return out


def main(paths):
    results = []
    for path in paths:
        try:
            ds = pydicom.dcmread(path, force=True)
            little = ds.original_encoding[1] if ds.original_encoding else True
            meta = elements(ds.file_meta, True) if ds.file_meta is not None else []
            data = elements(ds, little)
            results.append({"path": path, "transfer_syntax": str(ds.file_meta.get("TransferSyntaxUID", "")) if ds.file_meta else "",
                            "meta": meta, "dataset": data})
        except Exception as error:
            results.append({"path": path, "error": "%s: %s" % (type(error).__name__, error)})
    json.dump({"pydicom": pydicom.__version__, "files": results}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
