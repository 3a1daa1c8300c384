import Testing
@testable import DICOMNetwork

/// Every (state, event) pair against PS3.8 Table 9-10, transcribed here as a grid independently of the source.
@Suite struct UpperLayerStateMachineTests {
    /// PS3.8 Table 9-10: one row per event Evt1…Evt19, one column per state Sta1…Sta13; "-" is a blank cell.
    static let table: [String] = [
        //       Sta1  Sta2  Sta3  Sta4  Sta5  Sta6  Sta7  Sta8  Sta9  Sta10 Sta11 Sta12 Sta13
        /*  1 */ "AE-1  -     -     -     -     -     -     -     -     -     -     -     -",
        /*  2 */ "-     -     -     AE-2  -     -     -     -     -     -     -     -     -",
        /*  3 */ "-     AA-1  AA-8  -     AE-3  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-6",
        /*  4 */ "-     AA-1  AA-8  -     AE-4  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-6",
        /*  5 */ "AE-5  -     -     -     -     -     -     -     -     -     -     -     -",
        /*  6 */ "-     AE-6  AA-8  -     AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-7",
        /*  7 */ "-     -     AE-7  -     -     -     -     -     -     -     -     -     -",
        /*  8 */ "-     -     AE-8  -     -     -     -     -     -     -     -     -     -",
        /*  9 */ "-     -     -     -     -     DT-1  -     AR-7  -     -     -     -     -",
        /* 10 */ "-     AA-1  AA-8  -     AA-8  DT-2  AR-6  AA-8  AA-8  AA-8  AA-8  AA-8  AA-6",
        /* 11 */ "-     -     -     -     -     AR-1  -     -     -     -     -     -     -",
        /* 12 */ "-     AA-1  AA-8  -     AA-8  AR-2  AR-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-6",
        /* 13 */ "-     AA-1  AA-8  -     AA-8  AA-8  AR-3  AA-8  AA-8  AR-10 AR-3  AA-8  AA-6",
        /* 14 */ "-     -     -     -     -     -     -     AR-4  AR-9  -     -     AR-4  -",
        /* 15 */ "-     -     AA-1  AA-2  AA-1  AA-1  AA-1  AA-1  AA-1  AA-1  AA-1  AA-1  -",
        /* 16 */ "-     AA-2  AA-3  -     AA-3  AA-3  AA-3  AA-3  AA-3  AA-3  AA-3  AA-3  AA-2",
        /* 17 */ "-     AA-5  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AR-5",
        /* 18 */ "-     AA-2  -     -     -     -     -     -     -     -     -     -     AA-2",
        /* 19 */ "-     AA-1  AA-8  -     AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-7",
    ]

    /// Next states of the actions (PS3.8 Tables 9-6 to 9-9); AR-8 depends on the role.
    static let nextStates: [String: Int] = [
        "AE-1": 4, "AE-2": 5, "AE-3": 6, "AE-4": 1, "AE-5": 2, "AE-6": 3, "AE-7": 6, "AE-8": 13,
        "DT-1": 6, "DT-2": 6,
        "AR-1": 7, "AR-2": 8, "AR-3": 1, "AR-4": 13, "AR-5": 1, "AR-6": 7, "AR-7": 8, "AR-9": 11, "AR-10": 12,
        "AA-1": 13, "AA-2": 1, "AA-3": 1, "AA-4": 1, "AA-5": 1, "AA-6": 13, "AA-7": 13, "AA-8": 13,
    ]

