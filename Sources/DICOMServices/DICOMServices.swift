@_exported import DICOMNetwork

// # DICOMServices
//
// SCU and SCP on sockets (NIOPosix), built on DICOMNetwork's PDUs, negotiation and DIMSE messages.
//
// - ``DICOMClient/connect(host:port:callingAE:calledAE:presentationContexts:maximumPDULength:timeouts:tls:eventLoopGroup:logger:)``
//   opens an ``Association`` (TCP_NODELAY, bounded connect/ARTIM/DIMSE timers): `echo()`, `store(dataSet:…)`,
//   `store(fileAt:)`, `release()`, `abort()`. P-DATA is fragmented within the peer's maximum PDU length.
// - ``DICOMServer/start(host:port:policy:storageHandler:timeouts:temporaryDirectory:tls:eventLoopGroup:logger:)``
//   accepts associations per an `AcceptorPolicy` (``DICOMServer/defaultStoragePolicy(aeTitle:maximumPDULength:)``:
//   Verification + every storage SOP class), answers C-ECHO, streams each C-STORE data set to a temporary file and
//   hands it to a ``StorageHandler`` (``DirectoryStorageHandler`` writes Part 10 files atomically).
//   Protocol errors get an A-ABORT and a log line; ARTIM and idle timers close dead connections.
//   TLS (PS3.15 Annex B.1): pass a ``DICOMTLS`` to either side.
