import DICOMCore
import Foundation

/// The attributes of the Image Pixel Module (PS3.3 §C.7.6.3) that a codec needs to encode or decode one frame.
public struct FrameDescription: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    public var samplesPerPixel: Int
    public var bitsAllocated: Int
    public var bitsStored: Int
    public var highBit: Int
    /// Pixel Representation (0028,0103) is 1: samples are two's complement.
    public var isSigned: Bool
    /// Planar Configuration (0028,0006): 0 = colour-by-pixel (R1G1B1R2…), 1 = colour-by-plane (R1R2…G1G2…B1B2…).
    public var planarConfiguration: Int
    public var photometricInterpretation: String
    public var numberOfFrames: Int

    public init(rows: Int, columns: Int, samplesPerPixel: Int = 1, bitsAllocated: Int, bitsStored: Int? = nil,
                highBit: Int? = nil, isSigned: Bool = false, planarConfiguration: Int = 0,
                photometricInterpretation: String = "MONOCHROME2", numberOfFrames: Int = 1) {
        self.rows = rows
        self.columns = columns
        self.samplesPerPixel = samplesPerPixel
        self.bitsAllocated = bitsAllocated
        self.bitsStored = bitsStored ?? bitsAllocated
        self.highBit = highBit ?? ((bitsStored ?? bitsAllocated) - 1)
        self.isSigned = isSigned
        self.planarConfiguration = planarConfiguration
        self.photometricInterpretation = photometricInterpretation
        self.numberOfFrames = numberOfFrames
    }

    /// Reads the description from a data set's Image Pixel Module; throws naming the first missing or invalid attribute.
    public init(dataSet: DataSet) throws {
        func required(_ tag: Tag, _ name: String) throws -> Int {
            guard let value = dataSet.integer(tag) else {
                throw CodecError(.invalidImage, "\(name) \(tag) is missing or not a number")
            }
            return value
        }
        rows = try required(.rows, "Rows")
        columns = try required(.columns, "Columns")
        samplesPerPixel = dataSet.integer(.samplesPerPixel) ?? 1
        bitsAllocated = try required(.bitsAllocated, "Bits Allocated")
        bitsStored = dataSet.integer(.bitsStored) ?? bitsAllocated
        highBit = dataSet.integer(.highBit) ?? (bitsStored - 1)
        isSigned = (dataSet.integer(.pixelRepresentation) ?? 0) == 1
        planarConfiguration = dataSet.integer(.planarConfiguration) ?? 0
        photometricInterpretation = dataSet.string(.photometricInterpretation)?.trimmingCharacters(in: .whitespaces) ?? "MONOCHROME2"
        numberOfFrames = max(1, dataSet.integer(.numberOfFrames) ?? 1)
        try validate()
    }

    /// Checks the values are in the ranges the standard allows, so a frame size can be computed without overflow.
    public func validate() throws {
        guard (1...65535).contains(rows), (1...65535).contains(columns) else {
            throw CodecError(.invalidImage, "Rows \(rows) and Columns \(columns) must be 1...65535")
        }
        guard [1, 3, 4].contains(samplesPerPixel) else {
            throw CodecError(.invalidImage, "Samples per Pixel \(samplesPerPixel) must be 1, 3 or 4")
        }
        guard [1, 8, 16, 32, 64].contains(bitsAllocated) else {
            throw CodecError(.invalidImage, "Bits Allocated \(bitsAllocated) must be 1, 8, 16, 32 or 64")
        }
        guard (1...bitsAllocated).contains(bitsStored), highBit < bitsAllocated, highBit >= bitsStored - 1 else {
            throw CodecError(.invalidImage, "Bits Stored \(bitsStored) / High Bit \(highBit) do not fit Bits Allocated \(bitsAllocated)")
        }
        guard planarConfiguration == 0 || planarConfiguration == 1 else {
            throw CodecError(.invalidImage, "Planar Configuration \(planarConfiguration) must be 0 or 1")
        }
        guard (1...1_000_000).contains(numberOfFrames) else {
            throw CodecError(.invalidImage, "Number of Frames \(numberOfFrames) is out of range")
        }
    }

    /// Pixels in one frame.
    public var pixelCount: Int { rows * columns }

    /// Bytes of one uncompressed frame in native (Explicit VR Little Endian) layout; bits packed for Bits Allocated 1.
    public var bytesPerFrame: Int {
        let bits = rows * columns * samplesPerPixel * bitsAllocated
        return (bits + 7) / 8
    }
}

