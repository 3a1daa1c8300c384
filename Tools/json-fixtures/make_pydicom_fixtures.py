#!/usr/bin/env python3
"""Builds a few data sets with pydicom, writes them with dcmwrite (Explicit VR Little Endian) to a
temporary directory, reads them back and records, for each, the raw element values as stored in the
file and pydicom's Dataset.to_json_dict(). The output is a Swift source file used by
Tests/DICOMJSONTests/PydicomComparisonTests.swift:

    python3 Tools/json-fixtures/make_pydicom_fixtures.py > Tests/DICOMJSONTests/PydicomFixtures.swift

Deterministic: fixed UIDs and values, sorted keys.
"""
import base64
import json
import os
import sys
import tempfile

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit


def with_meta(ds, transfer_syntax=ExplicitVRLittleEndian):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6.7"
    meta.TransferSyntaxUID = transfer_syntax
    ds.file_meta = meta
    return ds


def ascii_mixed():
    ds = Dataset()
    ds.add_new(0x00080008, "CS", "ORIGINAL\\PRIMARY\\AXIAL")
    ds.add_new(0x00080016, "UI", "1.2.840.10008.5.1.4.1.1.7")
    ds.add_new(0x00080018, "UI", "1.2.3.4.5.6.7")
    ds.add_new(0x00080020, "DA", "20240102")
    ds.add_new(0x00080030, "TM", "123456.789")
    ds.add_new(0x00080060, "CS", "OT")
    ds.add_new(0x00080090, "PN", "Smith^Anne^^Dr.")
    ds.add_new(0x00080120, "UR", "http://example.org/scheme?a=1&b=2")
    ds.add_new(0x00081030, "LO", 'Study "quoted"\\two')
    ds.add_new(0x00081115, "SQ", Sequence([]))
    items = []
    for n in range(2):
        item = Dataset()
        item.add_new(0x00081150, "UI", "1.2.840.10008.5.1.4.1.1.2")
        item.add_new(0x00081155, "UI", f"1.2.3.{n + 1}")
        items.append(item)
    nested = Dataset()
    nested.add_new(0x00080100, "SH", "T-D1100")
    nested.add_new(0x00080102, "SH", "SRT")
    items[1].add_new(0x00082218, "SQ", Sequence([nested, Dataset()]))
    ds.add_new(0x00081140, "SQ", Sequence(items))
    ds.add_new(0x00100010, "PN", "Doe^John")
    ds.add_new(0x00100020, "LO", "ID-0001")
    ds.add_new(0x00100030, "DA", "")
    ds.add_new(0x00100040, "CS", "")
    ds.add_new(0x00101010, "AS", "045Y")
    ds.add_new(0x00180050, "DS", "1.50")
    ds.add_new(0x00181030, "LO", "")
    ds.add_new(0x00200013, "IS", "12")
    ds.add_new(0x00200037, "DS", "1\\0\\0\\0\\1\\0")
    ds.add_new(0x00204000, "LT", 'line one\r\nline "two"\\not split\ttab')
    ds.add_new(0x00209165, "AT", [0x00100010, 0x0020000D])
    ds.add_new(0x00280010, "US", 2)
    ds.add_new(0x00280011, "US", 2)
    ds.add_new(0x00280100, "US", 16)
    ds.add_new(0x00280106, "SS", -5)
    ds.add_new(0x00281050, "DS", ["40", "-1.25e2"])
    ds.add_new(0x00281201, "OW", bytes(range(16)))
    ds.add_new(0x00081161, "UL", [1, 4294967295])
    ds.add_new(0x00186020, "SL", [-2147483648, 7])
    ds.add_new(0x00189089, "FD", [0.5, -0.25, 3.141592653589793])
    ds.add_new(0x00189241, "FL", [1.5, -2.0])
    ds.add_new(0x00420011, "OB", bytes([0, 1, 2, 253, 254, 255, 34, 92, 10]))
    ds.add_new(0x00090010, "LO", "JSON TEST CREATOR")
    ds.add_new(0x00091001, "OD", bytes(range(8, 24)))
    ds.add_new(0x00091002, "OF", bytes(range(40, 48)))
    ds.add_new(0x00091003, "OL", bytes(range(60, 68)))
    ds.add_new(0x00091004, "OV", bytes(range(70, 86)))
    ds.add_new(0x00091005, "SV", [-9007199254740993, 42])
    ds.add_new(0x00091006, "UV", [18446744073709551615])
    ds.add_new(0x00091007, "UN", bytes([1, 2, 3, 4]))
    ds.add_new(0x00091008, "UT", "unlimited \\ text")
    ds.add_new(0x00091009, "UC", "uc one\\uc two")
    ds.add_new(0x0009100A, "ST", "short text")
    ds.add_new(0x0009100B, "DT", "20240102030405.123456+0100")
    ds.add_new(0x0009100C, "AE", "STORESCP")
    return ds


