// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-dicom",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "DICOMCore", targets: ["DICOMCore"]),
        .library(name: "DICOMIO", targets: ["DICOMIO"]),
        .library(name: "DICOMJSON", targets: ["DICOMJSON"]),
        .library(name: "DICOMNetwork", targets: ["DICOMNetwork"]),
        .library(name: "DICOMServices", targets: ["DICOMServices"]),
        .library(name: "DICOMArchive", targets: ["DICOMArchive"]),
        .executable(name: "dcmdump", targets: ["dcmdump"]),
        .executable(name: "dcmsend", targets: ["dcmsend"]),
        .executable(name: "dcmbench", targets: ["dcmbench"]),
        .executable(name: "dcmstore", targets: ["dcmstore"]),
        .executable(name: "dcmquery", targets: ["dcmquery"]),
        .library(name: "DICOMCodecs", targets: ["DICOMCodecs"]),
        .library(name: "DICOMWorklist", targets: ["DICOMWorklist"]),
        .executable(name: "dcmconv", targets: ["dcmconv"]),
        .executable(name: "dcmrender", targets: ["dcmrender"]),
        .executable(name: "dcmworklist", targets: ["dcmworklist"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // Layer 0: the data model. Standard library and Foundation only.
        .target(name: "DICOMCore"),
        // Layer 1: Part 10 and data-set reading and writing.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "DICOMIO", dependencies: ["DICOMCore", "CZlib"]),
        .target(name: "DICOMJSON", dependencies: ["DICOMCore"]),
        // Layer 1: pixel data codecs, transcoding and rendering.
        .systemLibrary(name: "CLibJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "COpenJPEG", pkgConfig: "libopenjp2", providers: [.apt(["libopenjp2-7-dev"])]),
        // setjmp/longjmp around libjpeg calls, so that libjpeg errors return instead of calling exit().
        .target(name: "CJPEGShim", dependencies: ["CLibJPEG"]),
        .target(name: "DICOMCodecs", dependencies: ["DICOMCore", "DICOMIO", "CLibJPEG", "CJPEGShim", "COpenJPEG", "CZlib"]),
        // Layer 2: the upper layer, ACSE and DIMSE (NIOCore; Crypto for passcode digests).
        .target(name: "DICOMNetwork", dependencies: [
            "DICOMCore", "DICOMIO",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Layer 3: SCU and SCP services on sockets and TLS.
        .target(name: "DICOMServices", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMNetwork", "DICOMCodecs",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Layer 4: the archive — storage layout, JSON index, C-FIND matching, lifecycle.
        .target(name: "DICOMArchive", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMJSON", "DICOMNetwork", "DICOMServices", "DICOMCodecs",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Layer 5: patients, orders, Modality Worklist, MPPS and reports.
        .target(name: "DICOMWorklist", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMJSON", "DICOMNetwork", "DICOMServices", "DICOMArchive",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "DICOMToolSupport", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMJSON",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Thin executables.
        .executableTarget(name: "dcmdump", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMJSON", "DICOMToolSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "dcmsend", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMNetwork", "DICOMServices", "DICOMToolSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "dcmbench", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMNetwork", "DICOMServices", "DICOMArchive", "DICOMCodecs", "DICOMToolSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "dcmstore", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMNetwork", "DICOMServices", "DICOMArchive", "DICOMCodecs", "DICOMWorklist", "DICOMToolSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(name: "dcmquery", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMJSON", "DICOMNetwork", "DICOMServices", "DICOMToolSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "dcmconv", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMCodecs", "DICOMToolSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "dcmrender", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMCodecs", "DICOMToolSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "dcmworklist", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMJSON", "DICOMNetwork", "DICOMServices", "DICOMArchive", "DICOMWorklist",
            "DICOMToolSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Tests.
        .testTarget(name: "DICOMCoreTests", dependencies: ["DICOMCore"]),
        .testTarget(name: "DICOMIOTests", dependencies: ["DICOMCore", "DICOMIO", "CZlib"]),
        .testTarget(name: "DICOMJSONTests", dependencies: ["DICOMCore", "DICOMIO", "DICOMJSON"]),
        .testTarget(name: "DICOMNetworkTests", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMNetwork",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOTestUtils", package: "swift-nio"),
        ]),
        .testTarget(name: "DICOMServicesTests", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMNetwork", "DICOMServices", "DICOMCodecs", "dcmquery", "dcmsend",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "DICOMArchiveTests", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMJSON", "DICOMNetwork", "DICOMServices", "DICOMArchive", "dcmstore",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "ToolTests", dependencies: ["DICOMCore", "DICOMIO", "DICOMJSON", "DICOMToolSupport", "dcmdump"]),
        .testTarget(name: "DICOMCodecsTests", dependencies: ["DICOMCore", "DICOMIO", "DICOMCodecs", "dcmconv", "dcmrender"]),
        .testTarget(name: "DICOMWorklistTests", dependencies: [
            "DICOMCore", "DICOMIO", "DICOMJSON", "DICOMNetwork", "DICOMServices", "DICOMArchive", "DICOMWorklist",
            "dcmworklist", "dcmstore",
        ]),
    ]
)
