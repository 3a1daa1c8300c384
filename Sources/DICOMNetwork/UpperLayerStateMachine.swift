/// The DICOM upper-layer protocol state machine (PS3.8 §9.2), transcribed from Table 9-10.
///
/// A pure value: feed it an ``Event`` with ``handle(_:)`` and perform the returned ``Action``'s
/// ``Action/effects`` in order (send a PDU, issue a primitive to the application, start or stop the ARTIM
/// timer, close the transport). It performs no I/O, so every (state, event) pair is testable.
///
/// Where AE-6 lets the service-provider reject an unacceptable A-ASSOCIATE-RQ itself, this machine always
/// moves to Sta3; the glue then rejects through Evt8 (AE-8), which sends the same A-ASSOCIATE-RJ and starts
/// the same ARTIM timer.
public struct UpperLayerStateMachine: Sendable, Equatable {
    /// Machine states (PS3.8 Tables 9-1 to 9-5).
    public enum State: Int, Sendable, CaseIterable, CustomStringConvertible {
        /// Idle.
        case sta1 = 1
        /// Transport connection open (awaiting A-ASSOCIATE-RQ PDU).
        case sta2
        /// Awaiting local A-ASSOCIATE response primitive (from local user).
        case sta3
        /// Awaiting transport connection opening to complete (from local transport service).
        case sta4
        /// Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU.
        case sta5
        /// Association established and ready for data transfer.
        case sta6
        /// Awaiting A-RELEASE-RP PDU.
        case sta7
        /// Awaiting local A-RELEASE response primitive (from local user).
        case sta8
        /// Release collision requestor side; awaiting A-RELEASE response (from local user).
        case sta9
        /// Release collision acceptor side; awaiting A-RELEASE-RP PDU.
        case sta10
        /// Release collision requestor side; awaiting A-RELEASE-RP PDU.
        case sta11
        /// Release collision acceptor side; awaiting A-RELEASE response primitive (from local user).
        case sta12
        /// Awaiting transport connection close indication (association no longer exists).
        case sta13

        public var description: String { "Sta\(rawValue)" }

        /// Where the association stands in this state, in words for error messages and logs
        /// ("awaiting A-ASSOCIATE-AC", "association established").
        public var summary: String {
            switch self {
            case .sta1: "idle"
            case .sta2: "awaiting A-ASSOCIATE-RQ"
            case .sta3: "awaiting the local answer to A-ASSOCIATE-RQ"
            case .sta4: "awaiting the transport connection"
            case .sta5: "awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ"
            case .sta6: "association established"
            case .sta7: "awaiting A-RELEASE-RP"
            case .sta8: "awaiting the local answer to A-RELEASE-RQ"
            case .sta9: "release collision, awaiting the local A-RELEASE response (requestor)"
            case .sta10: "release collision, awaiting A-RELEASE-RP (acceptor)"
            case .sta11: "release collision, awaiting A-RELEASE-RP (requestor)"
            case .sta12: "release collision, awaiting the local A-RELEASE response (acceptor)"
            case .sta13: "awaiting the transport connection to close"
            }
        }
    }

