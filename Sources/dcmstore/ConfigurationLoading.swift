import Foundation
import Yams

/// Reading the `--config` file: JSON or YAML, into the same `StoreConfiguration`.
///
/// The format follows the file name (`.yaml`/`.yml` is YAML, `.json` is JSON); a file with any other name is
/// JSON when its first non-blank character is `{`, YAML otherwise. Both decode the same Codable struct, so a key
/// means the same in both:
///
/// ```yaml
/// aeTitle: DCMSTORE
/// port: 11112
/// archive: /var/lib/dcmstore
/// allowedCallingAETitles: [CT1, MR1]
/// peers:
///   VIEWER: { host: 10.0.0.5, port: 104 }
/// tls: { certificate: server.pem, key: server.key }
/// ```
extension StoreConfiguration {
    /// The syntax of a configuration file.
    enum FileFormat: String {
        case json = "JSON"
        case yaml = "YAML"

        /// The format of the file at `path` with these contents.
        static func of(path: String, contents: Data) -> FileFormat {
            switch URL(fileURLWithPath: path).pathExtension.lowercased() {
            case "yaml", "yml": return .yaml
            case "json": return .json
            default:
                let first = contents.first { !(" \t\r\n" as String).utf8.contains($0) }
                // A UTF-8 byte order mark before `{` still reads as JSON.
                if first == UInt8(ascii: "{") { return .json }
                if contents.starts(with: [0xEF, 0xBB, 0xBF]),
                   contents.dropFirst(3).first(where: { !(" \t\r\n" as String).utf8.contains($0) }) == UInt8(ascii: "{") {
                    return .json
                }
                return .yaml
            }
        }
    }

    /// Reads a configuration file, JSON or YAML; the error names the file, and for YAML the line and the key.
    static func load(_ path: String) throws -> StoreConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read configuration file \(path)")
        }
        switch FileFormat.of(path: path, contents: data) {
        case .json: return try decodeJSON(data, path: path)
        case .yaml: return try decodeYAML(data, path: path)
        }
    }

    /// Decodes JSON text; `path` names the file in errors.
    static func decodeJSON(_ data: Data, path: String) throws -> StoreConfiguration {
        do {
            return try JSONDecoder().decode(StoreConfiguration.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            throw ConfigurationError("\(path): not valid JSON: \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw ConfigurationError("\(path): \"\(keyPath(context.codingPath))\": \(context.debugDescription)")
        } catch let DecodingError.keyNotFound(key, context) {
            throw ConfigurationError("\(path): \"\(keyPath(context.codingPath))\" lacks the key \"\(key.stringValue)\"")
        }
    }

    /// Decodes YAML text; `path` names the file in errors, which give the line of the offending key or value.
    static func decodeYAML(_ data: Data, path: String) throws -> StoreConfiguration {
        var bytes = data
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw ConfigurationError("\(path): not valid YAML: the file is not UTF-8 text")
        }
        // Syntax first, so that a syntax error gives libyaml's line and column.
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigurationError("\(path): not valid YAML: \(syntaxMessage(error))")
        }
        // An empty file (or one with comments only) configures nothing.
        guard let root else { return try decodeJSON(Data("{}".utf8), path: path) }
        guard root.mapping != nil else {
            throw ConfigurationError("\(path): line \(root.mark?.line ?? 1): the file must be a mapping of keys "
                + "(aeTitle: …, port: …), not a \(root.scalar != nil ? "single value" : "list")")
        }
        do {
            return try YAMLDecoder().decode(StoreConfiguration.self, from: text)
        } catch let DecodingError.typeMismatch(type, context) {
            let line = lineText(root, context.codingPath)
            throw ConfigurationError("\(path): \(line)\"\(keyPath(context.codingPath))\": expected \(typeName(type))"
                + describeValue(root, context.codingPath))
        } catch let DecodingError.valueNotFound(type, context) {
            let line = lineText(root, context.codingPath)
            throw ConfigurationError("\(path): \(line)\"\(keyPath(context.codingPath))\": expected \(typeName(type)), found no value")
        } catch let DecodingError.keyNotFound(key, context) {
            let line = lineText(root, context.codingPath)
            let parent = context.codingPath.isEmpty ? "the file" : "\"\(keyPath(context.codingPath))\""
            throw ConfigurationError("\(path): \(line)\(parent) lacks the key \"\(key.stringValue)\"")
        } catch let DecodingError.dataCorrupted(context) {
            let line = lineText(root, context.codingPath)
            let key = context.codingPath.isEmpty ? "" : "\"\(keyPath(context.codingPath))\": "
            throw ConfigurationError("\(path): \(line)\(key)\(context.debugDescription)")
        } catch let error as YamlError {
            throw ConfigurationError("\(path): not valid YAML: \(syntaxMessage(error))")
        }
    }

    /// `forward.destinations.CENTRAL.port`, `allowedCallingAETitles[2]`.
    private static func keyPath(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue, key.stringValue.hasPrefix("Index") || key.stringValue == "\(index)" {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text
    }

    /// The node a coding path leads to, or the deepest one that exists on the way.
    private static func node(_ root: Node, _ codingPath: [any CodingKey]) -> Node {
        var current = root
        for key in codingPath {
            if let mapping = current.mapping, let next = mapping[key.stringValue] {
                current = next
            } else if let sequence = current.sequence, let index = key.intValue, index >= 0, index < sequence.count {
                current = sequence[index]
            } else {
                break
            }
        }
        return current
    }

    /// "line 12: ", or nothing when the position is unknown.
    private static func lineText(_ root: Node, _ codingPath: [any CodingKey]) -> String {
        guard let mark = node(root, codingPath).mark else { return "" }
        return "line \(mark.line): "
    }

    private static func describeValue(_ root: Node, _ codingPath: [any CodingKey]) -> String {
        let found = node(root, codingPath)
        if let scalar = found.scalar { return ", found \"\(scalar.string)\"" }
        if found.mapping != nil { return ", found a mapping" }
        if found.sequence != nil { return ", found a list" }
        return ""
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "text"
        case is Int.Type: return "a whole number"
        case is Bool.Type: return "true or false"
        case is Double.Type: return "a number"
        case is Node.Sequence.Type: return "a list"
        case is Node.Mapping.Type: return "a mapping"
        case is Node.Scalar.Type: return "a single value"
        default:
            return "\(type)".hasPrefix("Array") ? "a list" : "a mapping"
        }
    }

    /// libyaml's problem with its line and column, without the snippet Yams appends.
    private static func syntaxMessage(_ error: YamlError) -> String {
        switch error {
        case let .scanner(context, problem, mark, yaml), let .parser(context, problem, mark, yaml),
             let .composer(context, problem, mark, yaml):
            let around = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
            let tab = mark.line >= 1 && mark.line <= lines.count && lines[mark.line - 1].contains("\t")
                ? "; YAML does not allow tabs for indentation" : ""
            return "line \(mark.line), column \(mark.column): \(problem)\(around)\(tab)"
        default:
            return "\(error)"
        }
    }
}
