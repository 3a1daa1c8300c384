import Foundation

/// Writes a line to standard error.
public func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Whether standard error is a terminal (progress is shown only there).
public var standardErrorIsTerminal: Bool { isatty(2) == 1 }
