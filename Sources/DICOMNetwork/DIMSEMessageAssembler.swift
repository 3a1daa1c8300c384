import DICOMCore
import Foundation
import Logging
import NIOCore

/// Turns the presentation data values of received P-DATA-TF PDUs into DIMSE messages (PS3.7 §9.3.1, PS3.8 Annex E):
/// first the decoded command, then the data set as a stream of fragments, never accumulated, so a data set of
/// any size can be written to disk as it arrives.
///
/// Enforces the message rules: every PDV names an accepted presentation context; a command set is complete
/// before its data set starts; a data set only follows a command that announces one; all fragments of a message
/// use one presentation context; a command set is at most ``maximumCommandLength`` bytes.
/// A violation is a ``DICOMNetworkError`` `protocolError` (the glue then sends an A-ABORT).
public struct DIMSEMessageAssembler: Sendable {
    /// What a received PDV produced.
    public enum Event: Sendable, Hashable {
        /// A command set is complete. When `command.hasDataSet`, ``dataSetFragment(_:presentationContextID:isLast:)``
        /// events follow until one with `isLast`.
        case command(DIMSECommand, presentationContextID: UInt8)
        /// Bytes of the data set, in order, encoded in the context's transfer syntax.
        case dataSetFragment(ByteBuffer, presentationContextID: UInt8, isLast: Bool)
    }

    enum State: Sendable {
        case idle
        case command(contextID: UInt8, bytes: ByteBuffer)
        case dataSet(contextID: UInt8, command: DIMSECommand)
    }

    public let acceptedContextIDs: Set<UInt8>
    /// The largest command set accepted, in bytes (default 64 KiB; real command sets are under 1 KiB).
    public let maximumCommandLength: Int
    var state: State = .idle
    let logger: Logger?

    public init(acceptedContextIDs: Set<UInt8>, maximumCommandLength: Int = 64 * 1024, logger: Logger? = nil) {
        self.acceptedContextIDs = acceptedContextIDs
        self.maximumCommandLength = maximumCommandLength
        self.logger = logger
    }

    /// An assembler for the accepted contexts of an association.
    public init(association: NegotiatedAssociation, maximumCommandLength: Int = 64 * 1024, logger: Logger? = nil) {
        self.init(acceptedContextIDs: Set(association.acceptedContexts.keys), maximumCommandLength: maximumCommandLength, logger: logger)
    }

    /// Whether the assembler is between messages (no command or data set partly received).
    public var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    /// The command whose data set is being received, if any.
    public var commandAwaitingDataSet: DIMSECommand? {
        if case .dataSet(_, let command) = state { return command }
        return nil
    }

    /// Feeds one PDV; returns the event it completes, if any (nil for a command fragment that is not the last).
    public mutating func receive(_ value: PresentationDataValue) throws -> Event? {
        let id = value.presentationContextID
        guard acceptedContextIDs.contains(id) else {
            throw DICOMNetworkError(.protocolError, "PDV for presentation context \(id), which was not accepted", pduType: PDUType.dataTransfer.rawValue)
        }
        switch state {
        case .idle:
            guard value.isCommand else {
                throw DICOMNetworkError(.protocolError, "data set fragment on context \(id) before any command set", pduType: PDUType.dataTransfer.rawValue)
            }
            return try appendCommand(value, to: ByteBuffer(), contextID: id)
        case .command(let contextID, let bytes):
            guard id == contextID else {
                throw DICOMNetworkError(.protocolError, "PDV for context \(id) while the command set on context \(contextID) is incomplete",
                                        pduType: PDUType.dataTransfer.rawValue)
            }
            guard value.isCommand else {
                throw DICOMNetworkError(.protocolError, "data set fragment before the last fragment of the command set", pduType: PDUType.dataTransfer.rawValue)
            }
            state = .idle
            return try appendCommand(value, to: bytes, contextID: id)
        case .dataSet(let contextID, let command):
            guard !value.isCommand else {
                throw DICOMNetworkError(.protocolError, "command fragment while the data set of \(command.commandField) is incomplete (after its command's last fragment)",
                                        pduType: PDUType.dataTransfer.rawValue)
            }
            guard id == contextID else {
                throw DICOMNetworkError(.protocolError, "data set fragment for context \(id) while the data set on context \(contextID) is incomplete",
                                        pduType: PDUType.dataTransfer.rawValue)
            }
            if value.isLastFragment { state = .idle }
            return .dataSetFragment(value.fragment, presentationContextID: id, isLast: value.isLastFragment)
        }
    }

