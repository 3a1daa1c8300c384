import NIOCore
@testable import DICOMNetwork

/// ASCII bytes of a string literal, for hand-written byte vectors.
func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

/// `count` zero bytes (reserved fields).
func zeros(_ count: Int) -> [UInt8] { [UInt8](repeating: 0, count: count) }

func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

func bytes(of pdu: PDU) throws -> [UInt8] {
    Array(try pdu.encoded().readableBytesView)
}

func decode(_ bytes: [UInt8]) throws -> PDU {
    var b = buffer(bytes)
    let pdu = try PDU.decode(from: &b)
    precondition(b.readableBytes == 0)
    return pdu
}

/// The error a throwing expression throws, as a `DICOMNetworkError`, or nil.
func networkError(_ body: () throws -> Void) -> DICOMNetworkError? {
    do {
        try body()
        return nil
    } catch let error as DICOMNetworkError {
        return error
    } catch {
        return nil
    }
}
