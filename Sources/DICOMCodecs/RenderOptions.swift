import Foundation

/// The VOI LUT Function (0028,1056) applied with a window (PS3.3 §C.11.2.1.2–§C.11.2.1.3).
public enum VOIFunction: String, Sendable, Equatable, CaseIterable {
    /// §C.11.2.1.2.1: the window maps [c − 0.5 − (w − 1)/2, c − 0.5 + (w − 1)/2] linearly to the output range.
    case linear = "LINEAR"
    /// §C.11.3.2: the window maps [c − w/2, c + w/2] exactly to the output range.
    case linearExact = "LINEAR_EXACT"
    /// §C.11.2.1.3.1: y = range / (1 + exp(−4 (x − c) / w)).
    case sigmoid = "SIGMOID"
}

/// How rendering chooses the values of interest (VOI) of a grayscale frame.
public enum VOISelection: Sendable, Equatable {
    /// The data set's Window Center/Width pair at `index` (0-based), else its VOI LUT Sequence item at `index`,
    /// else ``minMax``. The data set's VOI LUT Function applies to the window.
    case file(index: Int)
    /// An explicit window; `function` nil means the data set's VOI LUT Function (LINEAR when absent).
    case window(center: Double, width: Double, function: VOIFunction? = nil)
    /// A LINEAR window spanning the smallest to the largest modality value of the frame.
    case minMax
    /// A LINEAR window spanning the frame's histogram without the darkest and brightest `clip` fraction
    /// of pixels (e.g. 0.01 ignores 1 % at each end).
    case histogram(clip: Double)
}

/// Options for ``FrameRenderer``.
public struct RenderOptions: Sendable, Equatable {
    /// How a grayscale frame is windowed; the file's first window by default.
    public var voi: VOISelection
    /// Ignore the Modality LUT (Rescale Slope/Intercept or Modality LUT Sequence).
    public var ignoreModalityLUT: Bool

    public init(voi: VOISelection = .file(index: 0), ignoreModalityLUT: Bool = false) {
        self.voi = voi
        self.ignoreModalityLUT = ignoreModalityLUT
    }
}

/// An 8-bit image ready for display or for writing as PNG or JPEG.
public struct RenderedImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 1 for grayscale, 3 for RGB.
    public var samplesPerPixel: Int
    /// Row-major samples, colour-by-pixel (R G B R G B …) for RGB.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, samplesPerPixel: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.samplesPerPixel = samplesPerPixel
        self.pixels = pixels
    }
}