    /// Events (PS3.8 Table 9-10, Evt1–Evt19).
    public enum Event: Int, Sendable, CaseIterable, CustomStringConvertible {
        /// Evt1: A-ASSOCIATE request (local user).
        case associateRequestPrimitive = 1
        /// Evt2: Transport connect confirmation (local transport service).
        case transportConnectConfirmed
        /// Evt3: A-ASSOCIATE-AC PDU received on transport connection.
        case associateAcceptReceived
        /// Evt4: A-ASSOCIATE-RJ PDU received on transport connection.
        case associateRejectReceived
        /// Evt5: Transport connection indication (local transport service).
        case transportConnectionIndication
        /// Evt6: A-ASSOCIATE-RQ PDU received on transport connection.
        case associateRequestReceived
        /// Evt7: A-ASSOCIATE response primitive (accept).
        case associateAcceptPrimitive
        /// Evt8: A-ASSOCIATE response primitive (reject).
        case associateRejectPrimitive
        /// Evt9: P-DATA request primitive.
        case dataRequestPrimitive
        /// Evt10: P-DATA-TF PDU received.
        case dataTransferReceived
        /// Evt11: A-RELEASE request primitive.
        case releaseRequestPrimitive
        /// Evt12: A-RELEASE-RQ PDU received.
        case releaseRequestReceived
        /// Evt13: A-RELEASE-RP PDU received.
        case releaseResponseReceived
        /// Evt14: A-RELEASE response primitive.
        case releaseResponsePrimitive
        /// Evt15: A-ABORT request primitive.
        case abortRequestPrimitive
        /// Evt16: A-ABORT PDU received.
        case abortReceived
        /// Evt17: Transport connection closed indication (local transport service).
        case transportClosed
        /// Evt18: ARTIM timer expired (association reject/release timer).
        case artimTimerExpired
        /// Evt19: Unrecognized or invalid PDU received.
        case invalidPDUReceived

        public var description: String { "Evt\(rawValue)" }
    }

    /// One step the glue code performs for an action, in order.
    public enum Effect: Hashable, Sendable {
        /// Issue TRANSPORT CONNECT request to the transport service (AE-1).
        case connectTransport
        /// Accept the incoming transport connection (AE-5).
        case acceptTransportConnection
        case startARTIMTimer
        /// Stop the ARTIM timer if it is running.
        case stopARTIMTimer
        case sendAssociateRequest
        case sendAssociateAccept
        case sendAssociateReject
        case sendData
        case sendReleaseRequest
        case sendReleaseResponse
        /// Send an A-ABORT PDU with this source.
        case sendAbort(AssociationAbort.Source)
        /// A-ASSOCIATE indication to the local user (an A-ASSOCIATE-RQ arrived) (AE-6).
        case indicateAssociateRequest
        /// A-ASSOCIATE confirmation (accept) (AE-3).
        case confirmAssociateAccept
        /// A-ASSOCIATE confirmation (reject) (AE-4).
        case confirmAssociateReject
        /// P-DATA indication: hand received data to the local user (DT-2, AR-6).
        case indicateData
        /// A-RELEASE indication (AR-2, AR-8).
        case indicateReleaseRequest
        /// A-RELEASE confirmation (AR-3, AR-10).
        case confirmRelease
        /// A-ABORT indication when the received A-ABORT has source service-user, A-P-ABORT otherwise (AA-3).
        case indicateAbort
        /// A-P-ABORT indication: the provider aborted the association (AA-4, AA-8).
        case indicateProviderAbort
        case closeTransport
    }

    /// The actions of PS3.8 §9.2.2 (Tables 9-6 to 9-9), plus ``invalid`` for the blank cells of Table 9-10.
    public enum ActionName: String, Sendable, CaseIterable, CustomStringConvertible {
        case ae1 = "AE-1", ae2 = "AE-2", ae3 = "AE-3", ae4 = "AE-4", ae5 = "AE-5", ae6 = "AE-6", ae7 = "AE-7", ae8 = "AE-8"
        case dt1 = "DT-1", dt2 = "DT-2"
        case ar1 = "AR-1", ar2 = "AR-2", ar3 = "AR-3", ar4 = "AR-4", ar5 = "AR-5"
        case ar6 = "AR-6", ar7 = "AR-7", ar8 = "AR-8", ar9 = "AR-9", ar10 = "AR-10"
        case aa1 = "AA-1", aa2 = "AA-2", aa3 = "AA-3", aa4 = "AA-4", aa5 = "AA-5", aa6 = "AA-6", aa7 = "AA-7", aa8 = "AA-8"
        /// The event is not possible in this state (a blank cell): a local-user error; the state does not change.
        case invalid = "invalid"

        public var description: String { rawValue }
    }

