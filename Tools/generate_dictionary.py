#!/usr/bin/env python3
"""Generates the DICOM data dictionary and UID registry of DICOMCore.

Source: the machine-readable tables that the installed pydicom wheel ships
(pydicom/_dicom_dict.py: DicomDictionary and RepeatersDictionary;
pydicom/_uid_dict.py: UID_dictionary), which pydicom generates from the
DICOM standard (PS3.6 and PS3.7 tables). The pydicom version and the DICOM
edition it records are written into every generated file's header.

Output: Swift files in Sources/DICOMCore/Dictionary/ (or --output DIR):

  DataDictionary+Attributes<NN>.swift  per chunk of at most 500 attributes: the
                                       records as one StaticString, one line
                                       each (tag|VRs|VM|R or -|keyword|name),
                                       and a `switch` on the UInt32 tag that
                                       returns the record's offset
  DataDictionary+Index.swift           chunk dispatch, source, repeating groups
                                       (records + one masked `switch` per mask)
  Tag+Keywords<NN>.swift               an @inlinable constant on Tag per keyword
  UIDRegistry+Entries.swift            the UID registry as one record text

The shapes follow the compile-time measurements in STYLE.md (no giant array
literals of structs, no `switch` on strings) and our own: a `switch` whose 5,091
cases each build a struct of Strings took 75-109 s of SIL optimisation in a
release build, while switches returning integer offsets into record texts take
about 12 s for everything generated here (6 s in debug). Output is deterministic: sorted
by tag or UID, no dates or host names.

Usage: python3 Tools/generate_dictionary.py [--output DIR]
"""

import argparse
import os
import re
import sys

ATTRIBUTE_CHUNK = 500   # attributes per lookup switch / tag table
KEYWORD_CHUNK = 1000    # tag constants per file

GENERATED_PREFIXES = ("DataDictionary+Attributes", "DataDictionary+Index", "Tag+Keywords", "UIDRegistry+Entries")

