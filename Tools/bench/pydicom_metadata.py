#!/usr/bin/env python3
"""Peer measurement for `dcmbench metadata` and `dcmbench memory`: pydicom's metadata read.

Usage: pydicom_metadata.py LISTFILE [--repeat N]
  LISTFILE holds one path per line. For each repetition every file is read with
  dcmread(path, stop_before_pixels=True) and PatientName and StudyInstanceUID are
  looked at (pydicom decodes values lazily, as our reader does), in this one process.
Prints one JSON object: {"files": n, "seconds": [t1, t2, ...], "checksum": k,
  "pydicom": version}. Times exclude interpreter start-up and imports.
"""
import json
import sys
import time

import pydicom


def main() -> int:
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 64
    repeat = 1
    if "--repeat" in args:
        i = args.index("--repeat")
        repeat = int(args[i + 1])
        del args[i:i + 2]
    with open(args[0]) as f:
        paths = [line.rstrip("\n") for line in f if line.strip()]
    times = []
    checksum = 0
    for _ in range(repeat):
        checksum = 0
        start = time.perf_counter()
        for path in paths:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            checksum += len(str(ds.PatientName)) + len(ds.StudyInstanceUID)
        times.append(time.perf_counter() - start)
    print(json.dumps({"files": len(paths), "seconds": times, "checksum": checksum,
                      "pydicom": pydicom.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
