#!/bin/sh
# Builds Tools/fuzz/.build/fuzz-pure-jpeg, fuzz-rle, fuzz-openjpeg, fuzz-libjpeg, fuzz-dataset, fuzz-pdu, fuzz-query,
# fuzz-worklist and fuzz-server with libFuzzer and AddressSanitizer, from the repository's sources. `build.sh dataset pdu`
# builds only the fuzzers named (codecs, dataset, pdu, query, server); no argument builds all.
set -e
WHAT="${*:-codecs dataset pdu query server}"
want() { case " $WHAT " in *" $1 "*) return 0 ;; esac; return 1; }
cd "$(dirname "$0")"
ROOT=../..
OUT=.build
mkdir -p "$OUT"
FLAGS="-sanitize=fuzzer,address -O -g -parse-as-library"
# DICOMCore as a module of its own, so the codec and DICOMIO sources compile unchanged (they `import DICOMCore`).
if want codecs || want dataset; then
    swiftc $FLAGS -module-name DICOMCore -emit-module -emit-module-path "$OUT/DICOMCore.swiftmodule" \
        -emit-library -static -o "$OUT/libDICOMCore.a" $(find "$ROOT/Sources/DICOMCore" -name "*.swift")
fi
C="$ROOT/Sources/DICOMCodecs"
if want codecs; then
swiftc $FLAGS -I "$OUT" -L "$OUT" -lDICOMCore -module-name FuzzPureJPEG -o "$OUT/fuzz-pure-jpeg" \
    FuzzPureJPEG.swift "$C/PixelCodec.swift" "$C/JPEGBitstream.swift" "$C/JPEGLosslessDecoder.swift" \
    "$C/JPEGLSBitstream.swift" "$C/JPEGLSCodingState.swift" "$C/JPEGLSDecoder.swift" "$C/JPEGExtendedDecoder.swift"
swiftc $FLAGS -I "$OUT" -L "$OUT" -lDICOMCore -module-name FuzzRLE -o "$OUT/fuzz-rle" \
    FuzzRLE.swift "$C/PixelCodec.swift" "$C/RLEDecoder.swift" "$C/RLEEncoder.swift"
swiftc $FLAGS -I "$OUT" -L "$OUT" -lDICOMCore -I "$ROOT/Sources/COpenJPEG" -Xcc -I/usr/include/openjpeg-2.5 -lopenjp2 \
    -module-name FuzzOpenJPEG -o "$OUT/fuzz-openjpeg" \
    FuzzOpenJPEG.swift "$C/PixelCodec.swift" "$C/OpenJPEGDecoder.swift" "$C/OpenJPEGStreams.swift"
# The libjpeg shim (C, setjmp around every libjpeg call) instrumented too, behind a module map of its own.
mkdir -p "$OUT/CJPEGShim"
SHIM="$(cd "$ROOT/Sources/CJPEGShim" && pwd)"
printf 'module CJPEGShim {\n    header "%s/include/cjpegshim.h"\n    export *\n}\n' "$SHIM" > "$OUT/CJPEGShim/module.modulemap"
clang -fsanitize=fuzzer-no-link,address -O1 -g -I "$SHIM/include" -c "$SHIM/cjpegshim.c" -o "$OUT/cjpegshim.o"
swiftc $FLAGS -I "$OUT" -L "$OUT" -lDICOMCore -I "$OUT/CJPEGShim" -ljpeg -module-name FuzzLibJPEG -o "$OUT/fuzz-libjpeg" \
    FuzzLibJPEG.swift "$C/PixelCodec.swift" "$C/LibJPEGCodec.swift" "$OUT/cjpegshim.o"
echo "built $OUT/fuzz-pure-jpeg $OUT/fuzz-rle $OUT/fuzz-openjpeg $OUT/fuzz-libjpeg"
fi
if want dataset; then
    # The DICOMIO sources compiled into the harness module (they import DICOMCore and the CZlib module map).
    swiftc $FLAGS -I "$OUT" -L "$OUT" -lDICOMCore -I "$ROOT/Sources/CZlib" -lz -module-name FuzzDataSet \
        -o "$OUT/fuzz-dataset" FuzzDataSet.swift $(find "$ROOT/Sources/DICOMIO" -name "*.swift")
    echo "built $OUT/fuzz-dataset"
fi
if want pdu; then
    # DICOMNetwork needs NIOCore, Logging and Crypto: the harness is a package of its own (pdu/Package.swift) that
    # depends on this repository, built in release with the sanitizers on every Swift module.
    SCRATCH="${FUZZ_SCRATCH:-$(cd "$ROOT" && pwd)/.build-fuzz}"
    swift build --package-path pdu -c release --scratch-path "$SCRATCH" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -g
    cp "$SCRATCH/release/fuzz-pdu" "$OUT/fuzz-pdu"
    echo "built $OUT/fuzz-pdu"
fi
if want query; then
    # The C-FIND query path of DICOMArchive and the worklist matching of DICOMWorklist: a package of its own like pdu/ (query/Package.swift), with -enable-testing
    # so the harness reaches the query engine's internal planning and matching functions for its index-versus-scan
    # oracle (`@testable import DICOMArchive`). Its own scratch path: the flags differ from the pdu build's.
    SCRATCH="${FUZZ_QUERY_SCRATCH:-$(cd "$ROOT" && pwd)/.build-fuzz-query}"
    swift build --package-path query -c release --scratch-path "$SCRATCH" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -g -Xswiftc -enable-testing
    cp "$SCRATCH/release/fuzz-query" "$SCRATCH/release/fuzz-worklist" "$OUT/"
    echo "built $OUT/fuzz-query $OUT/fuzz-worklist"
fi
if want server; then
    # A running DICOMServer over an ArchiveStore, wired as `dcmstore serve` does, fed over loopback TCP: a package of its
    # own like pdu/ (server/Package.swift), built in release with the sanitizers on every Swift module, in its own
    # scratch path.
    SCRATCH="${FUZZ_SERVER_SCRATCH:-$(cd "$ROOT" && pwd)/.build-fuzz-server}"
    # Linked with lld: GNU gold stops with an internal error (format_file_lineno in dwarf_reader.cc) on this program.
    swift build --package-path server -c release --scratch-path "$SCRATCH" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -g -Xswiftc -use-ld=lld
    cp "$SCRATCH/release/fuzz-server" "$OUT/fuzz-server"
    echo "built $OUT/fuzz-server"
fi