    /// What to do in response to an event.
    public struct Action: Hashable, Sendable, CustomStringConvertible {
        public let name: ActionName
        /// The state before the event.
        public let previousState: State
        /// The state after the event (the machine's ``UpperLayerStateMachine/state`` now).
        public let nextState: State
        /// The steps to perform, in order. Empty for ``ActionName/invalid`` and AA-6 (ignore the PDU).
        public let effects: [Effect]

        public var isInvalid: Bool { name == .invalid }
        public var description: String { "\(name): \(previousState) → \(nextState) \(effects)" }
    }

    /// Which side of the association this machine plays; AR-8 depends on it.
    public enum Role: Sendable, Equatable { case requestor, acceptor }

    public private(set) var state: State
    /// Set by AE-1 (requestor) and AE-5 (acceptor).
    public private(set) var role: Role?

    /// A machine in Sta1 (idle).
    public init() {
        state = .sta1
        role = nil
    }

    /// A machine in a given state, for tests and for glue that starts mid-way.
    public init(state: State, role: Role?) {
        self.state = state
        self.role = role
    }

    /// Whether the association is established (Sta6) and data may be sent.
    public var isEstablished: Bool { state == .sta6 }

    /// Applies an event: looks up Table 9-10, moves to the next state and returns the action to perform.
    public mutating func handle(_ event: Event) -> Action {
        let previous = state
        let name = Self.transition(state: state, event: event)
        let (next, effects) = outcome(of: name)
        switch name {
        case .ae1: role = .requestor
        case .ae5: role = .acceptor
        default: break
        }
        state = next
        return Action(name: name, previousState: previous, nextState: next, effects: effects)
    }

