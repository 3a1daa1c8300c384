// swift-tools-version:6.0
// The C-FIND query fuzzers (archive query path, Modality Worklist matching), built against the repository's DICOMArchive
// and DICOMWorklist products (DICOMServices, NIOCore come with them).
// Build: Tools/fuzz/build.sh query (release, -sanitize=fuzzer,address -enable-testing, scratch path
// /work/main/.build-fuzz-query). `-enable-testing` lets the harness use the query engine's internal planning and
// matching functions (`@testable import DICOMArchive`) for its index-versus-scan oracle.
import PackageDescription

let package = Package(
    name: "FuzzQuery",
    dependencies: [.package(name: "swift-dicom", path: "../../..")],
    targets: [
        // SwiftPM links an executable with `main` aliased to `fuzz_query_main`, so libFuzzer's own `main` is not used:
        // FuzzQuery.swift defines fuzz_query_main and calls LLVMFuzzerRunDriver, declared by this module map (a link to
        // pdu/CFuzzerDriver, shared by both packages).
        .systemLibrary(name: "CFuzzerDriver", path: "CFuzzerDriver"),
        .executableTarget(name: "fuzz-query", dependencies: [
            "CFuzzerDriver",
            .product(name: "DICOMArchive", package: "swift-dicom"),
            .product(name: "DICOMIO", package: "swift-dicom"),
        ], path: "Query"),
        // The Modality Worklist matching (FuzzWorklist.swift): fuzz_worklist_main.
        .executableTarget(name: "fuzz-worklist", dependencies: [
            "CFuzzerDriver",
            .product(name: "DICOMArchive", package: "swift-dicom"),
            .product(name: "DICOMWorklist", package: "swift-dicom"),
            .product(name: "DICOMIO", package: "swift-dicom"),
        ], path: "Worklist"),
    ]
)
