import DICOMCore
import Foundation

/// The Modality LUT stage (PS3.3 §C.11.1): Modality LUT Sequence, else Rescale Slope/Intercept, else identity.
struct ModalityTransform {
    enum Kind {
        case identity
        case rescale(slope: Double, intercept: Double)
        case lut(RenderLUT)
    }

    var kind: Kind

    init(dataSet: DataSet, description: FrameDescription, ignore: Bool) throws {
        if ignore {
            kind = .identity
        } else if let item = dataSet.items(.modalityLUTSequence)?.first {
            kind = .lut(try RenderLUT(item: item, signedInput: description.isSigned, name: "Modality"))
        } else if dataSet.contains(.rescaleSlope) || dataSet.contains(.rescaleIntercept) {
            let slope = dataSet.double(.rescaleSlope) ?? 1
            let intercept = dataSet.double(.rescaleIntercept) ?? 0
            guard slope.isFinite, intercept.isFinite, slope != 0 else {
                throw CodecError(.invalidImage, "Rescale Slope \(slope) / Rescale Intercept \(intercept) are not usable")
            }
            kind = .rescale(slope: slope, intercept: intercept)
        } else {
            kind = .identity
        }
    }

    @inline(__always) func apply(_ value: Int) -> Double {
        switch kind {
        case .identity: return Double(value)
        case .rescale(let slope, let intercept): return Double(value) * slope + intercept
        case .lut(let lut): return Double(lut.lookup(value))
        }
    }
}

/// The VOI LUT stage (PS3.3 §C.11.2) producing 8-bit output values.
struct VOITransform {
    enum Kind {
        case window(center: Double, width: Double, function: VOIFunction)
        case lut(RenderLUT)
    }

    var kind: Kind

    /// The window the options and the data set select; throws naming an unusable window or LUT.
    static func resolve(_ selection: VOISelection, dataSet: DataSet, description: FrameDescription,
                        stored: [Int], modality: ModalityTransform) throws -> VOITransform {
        let fileFunction = try dataSet.string(.voilutFunction).map { text -> VOIFunction in
            let name = text.trimmingCharacters(in: .whitespaces).uppercased()
            guard let function = VOIFunction(rawValue: name) else {
                throw CodecError(.unsupported, "VOI LUT Function '\(name)' is not LINEAR, LINEAR_EXACT or SIGMOID")
            }
            return function
        }
        switch selection {
        case .window(let center, let width, let function):
            return try window(center: center, width: width, function: function ?? fileFunction ?? .linear)
        case .file(let index):
            guard index >= 0 else { throw CodecError(.invalidImage, "VOI index \(index) must not be negative") }
            let centers = dataSet.doubles(.windowCenter) ?? [], widths = dataSet.doubles(.windowWidth) ?? []
            if !centers.isEmpty || !widths.isEmpty {
                guard index < min(centers.count, widths.count) else {
                    throw CodecError(.invalidImage, "the data set has \(min(centers.count, widths.count)) Window Center/Width pairs; index \(index + 1) asked for")
                }
                return try window(center: centers[index], width: widths[index], function: fileFunction ?? .linear)
            }
            if let items = dataSet.items(.voilutSequence), !items.isEmpty {
                guard index < items.count else {
                    throw CodecError(.invalidImage, "the VOI LUT Sequence has \(items.count) items; index \(index + 1) asked for")
                }
                let signed = description.isSigned || { if case .identity = modality.kind { return false }; return true }()
                return VOITransform(kind: .lut(try RenderLUT(item: items[index], signedInput: signed, name: "VOI")))
            }
            guard index == 0 else {
                throw CodecError(.invalidImage, "the data set has no Window Center/Width and no VOI LUT Sequence; VOI \(index + 1) asked for")
            }
            return try resolve(.minMax, dataSet: dataSet, description: description, stored: stored, modality: modality)
        case .minMax:
            guard let low = stored.min(), let high = stored.max() else {
                return VOITransform(kind: .window(center: 0, width: 1, function: .linear))
            }
            var minimum = Double.infinity, maximum = -Double.infinity
            if case .lut = modality.kind {
                for value in Set(stored) {
                    let y = modality.apply(value)
                    minimum = min(minimum, y); maximum = max(maximum, y)
                }
            } else {
                let a = modality.apply(low), b = modality.apply(high)
                minimum = min(a, b); maximum = max(a, b)
            }
            return minMaxWindow(minimum, maximum)
        case .histogram(let clip):
            guard clip >= 0, clip < 0.5 else {
                throw CodecError(.invalidImage, "histogram clip \(clip) must be in 0..<0.5")
            }
            guard !stored.isEmpty else { return VOITransform(kind: .window(center: 0, width: 1, function: .linear)) }
            let values = stored.map { modality.apply($0) }.sorted()
            let drop = Int((Double(values.count) * clip).rounded(.down))
            return minMaxWindow(values[drop], values[values.count - 1 - drop])
        }
    }

    /// A LINEAR window mapping `minimum` to 0 and `maximum` to 255 (width = max − min + 1).
    static func minMaxWindow(_ minimum: Double, _ maximum: Double) -> VOITransform {
        VOITransform(kind: .window(center: (minimum + maximum + 1) / 2, width: maximum - minimum + 1, function: .linear))
    }

    static func window(center: Double, width: Double, function: VOIFunction) throws -> VOITransform {
        guard center.isFinite, width.isFinite else {
            throw CodecError(.invalidImage, "Window Center \(center) / Width \(width) are not finite numbers")
        }
        // PS3.3 §C.11.2.1.2.1: Window Width ≥ 1 for LINEAR, > 0 for LINEAR_EXACT and SIGMOID.
        guard function == .linear ? width >= 1 : width > 0 else {
            throw CodecError(.invalidImage, "Window Width \(width) is too small for \(function.rawValue)")
        }
        return VOITransform(kind: .window(center: center, width: width, function: function))
    }

    /// The 8-bit output value for modality value `x` (ymin 0, ymax 255).
    @inline(__always) func apply(_ x: Double) -> UInt8 {
        let range = 255.0
        let y: Double
        switch kind {
        case .window(let c, let w, .linear):
            if x <= c - 0.5 - (w - 1) / 2 {
                y = 0
            } else if x > c - 0.5 + (w - 1) / 2 {
                y = range
            } else {
                y = ((x - (c - 0.5)) / (w - 1) + 0.5) * range
            }
        case .window(let c, let w, .linearExact):
            if x <= c - w / 2 {
                y = 0
            } else if x > c + w / 2 {
                y = range
            } else {
                y = ((x - c) / w + 0.5) * range
            }
        case .window(let c, let w, .sigmoid):
            y = range / (1 + exp(-4 * (x - c) / w))
        case .lut(let lut):
            let value = x.isFinite ? Int(max(-1e15, min(1e15, x)).rounded(.down)) : 0
            y = Double(lut.lookup(value)) * range / Double(lut.maximumOutput)
        }
        return UInt8(max(0, min(range, y.rounded())))
    }
}