def utf8_names():
    ds = Dataset()
    ds.add_new(0x00080005, "CS", "ISO_IR 192")
    ds.add_new(0x00080090, "PN", "رضایی^محمد")
    ds.add_new(0x00081030, "LO", "Исследование грудной клетки")
    ds.add_new(0x00100010, "PN", "Yamada^Tarou=山田^太郎=やまだ^たろう")
    ds.add_new(0x00101001, "PN", ["Асанов^Бакыт", "Үсөнов^Ңурлан"])
    ds.add_new(0x00102180, "SH", "Инженер")
    item = Dataset()
    item.add_new(0x00401101, "PN", "Иванов^Иван")
    ds.add_new(0x00081052, "SQ", Sequence([item]))
    return ds


def latin1_names():
    ds = Dataset()
    ds.add_new(0x00080005, "CS", "ISO_IR 100")
    ds.add_new(0x00080080, "LO", "Hôpital Général")
    ds.add_new(0x00100010, "PN", "Dürer^Albrecht")
    ds.add_new(0x00104000, "LT", "Ærøskøbing ñ ¿")
    return ds


def cyrillic_144():
    ds = Dataset()
    ds.add_new(0x00080005, "CS", "ISO_IR 144")
    ds.add_new(0x00100010, "PN", "Люкceмбypг^Иван")
    ds.add_new(0x00081030, "LO", "Грудная клетка")
    return ds


def encapsulated():
    ds = Dataset()
    ds.add_new(0x00280002, "US", 1)
    ds.add_new(0x00280010, "US", 2)
    ds.add_new(0x00280011, "US", 2)
    ds.add_new(0x00280100, "US", 8)
    frames = [bytes([0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9, 0]), bytes([0xFF, 0xD8, 4, 5, 0xFF, 0xD9])]
    ds.add_new(0x7FE00010, "OB", encapsulate(frames, has_bot=True))
    return ds


def raw_elements(ds):
    out = []
    for tag in sorted(ds.keys()):
        raw = ds.get_item(tag)
        if raw.VR == "SQ":
            seq = ds[tag].value
            out.append({"tag": f"{int(tag):08X}", "vr": "SQ", "items": [raw_elements(item) for item in seq]})
        else:
            value = raw.value
            if not isinstance(value, bytes):
                # pydicom converts (0008,0005) while reading; rebuild its bytes as written.
                terms = value if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]
                value = "\\".join(terms).encode("ascii")
                if len(value) % 2:
                    value += b" "
            out.append({"tag": f"{int(tag):08X}", "vr": raw.VR, "bytes": base64.b64encode(value).decode()})
    return out


def main():
    fixtures = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, build, syntax in [("ascii-mixed", ascii_mixed, ExplicitVRLittleEndian),
                                    ("utf8-names", utf8_names, ExplicitVRLittleEndian),
                                    ("latin1-names", latin1_names, ExplicitVRLittleEndian),
                                    ("cyrillic-iso-ir-144", cyrillic_144, ExplicitVRLittleEndian),
                                    ("encapsulated", encapsulated, JPEGBaseline8Bit)]:
            path = os.path.join(tmp, name + ".dcm")
            ds = with_meta(build(), syntax)
            pydicom.dcmwrite(path, ds, enforce_file_format=True)
            raw = pydicom.dcmread(path)
            elements = raw_elements(raw)
            readback = pydicom.dcmread(path)
            expected = readback.to_json_dict()
            with open(path, "rb") as f:
                file_bytes = f.read()
            fixtures.append((name, elements, expected, base64.b64encode(file_bytes).decode()))

    print("// DO NOT EDIT — generated by Tools/json-fixtures/make_pydicom_fixtures.py with pydicom "
          + pydicom.__version__ + ".")
    print("// Each fixture: the raw elements of a file written by pydicom's dcmwrite, pydicom's to_json_dict() of it,")
    print("// and the file itself (base64).")
    print()
    print("enum PydicomFixtures {")
    print("    static let all: [(name: String, elements: String, json: String, file: String)] = [")
    for name, elements, expected, file_b64 in fixtures:
        e = json.dumps(elements, sort_keys=True, ensure_ascii=True)
        j = json.dumps(expected, sort_keys=True, ensure_ascii=True)
        print(f'        ("{name}",')
        print(f'         #"{e}"#,')
        print(f'         #"{j}"#,')
        print(f'         "{file_b64}"),')
    print("    ]")
    print("}")


if __name__ == "__main__":
    sys.exit(main())