    @Test func tableHasNineteenRowsOfThirteenCells() {
        #expect(Self.table.count == 19)
        for row in Self.table { #expect(row.split(separator: " ").count == 13) }
    }

    @Test(arguments: UpperLayerStateMachine.Role?.allCasesForTest)
    func everyStateEventPair(role: UpperLayerStateMachine.Role?) {
        var checked = 0
        for (row, line) in Self.table.enumerated() {
            let cells = line.split(separator: " ").map(String.init)
            let event = UpperLayerStateMachine.Event(rawValue: row + 1)!
            for (column, cell) in cells.enumerated() {
                let state = UpperLayerStateMachine.State(rawValue: column + 1)!
                var machine = UpperLayerStateMachine(state: state, role: role)
                let action = machine.handle(event)
                #expect(action.previousState == state)
                if cell == "-" {
                    #expect(action.name == .invalid, "\(event) in \(state)")
                    #expect(machine.state == state, "a blank cell leaves the state unchanged")
                    #expect(action.effects.isEmpty)
                } else {
                    #expect(action.name.rawValue == cell, "\(event) in \(state)")
                    let expected = cell == "AR-8" ? (role == .requestor ? 9 : 10) : Self.nextStates[cell]!
                    #expect(machine.state.rawValue == expected, "\(cell) from \(state)")
                    #expect(action.nextState == machine.state)
                }
                checked += 1
            }
        }
        #expect(checked == 19 * 13)
    }

    @Test func artimTimerEffects() {
        func effects(_ state: UpperLayerStateMachine.State, _ event: UpperLayerStateMachine.Event) -> [UpperLayerStateMachine.Effect] {
            var machine = UpperLayerStateMachine(state: state, role: .acceptor)
            return machine.handle(event).effects
        }
        #expect(effects(.sta1, .transportConnectionIndication) == [.acceptTransportConnection, .startARTIMTimer])  // AE-5
        #expect(effects(.sta2, .associateRequestReceived) == [.stopARTIMTimer, .indicateAssociateRequest])        // AE-6
        #expect(effects(.sta3, .associateRejectPrimitive) == [.sendAssociateReject, .startARTIMTimer])            // AE-8
        #expect(effects(.sta8, .releaseResponsePrimitive) == [.sendReleaseResponse, .startARTIMTimer])            // AR-4
        #expect(effects(.sta13, .transportClosed) == [.stopARTIMTimer])                                           // AR-5
        #expect(effects(.sta2, .artimTimerExpired) == [.stopARTIMTimer, .closeTransport])                         // AA-2
        #expect(effects(.sta2, .transportClosed) == [.stopARTIMTimer])                                            // AA-5
        #expect(effects(.sta6, .abortRequestPrimitive) == [.sendAbort(.serviceUser), .startARTIMTimer])          // AA-1
        #expect(effects(.sta6, .invalidPDUReceived) == [.sendAbort(.serviceProvider), .indicateProviderAbort, .startARTIMTimer])  // AA-8
        #expect(effects(.sta13, .associateRequestReceived) == [.sendAbort(.serviceProvider)])                    // AA-7
        #expect(effects(.sta13, .dataTransferReceived) == [])                                                     // AA-6
        #expect(effects(.sta6, .abortReceived) == [.indicateAbort, .closeTransport])                              // AA-3
        #expect(effects(.sta6, .transportClosed) == [.indicateProviderAbort])                                     // AA-4
        #expect(effects(.sta7, .releaseResponseReceived) == [.confirmRelease, .closeTransport])                   // AR-3
        #expect(effects(.sta5, .associateRejectReceived) == [.confirmAssociateReject, .closeTransport])           // AE-4
    }

    @Test func requestorHappyPath() {
        var machine = UpperLayerStateMachine()
        #expect(machine.handle(.associateRequestPrimitive).effects == [.connectTransport])
        #expect(machine.role == .requestor)
        #expect(machine.handle(.transportConnectConfirmed).effects == [.sendAssociateRequest])
        #expect(machine.handle(.associateAcceptReceived).effects == [.confirmAssociateAccept])
        #expect(machine.isEstablished)
        #expect(machine.handle(.dataRequestPrimitive).name == .dt1)
        #expect(machine.handle(.dataTransferReceived).name == .dt2)
        #expect(machine.handle(.releaseRequestPrimitive).name == .ar1)
        #expect(machine.handle(.releaseResponseReceived).name == .ar3)
        #expect(machine.state == .sta1)
    }

    @Test func releaseCollisionBothSides() {
        // Requestor: Sta7 + A-RELEASE-RQ → AR-8 → Sta9 → AR-9 → Sta11 → AR-3 → Sta1.
        var requestor = UpperLayerStateMachine(state: .sta7, role: .requestor)
        #expect(requestor.handle(.releaseRequestReceived).nextState == .sta9)
        #expect(requestor.handle(.releaseResponsePrimitive).nextState == .sta11)
        #expect(requestor.handle(.releaseResponseReceived).nextState == .sta1)
        // Acceptor: Sta7 + A-RELEASE-RQ → AR-8 → Sta10 → AR-10 → Sta12 → AR-4 → Sta13 → AR-5 → Sta1.
        var acceptor = UpperLayerStateMachine(state: .sta7, role: .acceptor)
        #expect(acceptor.handle(.releaseRequestReceived).nextState == .sta10)
        #expect(acceptor.handle(.releaseResponseReceived).nextState == .sta12)
        #expect(acceptor.handle(.releaseResponsePrimitive).nextState == .sta13)
        #expect(acceptor.handle(.transportClosed).nextState == .sta1)
    }
}

extension UpperLayerStateMachineTests {
    /// Handling an event allocates nothing: every P-DATA-TF PDU goes through the machine, so the effect lists are shared
    /// constants, not arrays built per call.
    @Test func effectListsAreSharedNotAllocatedPerEvent() {
        var machine = UpperLayerStateMachine(state: .sta6, role: .acceptor)
        let first = machine.handle(.dataTransferReceived)
        let second = machine.handle(.dataTransferReceived)
        #expect(first.name == .dt2 && second.name == .dt2)
        let firstStorage = first.effects.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        let secondStorage = second.effects.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        #expect(firstStorage != 0 && firstStorage == secondStorage)
        // AR-8 picks its next state by role but shares its effects too.
        var requestor = UpperLayerStateMachine(state: .sta7, role: .requestor)
        var acceptor = UpperLayerStateMachine(state: .sta7, role: .acceptor)
        let collisionEffects = (requestor.handle(.releaseRequestReceived).effects, acceptor.handle(.releaseRequestReceived).effects)
        #expect(collisionEffects.0 == [.indicateReleaseRequest] && collisionEffects.1 == [.indicateReleaseRequest])
    }