    /// The action Table 9-10 names for an event in a state, or ``ActionName/invalid`` for a blank cell.
    public static func transition(state: State, event: Event) -> ActionName {
        // Columns Sta1 … Sta13 of each event's row of PS3.8 Table 9-10.
        switch (event, state) {
        case (.associateRequestPrimitive, .sta1): return .ae1
        case (.transportConnectConfirmed, .sta4): return .ae2
        case (.associateAcceptReceived, .sta2): return .aa1
        case (.associateAcceptReceived, .sta5): return .ae3
        case (.associateAcceptReceived, .sta13): return .aa6
        case (.associateAcceptReceived, .sta3), (.associateAcceptReceived, .sta6), (.associateAcceptReceived, .sta7),
             (.associateAcceptReceived, .sta8), (.associateAcceptReceived, .sta9), (.associateAcceptReceived, .sta10),
             (.associateAcceptReceived, .sta11), (.associateAcceptReceived, .sta12): return .aa8
        case (.associateRejectReceived, .sta2): return .aa1
        case (.associateRejectReceived, .sta5): return .ae4
        case (.associateRejectReceived, .sta13): return .aa6
        case (.associateRejectReceived, .sta3), (.associateRejectReceived, .sta6), (.associateRejectReceived, .sta7),
             (.associateRejectReceived, .sta8), (.associateRejectReceived, .sta9), (.associateRejectReceived, .sta10),
             (.associateRejectReceived, .sta11), (.associateRejectReceived, .sta12): return .aa8
        case (.transportConnectionIndication, .sta1): return .ae5
        case (.associateRequestReceived, .sta2): return .ae6
        case (.associateRequestReceived, .sta13): return .aa7
        case (.associateRequestReceived, .sta3), (.associateRequestReceived, .sta5), (.associateRequestReceived, .sta6),
             (.associateRequestReceived, .sta7), (.associateRequestReceived, .sta8), (.associateRequestReceived, .sta9),
             (.associateRequestReceived, .sta10), (.associateRequestReceived, .sta11), (.associateRequestReceived, .sta12): return .aa8
        case (.associateAcceptPrimitive, .sta3): return .ae7
        case (.associateRejectPrimitive, .sta3): return .ae8
        case (.dataRequestPrimitive, .sta6): return .dt1
        case (.dataRequestPrimitive, .sta8): return .ar7
        case (.dataTransferReceived, .sta2): return .aa1
        case (.dataTransferReceived, .sta6): return .dt2
        case (.dataTransferReceived, .sta7): return .ar6
        case (.dataTransferReceived, .sta13): return .aa6
        case (.dataTransferReceived, .sta3), (.dataTransferReceived, .sta5), (.dataTransferReceived, .sta8),
             (.dataTransferReceived, .sta9), (.dataTransferReceived, .sta10), (.dataTransferReceived, .sta11),
             (.dataTransferReceived, .sta12): return .aa8
        case (.releaseRequestPrimitive, .sta6): return .ar1
        case (.releaseRequestReceived, .sta2): return .aa1
        case (.releaseRequestReceived, .sta6): return .ar2
        case (.releaseRequestReceived, .sta7): return .ar8
        case (.releaseRequestReceived, .sta13): return .aa6
        case (.releaseRequestReceived, .sta3), (.releaseRequestReceived, .sta5), (.releaseRequestReceived, .sta8),
             (.releaseRequestReceived, .sta9), (.releaseRequestReceived, .sta10), (.releaseRequestReceived, .sta11),
             (.releaseRequestReceived, .sta12): return .aa8
        case (.releaseResponseReceived, .sta2): return .aa1
        case (.releaseResponseReceived, .sta7): return .ar3
        case (.releaseResponseReceived, .sta10): return .ar10
        case (.releaseResponseReceived, .sta11): return .ar3
        case (.releaseResponseReceived, .sta13): return .aa6
        case (.releaseResponseReceived, .sta3), (.releaseResponseReceived, .sta5), (.releaseResponseReceived, .sta6),
             (.releaseResponseReceived, .sta8), (.releaseResponseReceived, .sta9), (.releaseResponseReceived, .sta12): return .aa8
        case (.releaseResponsePrimitive, .sta8): return .ar4
        case (.releaseResponsePrimitive, .sta9): return .ar9
        case (.releaseResponsePrimitive, .sta12): return .ar4
        case (.abortRequestPrimitive, .sta3), (.abortRequestPrimitive, .sta5), (.abortRequestPrimitive, .sta6),
             (.abortRequestPrimitive, .sta7), (.abortRequestPrimitive, .sta8), (.abortRequestPrimitive, .sta9),
             (.abortRequestPrimitive, .sta10), (.abortRequestPrimitive, .sta11), (.abortRequestPrimitive, .sta12): return .aa1
        case (.abortRequestPrimitive, .sta4): return .aa2
        case (.abortReceived, .sta2), (.abortReceived, .sta13): return .aa2
        case (.abortReceived, .sta3), (.abortReceived, .sta5), (.abortReceived, .sta6), (.abortReceived, .sta7),
             (.abortReceived, .sta8), (.abortReceived, .sta9), (.abortReceived, .sta10), (.abortReceived, .sta11),
             (.abortReceived, .sta12): return .aa3
        case (.transportClosed, .sta2): return .aa5
        case (.transportClosed, .sta13): return .ar5
        case (.transportClosed, .sta3), (.transportClosed, .sta4), (.transportClosed, .sta5), (.transportClosed, .sta6),
             (.transportClosed, .sta7), (.transportClosed, .sta8), (.transportClosed, .sta9), (.transportClosed, .sta10),
             (.transportClosed, .sta11), (.transportClosed, .sta12): return .aa4
        case (.artimTimerExpired, .sta2), (.artimTimerExpired, .sta13): return .aa2
        case (.invalidPDUReceived, .sta2): return .aa1
        case (.invalidPDUReceived, .sta13): return .aa7
        case (.invalidPDUReceived, .sta3), (.invalidPDUReceived, .sta5), (.invalidPDUReceived, .sta6),
             (.invalidPDUReceived, .sta7), (.invalidPDUReceived, .sta8), (.invalidPDUReceived, .sta9),
             (.invalidPDUReceived, .sta10), (.invalidPDUReceived, .sta11), (.invalidPDUReceived, .sta12): return .aa8
        default: return .invalid
        }
    }