    /// Feeds all PDVs of a P-DATA-TF PDU.
    public mutating func receive(_ values: [PresentationDataValue]) throws -> [Event] {
        var events: [Event] = []
        for value in values {
            if let event = try receive(value) { events.append(event) }
        }
        return events
    }

    private mutating func appendCommand(_ value: PresentationDataValue, to bytes: ByteBuffer, contextID: UInt8) throws -> Event? {
        var bytes = bytes
        guard bytes.readableBytes + value.fragment.readableBytes <= maximumCommandLength else {
            throw DICOMNetworkError(.limitExceeded, "command set exceeds \(maximumCommandLength) bytes", pduType: PDUType.dataTransfer.rawValue)
        }
        var fragment = value.fragment
        bytes.writeBuffer(&fragment)
        guard value.isLastFragment else {
            state = .command(contextID: contextID, bytes: bytes)
            return nil
        }
        let command = try DIMSECommand(commandSet: CommandSet.decode(bytes))
        logger?.debug("received DIMSE command", metadata: [
            "dicom.command": "\(command.commandField)", "dicom.context.id": "\(contextID)", "dicom.hasDataSet": "\(command.hasDataSet)",
        ])
        state = command.hasDataSet ? .dataSet(contextID: contextID, command: command) : .idle
        return .command(command, presentationContextID: contextID)
    }
}

/// A whole DIMSE message with its data set held in memory: for C-ECHO, C-FIND identifiers, responses and
/// other small messages. Use ``DIMSEMessageAssembler`` directly to stream large data sets.
public struct AssembledMessage: Sendable, Hashable {
    public var command: DIMSECommand
    public var presentationContextID: UInt8
    /// The data set bytes in the context's transfer syntax, or nil when the command has none.
    public var dataSet: ByteBuffer?

    /// The data set bytes as `Data`.
    public var dataSetData: Data? { dataSet.map { Data($0.readableBytesView) } }
}

/// Accumulates whole messages (command and data set) from PDVs, up to a size limit.
public struct DIMSEMessageAccumulator: Sendable {
    public private(set) var assembler: DIMSEMessageAssembler
    /// The largest data set held, in bytes.
    public let maximumDataSetLength: Int
    var pending: (command: DIMSECommand, contextID: UInt8, data: ByteBuffer)?

    public init(assembler: DIMSEMessageAssembler, maximumDataSetLength: Int = 64 * 1024 * 1024) {
        self.assembler = assembler
        self.maximumDataSetLength = maximumDataSetLength
    }

    /// Feeds PDVs; returns the messages they complete.
    public mutating func receive(_ values: [PresentationDataValue]) throws -> [AssembledMessage] {
        var messages: [AssembledMessage] = []
        for value in values {
            switch try assembler.receive(value) {
            case nil:
                break
            case .command(let command, let id)?:
                if command.hasDataSet {
                    pending = (command, id, ByteBuffer())
                } else {
                    messages.append(AssembledMessage(command: command, presentationContextID: id, dataSet: nil))
                }
            case .dataSetFragment(var fragment, _, let isLast)?:
                guard var current = pending else { continue }
                guard current.data.readableBytes + fragment.readableBytes <= maximumDataSetLength else {
                    throw DICOMNetworkError(.limitExceeded, "data set of \(current.command.commandField) exceeds \(maximumDataSetLength) bytes")
                }
                pending = nil
                current.data.writeBuffer(&fragment)
                if isLast {
                    messages.append(AssembledMessage(command: current.command, presentationContextID: current.contextID, dataSet: current.data))
                } else {
                    pending = current
                }
            }
        }
        return messages
    }
}
