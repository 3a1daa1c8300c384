#!/bin/sh
# Builds Tools/fuzz/.build/fuzz-pure-jpeg, fuzz-rle, fuzz-openjpeg and fuzz-libjpeg with libFuzzer and AddressSanitizer, from the repository's sources.
set -e
cd "$(dirname "$0")"
ROOT=../..
OUT=.build
mkdir -p "$OUT"
FLAGS="-sanitize=fuzzer,address -O -g -parse-as-library"
# DICOMCore as a module of its own, so the codec sources compile unchanged (they `import DICOMCore`).
swiftc $FLAGS -module-name DICOMCore -emit-module -emit-module-path "$OUT/DICOMCore.swiftmodule" \
    -emit-library -static -o "$OUT/libDICOMCore.a" $(find "$ROOT/Sources/DICOMCore" -name "*.swift")
C="$ROOT/Sources/DICOMCodecs"
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
