import Foundation

/// Expands the paths given on a command line into files: files as they are, directories by their
/// regular files (all levels with `recursive`), in a stable order.
public enum InputFiles {
    public static func expand(_ paths: [String], recursive: Bool) -> (files: [String], missing: [String]) {
        var files: [String] = []
        var missing: [String] = []
        let manager = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                missing.append(path)
                continue
            }
            if !isDirectory.boolValue {
                files.append(path)
                continue
            }
            var found: [String] = []
            if recursive {
                if let enumerator = manager.enumerator(atPath: path) {
                    for case let relative as String in enumerator {
                        let full = (path as NSString).appendingPathComponent(relative)
                        var dir: ObjCBool = false
                        if manager.fileExists(atPath: full, isDirectory: &dir), !dir.boolValue { found.append(full) }
                    }
                }
            } else if let names = try? manager.contentsOfDirectory(atPath: path) {
                for name in names {
                    let full = (path as NSString).appendingPathComponent(name)
                    var dir: ObjCBool = false
                    if manager.fileExists(atPath: full, isDirectory: &dir), !dir.boolValue { found.append(full) }
                }
            }
            files.append(contentsOf: found.sorted())
        }
        return (files, missing)
    }
}
