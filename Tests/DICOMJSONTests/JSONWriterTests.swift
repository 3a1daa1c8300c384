import Foundation
import Testing
@testable import DICOMJSON

@Suite struct JSONWriterTests {
    @Test func everyControlCharacterIsEscaped() throws {
        let all = String(decoding: (0..<0x20).map { UInt8($0) } + Array("\"\\/é".utf8), as: UTF8.self)
        var writer = JSONWriter(prettyPrinted: false)
        writer.string(all)
        let text = String(decoding: writer.bytes, as: UTF8.self)
        #expect(text == #""\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f\"\\/é""#)
        // Both Foundation and our parser read it back unchanged.
        let decoded = try JSONSerialization.jsonObject(with: Data(writer.bytes), options: .fragmentsAllowed) as? String
        #expect(decoded == all)
        guard case .array(let values) = try JSONParser.parse(Data(("[" + text + "]").utf8), maximumDepth: 2),
              case .string(let reparsed)? = values.first else { Issue.record("no string"); return }
        #expect(reparsed == all)
    }

    @Test func nestedContainersAndSeparators() {
        var writer = JSONWriter(prettyPrinted: false)
        writer.beginArray()
        writer.beginObject()
        writer.key("a"); writer.number(1)
        writer.key("b"); writer.beginArray(); writer.null(); writer.string("x"); writer.endArray()
        writer.key("c"); writer.beginObject(); writer.endObject()
        writer.endObject()
        writer.beginArray(); writer.endArray()
        writer.endArray()
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #"[{"a":1,"b":[null,"x"],"c":{}},[]]"#)
    }
}
