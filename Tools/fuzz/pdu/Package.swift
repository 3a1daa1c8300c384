// swift-tools-version:6.0
// The PDU fuzzer, built against the repository's DICOMNetwork product (NIOCore, Logging and Crypto come with it).
// Build: Tools/fuzz/build.sh pdu (release, -sanitize=fuzzer,address, scratch path /work/main/.build-fuzz).
import PackageDescription

let package = Package(
    name: "FuzzPDU",
    dependencies: [.package(name: "swift-dicom", path: "../../..")],
    targets: [
        // SwiftPM links an executable with `main` aliased to `fuzz_pdu_main`, so libFuzzer's own `main` is not used:
        // FuzzPDU.swift defines fuzz_pdu_main and calls LLVMFuzzerRunDriver, declared by this module map.
        .systemLibrary(name: "CFuzzerDriver", path: "CFuzzerDriver"),
        .executableTarget(name: "fuzz-pdu", dependencies: [
            "CFuzzerDriver",
            .product(name: "DICOMNetwork", package: "swift-dicom"),
            .product(name: "DICOMIO", package: "swift-dicom"),
        ], path: ".", sources: ["FuzzPDU.swift"]),
    ]
)
