import DICOMArchive
import Foundation
import Logging

/// Where `dcmstore delete|restore|purge|retention` run: inside the server when one holds the archive, else here.
extension ArchiveOptions {
    /// Runs a lifecycle command through the running server's control socket (`ARCHIVE/control.sock`) when a server
    /// listens there, so it sees the change at once; otherwise opens the archive and runs it directly. Either way the
    /// command runs through ``LifecycleCommand/run(on:)``, and failures are the same ``ArchiveError``s.
    func perform(_ command: LifecycleCommand) async throws -> LifecycleOutcome {
        let configuration = try load()
        let layout = ArchiveLayout(root: archivePath(configuration))
        let request = LifecycleControlRequest(command: command, user: AuditLog.currentUser, host: AuditLog.hostName,
                                              retentionPolicy: retentionPolicy(configuration))
        if let response = try await LifecycleControlClient.send(request, socketPath: LifecycleControl.socketPath(for: layout)) {
            return try response.result()
        }
        if case let .queue(queueCommand) = command { return try await queueCommand.run(on: try openQueue()) }
        let (lifecycle, _) = try await openLifecycle()
        return try await command.run(on: lifecycle)
    }
}

/// Serves lifecycle commands on the archive's control socket for `dcmstore serve`; nil (with a warning) when the
/// socket cannot be made, in which case the server runs on and lifecycle commands wait until it stops.
func startLifecycleControl(layout: ArchiveLayout, index: any ArchiveIndex, queue: ForwardQueue?, logger: Logger) -> LifecycleControlServer? {
    do {
        let control = try LifecycleControlServer.start(layout: layout, index: index, queue: queue, logger: logger)
        logger.info("lifecycle commands accepted", metadata: ["socket": "\(control.socketPath)"])
        return control
    } catch {
        logger.warning("no control socket, so delete, restore, purge and retention cannot run while this server runs: \(error)")
        return nil
    }
}