    /// Each state has words for error messages, and they differ.
    @Test func stateSummaries() {
        let summaries = UpperLayerStateMachine.State.allCases.map(\.summary)
        #expect(Set(summaries).count == 13)
        #expect(UpperLayerStateMachine.State.sta5.summary == "awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ")
        #expect(UpperLayerStateMachine.State.sta6.summary == "association established")
    }

    /// The glue's view of a connection's life: acceptor AE-5, AE-6, AE-7, data, AR-2, AR-4, AR-5; an out-of-order PDU
    /// on the way is AA-8 and everything after it in Sta13 is ignored (AA-6) until the transport closes (AR-5).
    @Test func acceptorLifeAndAbortAsTheGlueDrivesIt() {
        var machine = UpperLayerStateMachine()
        #expect(machine.handle(.transportConnectionIndication).name == .ae5)
        #expect(machine.handle(PDU.associateRequest(AssociationRequest(calledAETitle: "B", callingAETitle: "A",
                                                                        presentationContexts: [])).receivedEvent).name == .ae6)
        #expect(machine.handle(.associateAcceptPrimitive).name == .ae7)
        #expect(machine.handle(PDU.dataTransfer([]).receivedEvent).name == .dt2)
        #expect(machine.handle(.dataRequestPrimitive).name == .dt1)
        #expect(machine.handle(PDU.releaseRequest.receivedEvent).name == .ar2)
        #expect(machine.handle(.dataRequestPrimitive).name == .ar7)
        #expect(machine.handle(.releaseResponsePrimitive).name == .ar4)
        #expect(machine.handle(PDU.dataTransfer([]).receivedEvent).name == .aa6)
        #expect(machine.handle(.transportClosed).name == .ar5)
        #expect(machine.state == .sta1)

        var aborted = UpperLayerStateMachine(state: .sta6, role: .acceptor)
        let action = aborted.handle(PDU.releaseResponse.receivedEvent)
        #expect(action.name == .aa8 && action.effects.first == .sendAbort(.serviceProvider))
        #expect(aborted.handle(PDU.releaseRequest.receivedEvent).name == .aa6)
        #expect(aborted.handle(.abortRequestPrimitive).isInvalid, "no second A-ABORT from Sta13")
        #expect(aborted.handle(.dataRequestPrimitive).isInvalid, "no P-DATA after the abort")
        #expect(aborted.handle(.transportClosed).name == .ar5)
    }
}

extension UpperLayerStateMachine.Role? {
    static var allCasesForTest: [UpperLayerStateMachine.Role?] { [.requestor, .acceptor] }
}
