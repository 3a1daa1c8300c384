import Foundation

/// The file formats a ``RenderedImage`` can be written in.
public enum ImageOutputFormat: String, Sendable, CaseIterable {
    case png
    case jpeg

    /// The format for a name or file extension (png; jpeg, jpg), case-insensitive.
    public init?(name: String) {
        switch name.lowercased() {
        case "png": self = .png
        case "jpeg", "jpg": self = .jpeg
        default: return nil
        }
    }
}

/// Encodes rendered images as image files.
public enum ImageOutput {
    /// The bytes of `image` as a PNG or baseline JPEG file (`quality` 1...100 for JPEG).
    public static func encode(_ image: RenderedImage, format: ImageOutputFormat, quality: Int = 90) throws -> Data {
        switch format {
        case .png: return try PNGWriter.encode(image)
        case .jpeg: return try JPEGImageWriter.encode(image, quality: quality)
        }
    }
}