    /// Next state and effects of each action (PS3.8 Tables 9-6 to 9-9). The effect lists are shared constants, so
    /// handling an event allocates nothing: the receive path of every P-DATA-TF PDU goes through here.
    private func outcome(of action: ActionName) -> (State, [Effect]) {
        switch action {
        case .ae1: (.sta4, Effects.ae1)
        case .ae2: (.sta5, Effects.ae2)
        case .ae3: (.sta6, Effects.ae3)
        case .ae4: (.sta1, Effects.ae4)
        case .ae5: (.sta2, Effects.ae5)
        case .ae6: (.sta3, Effects.ae6)
        case .ae7: (.sta6, Effects.ae7)
        case .ae8: (.sta13, Effects.ae8)
        case .dt1: (.sta6, Effects.sendData)
        case .dt2: (.sta6, Effects.indicateData)
        case .ar1: (.sta7, Effects.ar1)
        case .ar2: (.sta8, Effects.indicateReleaseRequest)
        case .ar3: (.sta1, Effects.ar3)
        case .ar4: (.sta13, Effects.ar4)
        case .ar5: (.sta1, Effects.stopARTIMTimer)
        case .ar6: (.sta7, Effects.indicateData)
        case .ar7: (.sta8, Effects.sendData)
        case .ar8: (role == .requestor ? .sta9 : .sta10, Effects.indicateReleaseRequest)
        case .ar9: (.sta11, Effects.ar9)
        case .ar10: (.sta12, Effects.ar10)
        case .aa1: (.sta13, Effects.aa1)
        case .aa2: (.sta1, Effects.aa2)
        case .aa3: (.sta1, Effects.aa3)
        case .aa4: (.sta1, Effects.indicateProviderAbort)
        case .aa5: (.sta1, Effects.stopARTIMTimer)
        case .aa6: (.sta13, Effects.none)
        case .aa7: (.sta13, Effects.aa7)
        case .aa8: (.sta13, Effects.aa8)
        case .invalid: (state, Effects.none)
        }
    }

    /// The effect lists of Tables 9-6 to 9-9, built once.
    private enum Effects {
        static let none: [Effect] = []
        static let ae1: [Effect] = [.connectTransport]
        static let ae2: [Effect] = [.sendAssociateRequest]
        static let ae3: [Effect] = [.confirmAssociateAccept]
        static let ae4: [Effect] = [.confirmAssociateReject, .closeTransport]
        static let ae5: [Effect] = [.acceptTransportConnection, .startARTIMTimer]
        static let ae6: [Effect] = [.stopARTIMTimer, .indicateAssociateRequest]
        static let ae7: [Effect] = [.sendAssociateAccept]
        static let ae8: [Effect] = [.sendAssociateReject, .startARTIMTimer]
        static let sendData: [Effect] = [.sendData]
        static let indicateData: [Effect] = [.indicateData]
        static let ar1: [Effect] = [.sendReleaseRequest]
        static let indicateReleaseRequest: [Effect] = [.indicateReleaseRequest]
        static let ar3: [Effect] = [.confirmRelease, .closeTransport]
        static let ar4: [Effect] = [.sendReleaseResponse, .startARTIMTimer]
        static let stopARTIMTimer: [Effect] = [.stopARTIMTimer]
        static let ar9: [Effect] = [.sendReleaseResponse]
        static let ar10: [Effect] = [.confirmRelease]
        static let aa1: [Effect] = [.sendAbort(.serviceUser), .startARTIMTimer]
        static let aa2: [Effect] = [.stopARTIMTimer, .closeTransport]
        static let aa3: [Effect] = [.indicateAbort, .closeTransport]
        static let indicateProviderAbort: [Effect] = [.indicateProviderAbort]
        static let aa7: [Effect] = [.sendAbort(.serviceProvider)]
        static let aa8: [Effect] = [.sendAbort(.serviceProvider), .indicateProviderAbort, .startARTIMTimer]
    }
}
