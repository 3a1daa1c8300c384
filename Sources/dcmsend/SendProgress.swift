import DICOMServices
import Foundation

/// The progress line `dcmsend` keeps on a terminal's standard error: files and bytes done of the total, the rate
/// and the time left, redrawn in place at most five times a second.
final class SendProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let sizes: [String: Int64]
    private let totalFiles: Int
    private let totalBytes: Int64
    private let started = ContinuousClock.now
    private var doneFiles = 0
    private var doneBytes: Int64 = 0
    private var failed = 0
    private var lastDrawn: ContinuousClock.Instant?

    init(paths: [String]) {
        var sizes: [String: Int64] = [:]
        for path in paths {
            sizes[path] = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.int64Value ?? 0
        }
        self.sizes = sizes
        totalFiles = paths.count
        totalBytes = sizes.values.reduce(0, +)
    }

    /// Counts a finished file and redraws the line when the last drawing is old enough.
    func completed(_ result: SendResult) {
        lock.withLock {
            doneFiles += 1
            doneBytes += sizes[result.path] ?? 0
            if !result.ok && !result.skipped { failed += 1 }
            let now = ContinuousClock.now
            if let lastDrawn, now - lastDrawn < .milliseconds(200), doneFiles < totalFiles { return }
            lastDrawn = now
            write("\r\u{1B}[K" + line(now: now))
        }
    }

    /// Erases the progress line so that a message can be printed in its place.
    func clearLine() {
        lock.withLock { if lastDrawn != nil { write("\r\u{1B}[K") } }
    }

    /// Leaves the final state on its own line.
    func finish() {
        lock.withLock { write("\r\u{1B}[K" + line(now: .now) + "\n") }
    }

    private func line(now: ContinuousClock.Instant) -> String {
        let elapsed = max(0.001, Self.seconds(now - started))
        let rate = Double(doneBytes) / elapsed
        var text = "\(doneFiles)/\(totalFiles) files, \(Self.bytes(Double(doneBytes)))/\(Self.bytes(Double(totalBytes))), "
            + "\(Self.bytes(rate))/s"
        if failed > 0 { text += ", \(failed) failed" }
        if doneFiles < totalFiles, rate > 0 {
            text += ", \(Self.duration(Double(totalBytes - doneBytes) / rate)) left"
        } else if doneFiles == totalFiles {
            text += " in \(Self.duration(elapsed))"
        }
        return text
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func bytes(_ count: Double) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = count
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(Int(value)) B" : String(format: "%.1f ", value) + units[unit]
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600 ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
            : String(format: "%d:%02d", total / 60, total % 60)
    }
}
