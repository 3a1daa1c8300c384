// swift-tools-version:6.0
// Micro-benchmark for DICOMCore character sets. Build and run in release:
//   cd Tools/bench_charsets && swift run -c release --scratch-path /tmp/bench-charsets
import PackageDescription

let package = Package(
    name: "bench_charsets",
    targets: [
        // A symbolic link to ../../Sources/DICOMCore, so the benchmark measures the real sources.
        .target(name: "DICOMCore", path: "Sources/DICOMCore"),
        .executableTarget(name: "bench_charsets", dependencies: ["DICOMCore"], path: "Sources/bench_charsets"),
    ]
)