/// One decoded frame: native little-endian samples and the attributes that describe them after decoding.
public struct DecodedFrame: Sendable, Equatable {
    /// Uncompressed samples exactly as Explicit VR Little Endian Pixel Data holds them.
    public var pixels: Data
    /// Photometric Interpretation after decoding (e.g. a JPEG YBR_FULL_422 frame decoded to RGB).
    public var photometricInterpretation: String
    /// Planar Configuration of ``pixels``.
    public var planarConfiguration: Int

    public init(pixels: Data, photometricInterpretation: String, planarConfiguration: Int) {
        self.pixels = pixels
        self.photometricInterpretation = photometricInterpretation
        self.planarConfiguration = planarConfiguration
    }
}

/// One encoded frame: the compressed bitstream (one or more fragments) and the attributes it implies.
public struct EncodedFrame: Sendable, Equatable {
    /// The compressed bytes of the frame (a codec may split them into fragments when encapsulating).
    public var bytes: Data
    /// Photometric Interpretation of the encoded frame (e.g. YBR_RCT for JPEG 2000 lossless colour).
    public var photometricInterpretation: String
    /// Planar Configuration to record (PS3.5 §8.2: 0 for most compressed syntaxes).
    public var planarConfiguration: Int

    public init(bytes: Data, photometricInterpretation: String, planarConfiguration: Int = 0) {
        self.bytes = bytes
        self.photometricInterpretation = photometricInterpretation
        self.planarConfiguration = planarConfiguration
    }
}

/// Options for encoders.
public struct EncodingOptions: Sendable, Equatable {
    /// JPEG baseline quality 1...100.
    public var quality: Int = 90
    /// Target compression ratio for lossy JPEG 2000 (e.g. 10 = 10:1).
    public var compressionRatio: Double = 10
    /// JPEG-LS near-lossless maximum error (NEAR); 0 = lossless.
    public var nearLossless: Int = 0

    public init(quality: Int = 90, compressionRatio: Double = 10, nearLossless: Int = 0) {
        self.quality = quality
        self.compressionRatio = compressionRatio
        self.nearLossless = nearLossless
    }
}

/// Decodes frames of one or more transfer syntaxes.
public protocol FrameDecoder: Sendable {
    /// The transfer syntax UIDs this decoder handles.
    var transferSyntaxUIDs: Set<String> { get }
    /// Decodes one frame's compressed bytes (all fragments of the frame, concatenated).
    /// Throws ``CodecError`` naming what is wrong; never traps on bad input.
    func decode(_ frame: Data, description: FrameDescription) throws -> DecodedFrame
}

/// Encodes frames into one transfer syntax.
public protocol FrameEncoder: Sendable {
    /// The transfer syntax UID produced.
    var transferSyntaxUID: String { get }
    /// Whether the result loses information (PS3.3 §C.7.6.1.1.5: Lossy Image Compression becomes "01").
    var isLossy: Bool { get }
    /// The Lossy Image Compression Method (0028,2114) defined term, e.g. "ISO_10918_1"; nil for lossless codecs.
    var lossyMethod: String? { get }
    /// Encodes one frame of native little-endian samples laid out as `description` says.
    func encode(_ frame: Data, description: FrameDescription, options: EncodingOptions) throws -> EncodedFrame
}

/// A codec failure: what kind, and a message naming the codec and the problem.
public struct CodecError: Error, Sendable, CustomStringConvertible, Equatable {
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }
        /// The Image Pixel Module is missing values or holds impossible ones.
        public static let invalidImage = Kind("invalidImage")
        /// The compressed stream is truncated, corrupt or inconsistent with the data set.
        public static let corruptStream = Kind("corruptStream")
        /// A valid stream or image this codec does not handle (e.g. a JPEG process, a bit depth).
        public static let unsupported = Kind("unsupported")
        /// No codec is available for a transfer syntax.
        public static let noCodec = Kind("noCodec")
        /// A lossy transcoding was requested without explicit permission.
        public static let lossyNotAllowed = Kind("lossyNotAllowed")
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