# The 34 VRs of the VR enum in Sources/DICOMCore/VR.swift.
KNOWN_VRS = set(
    "AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)

SWIFT_RESERVED = set(
    "associatedtype class deinit enum extension fileprivate func import init inout internal let open operator "
    "private precedencegroup protocol public rethrows static struct subscript typealias var break case catch "
    "continue default defer do else fallthrough for guard if in repeat return throw switch where while Any as "
    "await false is nil self Self super throws true try Type Protocol".split()
)


def load_pydicom():
    try:
        import pydicom
        from pydicom._dicom_dict import DicomDictionary, RepeatersDictionary
        from pydicom._uid_dict import UID_dictionary
    except ImportError as error:  # pragma: no cover
        sys.exit(f"generate_dictionary.py needs pydicom: {error}")
    edition = getattr(pydicom, "__dicom_version__", None)
    if edition is None:
        try:
            from pydicom._version import __dicom_version__ as edition
        except ImportError:
            edition = None
    return pydicom.__version__, edition, DicomDictionary, RepeatersDictionary, UID_dictionary


def swift_string(text):
    """A Swift string literal for `text`."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ord(ch) < 0x20:
            out.append("\\u{%X}" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def lower_camel(keyword):
    """PatientName -> patientName, SOPInstanceUID -> sopInstanceUID, UID -> uid."""
    run = re.match(r"[A-Z0-9]*", keyword).group(0)
    if len(run) == len(keyword):
        name = keyword.lower()
    elif len(run) <= 1:
        name = keyword[0].lower() + keyword[1:]
    elif keyword[len(run)].islower():
        name = run[:-1].lower() + keyword[len(run) - 1:]
    else:
        name = run.lower() + keyword[len(run):]
    return f"`{name}`" if name in SWIFT_RESERVED else name


def parse_vrs(text, where):
    """'US or SS' -> ['US', 'SS']; 'NONE' -> []."""
    if text == "NONE":
        return []
    vrs = [part.strip() for part in text.split(" or ")]
    for vr in vrs:
        if vr not in KNOWN_VRS:
            sys.exit(f"unknown VR {vr!r} for {where}")
    if not 1 <= len(vrs) <= 3:
        sys.exit(f"unexpected VR list {text!r} for {where}")
    return vrs


def hex_tag(raw):
    return "0x%04X_%04X" % (raw >> 16, raw & 0xFFFF)


def tag_text(raw):
    return "(%04X,%04X)" % (raw >> 16, raw & 0xFFFF)


def check_field(text, where):
    """Record fields are ASCII-printable text without the separator, a backslash or a quote."""
    if any(ch in "|\\\"" or not 0x20 <= ord(ch) < 0x7F for ch in text):
        sys.exit(f"unexpected character in {text!r} ({where})")


def record_text(items):
    """'tag|VRs|VM|R or -|keyword|name' lines for (tag, attribute) pairs, and each line's byte offset."""
    lines, offsets, offset = [], [], 0
    for raw, a in items:
        fields = ["%08X" % raw, a.vr_text, a.vm, "R" if a.retired else "-", a.keyword, a.name]
        for field in fields:
            check_field(field, tag_text(raw))
        line = "|".join(fields)
        offsets.append(offset)
        offset += len(line) + 1
        lines.append(line)
    return "\n".join(lines), offsets


class Attribute:
    def __init__(self, raw, fields, where):
        vr, vm, name, retired, keyword = fields
        self.raw = raw
        self.vrs = parse_vrs(vr, where)
        self.vr_text = vr
        self.vm = vm
        self.name = name
        self.retired = retired == "Retired"
        self.keyword = keyword


class Repeater(Attribute):
    def __init__(self, pattern, fields):
        super().__init__(None, fields, pattern)
        self.pattern = pattern.upper().replace("X", "x")
        if not re.fullmatch(r"[0-9A-Fx]{8}", self.pattern):
            sys.exit(f"bad repeating-group pattern {pattern!r}")
        self.value = int(self.pattern.replace("x", "0"), 16)
        self.mask = int("".join("0" if c == "x" else "F" for c in self.pattern), 16)
        self.raw = None  # set by representative()

    def matching_tags(self):
        """The tags that match the pattern, ascending (the subsets of the free bits, in order)."""
        free = ~self.mask & 0xFFFFFFFF
        subset = 0
        while True:
            yield self.value | subset
            if subset == free:
                return
            subset = ((subset | self.mask) + 1) & free

    def choose_representative(self, exact):
        """The smallest matching tag that is neither a group length nor an attribute of its own."""
        for raw in self.matching_tags():
            if raw & 0xFFFF != 0 and raw not in exact:
                self.raw = raw
                return
        sys.exit(f"no representative tag for {self.pattern}")

    def display(self):
        return "(%s,%s)" % (self.pattern[:4], self.pattern[4:])


def header(version, edition, extra=""):
    edition_text = f"DICOM {edition}" if edition else "DICOM edition not recorded by pydicom"
    lines = [
        f"// DO NOT EDIT — generated by Tools/generate_dictionary.py from pydicom {version} "
        f"(_dicom_dict.py, _uid_dict.py; {edition_text}).",
    ]
    if extra:
        lines.append("// " + extra)
    return "\n".join(lines) + "\n"


def chunks(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


def generate(output_dir):
    version, edition, dicom_dict, repeaters_dict, uid_dict = load_pydicom()
    files = {}

    attributes = sorted(
        (Attribute(raw, fields, tag_text(raw)) for raw, fields in dicom_dict.items()), key=lambda a: a.raw
    )
    repeaters = sorted(
        (Repeater(pattern, fields) for pattern, fields in repeaters_dict.items()), key=lambda r: (r.mask, r.value)
    )

    # Sanity checks: masks must not overlap each other, and no repeating-group tag is also an exact entry.
    for i, a in enumerate(repeaters):
        for b in repeaters[i + 1:]:
            if (a.value ^ b.value) & a.mask & b.mask == 0:
                sys.exit(f"repeating groups {a.pattern} and {b.pattern} overlap")
    exact = {a.raw for a in attributes}
    for r in repeaters:
        r.choose_representative(exact)
    keywords = [a.keyword for a in attributes if a.keyword] + [r.keyword for r in repeaters]
    if len(keywords) != len(set(keywords)):
        sys.exit("duplicate keywords")
    names = [lower_camel(k) for k in keywords]
    if len(names) != len(set(names)):
        sys.exit("two keywords map to the same Swift name")

    # Attribute chunks: one record text and one lookup switch (tag -> record offset) per chunk.
    attribute_chunks = chunks(attributes, ATTRIBUTE_CHUNK)
    for index, chunk in enumerate(attribute_chunks):
        text, offsets = record_text([(a.raw, a) for a in chunk])
        lines = [header(version, edition), "extension DataDictionary {"]
        lines.append(f"    /// The attributes from {tag_text(chunk[0].raw)} to {tag_text(chunk[-1].raw)}, one record a line:")
        lines.append("    /// `tag|VRs|VM|R if retired, else -|keyword|name`.")
        lines.append(f"    static var attributeRecords{index:02d}: StaticString {{")
        lines.append('        """')
        lines.extend("        " + line for line in text.splitlines())
        lines.append('        """')
        lines.append("    }")
        lines.append("")
        lines.append(f"    /// The offset of a tag's record in `attributeRecords{index:02d}`, or -1.")
        lines.append(f"    static func attributeOffset{index:02d}(_ raw: UInt32) -> Int {{")
        lines.append("        switch raw {")
        for a, offset in zip(chunk, offsets):
            lines.append(f"        case {hex_tag(a.raw)}: return {offset}")
        lines.append("        default: return -1")
        lines.append("        }")
        lines.append("    }")
        lines.append("}")
        files[f"DataDictionary+Attributes{index:02d}.swift"] = "\n".join(lines) + "\n"

    # Index: dispatch to chunks, repeating groups, counts and source.
    lines = [header(version, edition), "extension DataDictionary {"]
    edition_text = edition or "unknown"
    lines.append("    /// The data source of the generated tables.")
    lines.append(f"    public static let source = {swift_string(f'pydicom {version}, DICOM {edition_text}')}")
    lines.append("")
    lines.append("    /// The number of attributes with an exact tag, and of repeating-group attributes.")
    lines.append(f"    static let exactAttributeCount = {len(attributes)}")
    lines.append(f"    static let repeatingGroupCount = {len(repeaters)}")
    lines.append("")
    lines.append("    /// The record of the attribute with exactly this tag: a chain of at most "
                 f"{len(attribute_chunks)} comparisons picks the chunk whose `switch` knows it.")
    lines.append("    static func exactRecord(_ raw: UInt32) -> DictionaryRecord? {")
    for index in range(len(attribute_chunks)):
        call = f"DictionaryRecord(attributeRecords{index:02d}, attributeOffset{index:02d}(raw))"
        if index < len(attribute_chunks) - 1:
            bound = attribute_chunks[index + 1][0].raw
            lines.append(f"        if raw < {hex_tag(bound)} {{ return {call} }}")
        else:
            lines.append(f"        return {call}")
    lines.append("    }")
    lines.append("")
    lines.append("    /// The record texts of all chunks, in ascending tag order.")
    lines.append("    static var attributeRecordChunks: [StaticString] {")
    lines.append("        [")
    for row in chunks(list(range(len(attribute_chunks))), 5):
        lines.append("            " + " ".join(f"attributeRecords{i:02d}," for i in row))
    lines.append("        ]")
    lines.append("    }")
    lines.append("")
    text, offsets = record_text([(r.raw, r) for r in repeaters])
    lines.append("    /// The repeating-group attributes (PS3.5 §7.6), one record a line as in the attribute chunks; the tag is")
    lines.append("    /// the first of the range that is neither a group length nor an attribute of its own, e.g. 60003000 for")
    lines.append("    /// Overlay Data (60xx,3000).")
    lines.append("    static var repeatingGroupRecords: StaticString {")
    lines.append('        """')
    lines.extend("        " + line for line in text.splitlines())
    lines.append('        """')
    lines.append("    }")
    lines.append("")
    lines.append("    /// The offset in `repeatingGroupRecords` of the repeating-group attribute whose pattern matches, or -1.")
    lines.append("    /// One `switch` per distinct mask; the patterns do not overlap (checked by the generator).")
    lines.append("    static func repeatingGroupOffset(_ raw: UInt32) -> Int {")
    masks = sorted({r.mask for r in repeaters})
    by_repeater = {id(r): o for r, o in zip(repeaters, offsets)}
    for mask in masks:
        lines.append(f"        switch raw & {hex_tag(mask)} {{")
        for r in (r for r in repeaters if r.mask == mask):
            lines.append(f"        case {hex_tag(r.value)}: return {by_repeater[id(r)]}  // {r.display()} {r.keyword}")
        lines.append("        default: break")
        lines.append("        }")
    lines.append("        return -1")
    lines.append("    }")
    lines.append("}")
    files["DataDictionary+Index.swift"] = "\n".join(lines) + "\n"

    # Tag constants for every keyword.
    constants = [(a.keyword, a.raw, a, None) for a in attributes if a.keyword]
    constants += [(r.keyword, r.raw, r, r) for r in repeaters]
    constants.sort(key=lambda c: (c[1], c[0]))
    for index, chunk in enumerate(chunks(constants, KEYWORD_CHUNK)):
        lines = [header(version, edition), "extension Tag {"]
        for keyword, raw, attr, repeater in chunk:
            retired = ", retired" if attr.retired else ""
            if repeater is not None:
                doc = (f"    /// {repeater.display()} {attr.name} ({attr.vr_text}, VM {attr.vm}{retired}): "
                       f"the first tag of the repeating group, {tag_text(raw)}.")
            else:
                doc = f"    /// {tag_text(raw)} {attr.name} ({attr.vr_text}, VM {attr.vm}{retired})."
            lines.append(doc)
            lines.append(f"    @inlinable public static var {lower_camel(keyword)}: Tag {{ Tag(rawValue: {hex_tag(raw)}) }}")
        lines.append("}")
        files[f"Tag+Keywords{index:02d}.swift"] = "\n".join(lines) + "\n"

    # UID registry: one record text, parsed on first use.
    uids = sorted(uid_dict.items(), key=lambda item: [int(part) for part in item[0].split(".")])
    lines = [header(version, edition), "extension UIDRegistry {"]
    lines.append("    /// The registry in UID order, one record a line: `UID|type|R if retired, else -|keyword|name`.")
    lines.append("    static var records: StaticString {")
    lines.append('        """')
    for uid, (name, uid_type, _info, retired, keyword) in uids:
        fields = [uid, uid_type, "R" if retired == "Retired" else "-", keyword, name]
        for field in fields:
            check_field(field, uid)
        lines.append("        " + "|".join(fields))
    lines.append('        """')
    lines.append("    }")
    lines.append("}")
    files["UIDRegistry+Entries.swift"] = "\n".join(lines) + "\n"

    os.makedirs(output_dir, exist_ok=True)
    for existing in sorted(os.listdir(output_dir)):
        if existing.startswith(GENERATED_PREFIXES) and existing.endswith(".swift") and existing not in files:
            os.remove(os.path.join(output_dir, existing))
    for name in sorted(files):
        with open(os.path.join(output_dir, name), "w", encoding="utf-8", newline="\n") as handle:
            handle.write(files[name])
    print(
        f"pydicom {version} (DICOM {edition_text}): {len(attributes)} attributes, {len(repeaters)} repeating-group "
        f"attributes, {len(constants)} tag constants, {len(uids)} UIDs -> {len(files)} files in {output_dir}"
    )


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(root, "Sources", "DICOMCore", "Dictionary"),
                        help="directory for the generated Swift files")
    arguments = parser.parse_args()
    generate(arguments.output)


if __name__ == "__main__":
    main()
