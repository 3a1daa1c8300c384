// swift-tools-version:6.0
// The server fuzzer: a real DICOMServer over an ArchiveStore, wired as `dcmstore serve` wires it, fed over loopback TCP.
// Built against the repository's DICOMArchive and DICOMWorklist products (DICOMServices, DICOMNetwork, NIOCore, NIOPosix come with it).
// Build: Tools/fuzz/build.sh server (release, -sanitize=fuzzer,address, scratch path /work/main/.build-fuzz-server).
import PackageDescription

let package = Package(
    name: "FuzzServer",
    dependencies: [.package(name: "swift-dicom", path: "../../..")],
    targets: [
        // SwiftPM links an executable with `main` aliased to `fuzz_server_main`, so libFuzzer's own `main` is not used:
        // FuzzServer.swift defines fuzz_server_main and calls LLVMFuzzerRunDriver, declared by this module map (a link to
        // pdu/CFuzzerDriver, shared by the fuzz packages).
        .systemLibrary(name: "CFuzzerDriver", path: "CFuzzerDriver"),
        .executableTarget(name: "fuzz-server", dependencies: [
            "CFuzzerDriver",
            .product(name: "DICOMArchive", package: "swift-dicom"),
            .product(name: "DICOMServices", package: "swift-dicom"),
            .product(name: "DICOMWorklist", package: "swift-dicom"),
            .product(name: "DICOMNetwork", package: "swift-dicom"),
            .product(name: "DICOMIO", package: "swift-dicom"),
        ], path: "Server"),
    ]
)
