import ArgumentParser
import DICOMCodecs
import DICOMCore
import DICOMIO
import DICOMToolSupport
import Foundation

@main
struct DCMRender: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dcmrender",
        abstract: "Render one frame of a DICOM image to PNG or JPEG.",
        discussion: """
            Grayscale frames pass through the Modality LUT (Rescale Slope/Intercept or Modality LUT Sequence), then the \
            file's first Window Center/Width (or --voi-index, --window, --auto-window; min-max when the file has none), \
            with MONOCHROME1 inverted. Colour frames (RGB, YBR_FULL, PALETTE COLOR) are written as RGB. \
            Compressed frames are decoded with the built-in codecs.
            Exit codes: 0 the image was written; 1 the input could not be read, decoded or rendered, or the output \
            not written (the reason goes to stderr); 64 bad usage.
            """)

    @Argument(help: "The DICOM file.")
    var input: String

    @Argument(help: "The image to write (.png, .jpg or .jpeg).")
    var output: String

    @Option(help: "The frame to render, 1-based.")
    var frame = 1

    @Option(help: "Window center and width, e.g. 40,400.")
    var window: String?

    @Option(name: .customLong("voi-index"), help: "Use the file's Nth Window Center/Width pair or VOI LUT (1-based).")
    var voiIndex: Int?

    @Option(name: .customLong("voi-function"), help: "VOI LUT Function for the window: LINEAR, LINEAR_EXACT or SIGMOID.")
    var voiFunction: String?

    @Option(name: .customLong("auto-window"), help: "Compute the window from the frame: minmax, or histogram (ignores 1% at each end).")
    var autoWindow: String?

    @Option(help: "Output format: png or jpeg (default: from the output file's extension).")
    var format: String?

    @Option(help: "JPEG quality, 1-100.")
    var quality = 90

    func validate() throws {
        guard frame >= 1 else { throw ValidationError("--frame must be 1 or more") }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be 1...100") }
        if let voiIndex, voiIndex < 1 { throw ValidationError("--voi-index must be 1 or more") }
        let choices = [window != nil, voiIndex != nil, autoWindow != nil].filter { $0 }.count
        guard choices <= 1 else { throw ValidationError("use only one of --window, --voi-index and --auto-window") }
        _ = try parsedWindow()
        _ = try outputFormat()
        if let voiFunction, VOIFunction(rawValue: voiFunction.uppercased()) == nil {
            throw ValidationError("--voi-function must be LINEAR, LINEAR_EXACT or SIGMOID")
        }
        if let autoWindow, !["minmax", "histogram"].contains(autoWindow.lowercased()) {
            throw ValidationError("--auto-window must be minmax or histogram")
        }
    }

    func parsedWindow() throws -> (Double, Double)? {
        guard let window else { return nil }
        let parts = window.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let center = parts[0], let width = parts[1], center.isFinite, width.isFinite, width > 0 else {
            throw ValidationError("--window must be CENTER,WIDTH with a positive width, e.g. 40,400")
        }
        return (center, width)
    }

    func outputFormat() throws -> ImageOutputFormat {
        if let format {
            guard let parsed = ImageOutputFormat(name: format) else { throw ValidationError("--format must be png or jpeg") }
            return parsed
        }
        guard let parsed = ImageOutputFormat(name: URL(fileURLWithPath: output).pathExtension) else {
            throw ValidationError("cannot tell the format from '\(output)': use a .png or .jpg name, or --format")
        }
        return parsed
    }

    func run() throws {
        var options = RenderOptions()
        let function = voiFunction.flatMap { VOIFunction(rawValue: $0.uppercased()) }
        if let (center, width) = try parsedWindow() {
            options.voi = .window(center: center, width: width, function: function)
        } else if let voiIndex {
            options.voi = .file(index: voiIndex - 1)
        } else if let autoWindow {
            options.voi = autoWindow.lowercased() == "minmax" ? .minMax : .histogram(clip: 0.01)
        }
        do {
            let file = try DICOMFile(contentsOf: input)
            let frames = try ImageFrames(dataSet: file.dataSet, transferSyntax: file.transferSyntax)
            guard frame <= frames.count else {
                throw CodecError(.invalidImage, "frame \(frame) asked for; the image has \(frames.count)")
            }
            let decoded = try frames.decodedFrame(at: frame - 1)
            let attributes = FrameRenderer.attributes(of: file.dataSet, frame: frame - 1)
            if let function, case .file = options.voi {
                // A function given alone applies to the file's window.
                var withFunction = attributes
                withFunction.setASCII(.voilutFunction, vr: .CS, function.rawValue)
                let image = try FrameRenderer.render(decoded, description: frames.description, dataSet: withFunction, options: options)
                try write(image)
                return
            }
            let image = try FrameRenderer.render(decoded, description: frames.description, dataSet: attributes, options: options)
            try write(image)
        } catch let error as DICOMError {
            printError("dcmrender: \(error.file == nil ? input + ": " : "")\(error)")
            throw ExitCode(1)
        } catch let error as CodecError {
            printError("dcmrender: \(input): \(error)")
            throw ExitCode(1)
        }
    }

    func write(_ image: RenderedImage) throws {
        let bytes = try ImageOutput.encode(image, format: outputFormat(), quality: quality)
        do {
            try bytes.write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            printError("dcmrender: \(output): cannot write: \(error.localizedDescription)")
            throw ExitCode(1)
        }
    }
}
