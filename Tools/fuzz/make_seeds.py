"""Writes seed frames for the fuzzers: small images encoded by DCMTK (dcmcjpeg, dcmcjpls) or pylibjpeg-openjpeg.

    python3 make_seeds.py            # pure-Swift JPEG decoders -> Tools/fuzz/corpus
    python3 make_seeds.py libjpeg    # libjpeg 8-bit baseline/extended/progressive -> Tools/fuzz/corpus-libjpeg
    python3 make_seeds.py openjpeg   # JPEG 2000 codestreams -> Tools/fuzz/corpus-openjpeg
    python3 make_seeds.py dataset    # Part 10 files and bare data sets -> Tools/fuzz/corpus-dataset
    python3 make_seeds.py pdu        # PDU streams of echoscu/storescu/findscu sessions -> Tools/fuzz/corpus-pdu
    python3 make_seeds.py query      # C-FIND identifiers with every matching rule -> Tools/fuzz/corpus-query
    python3 make_seeds.py worklist   # Modality Worklist C-FIND identifiers -> Tools/fuzz/corpus-worklist
    python3 make_seeds.py server     # peer sessions (DCMTK SCUs, wrong PDU sequences) -> Tools/fuzz/corpus-server
"""
import os, subprocess, sys, tempfile
import numpy as np, pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_frames
from pydicom.uid import ExplicitVRLittleEndian

here = os.path.dirname(os.path.abspath(__file__))
target = sys.argv[1] if len(sys.argv) > 1 else "pure"
corpus = os.path.join(here, {"pure": "corpus", "libjpeg": "corpus-libjpeg", "openjpeg": "corpus-openjpeg",
                             "dataset": "corpus-dataset", "pdu": "corpus-pdu",
                             "query": "corpus-query",
                             "worklist": "corpus-worklist", "server": "corpus-server"}[target])
os.makedirs(corpus, exist_ok=True)
rng = np.random.default_rng(7)


def recording_relay(scp_port):
    """A TCP relay on a free local port in front of 127.0.0.1:scp_port, and `session(record)`, which relays one
    connection and appends what the peer sent to record["rq"] and what came back to record["ac"]."""
    import socket, threading
    relay = socket.socket(); relay.bind(("127.0.0.1", 0)); relay.listen(1)
    def session(record):
        peer, _ = relay.accept()
        upstream = socket.create_connection(("127.0.0.1", scp_port))
        def pump(a, b, key):
            while True:
                chunk = a.recv(65536)
                if not chunk:
                    try: b.shutdown(socket.SHUT_WR)
                    except OSError: pass
                    return
                record[key] += chunk
                b.sendall(chunk)
        threads = [threading.Thread(target=pump, args=(peer, upstream, "rq")), threading.Thread(target=pump, args=(upstream, peer, "ac"))]
        for t in threads: t.start()
        for t in threads: t.join(30)
        peer.close(); upstream.close()
    return relay.getsockname()[1], session

if target == "dataset":
    # FuzzDataSet.swift: the first byte picks the reader (0 Part 10, 1 Part 10 metadata only, 2 implicit VR LE,
    # 3 explicit VR LE, 4 explicit VR BE, 5 deflated explicit VR LE; +0x80 tolerates no defects).
    import warnings, zlib
    from pydicom.data import get_testdata_files
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset
    warnings.simplefilter("ignore")
    n = 0
    def put(mode, payload):
        global n
        with open(os.path.join(corpus, "seed%03d" % n), "wb") as f:
            f.write(bytes([mode]) + payload)
        n += 1
    files = sorted(f for f in get_testdata_files() if os.path.isfile(f) and os.path.getsize(f) <= 60000)
    with tempfile.TemporaryDirectory() as tmp:
        for index, path in enumerate(files):
            raw = open(path, "rb").read()
            put(index % 2, raw)  # whole file, full read or metadata only
            try:
                ds = pydicom.dcmread(path, force=True)
                for tag in [t for t in ds.keys() if t.group == 0x7FE0]:
                    del ds[tag]
                for mode, implicit, little in [(2, True, True), (3, False, True), (4, False, False)]:
                    if index % 3 != mode - 2:
                        continue
                    fp = DicomBytesIO(); fp.is_implicit_VR = implicit; fp.is_little_endian = little
                    write_dataset(fp, ds)
                    put(mode, fp.getvalue())
                    if mode == 3:
                        c = zlib.compressobj(9, zlib.DEFLATED, -15)
                        put(5, c.compress(fp.getvalue()) + c.flush())
            except Exception as e:
                print("skipped", os.path.basename(path), e)
        # Files as DCMTK writes them: deflated, big endian, implicit.
        src = next(f for f in files if f.endswith("CT_small.dcm"))
        for option in ["+td", "+tb", "+ti"]:
            dst = os.path.join(tmp, "out.dcm")
            subprocess.run(["/usr/bin/dcmconv", option, src, dst], check=True)
            put(0, open(dst, "rb").read())
    print("wrote", n, "seeds to", corpus)
    sys.exit(0)

if target == "pdu":
    # FuzzPDU.swift reads a byte stream of PDUs. Seeds: what DCMTK's echoscu, storescu and findscu send to a
    # pynetdicom SCP and what it answers, recorded by a TCP relay, as whole streams and PDU by PDU; plus a
    # rejection, an abort and user information sub-items written by hand.
    import socket, struct, threading, warnings
    from pynetdicom import AE, evt, AllStoragePresentationContexts, debug_logger
    from pynetdicom.sop_class import Verification, StudyRootQueryRetrieveInformationModelFind
    warnings.simplefilter("ignore")
    n = 0
    def put(payload):
        global n
        with open(os.path.join(corpus, "seed%03d" % n), "wb") as f:
            f.write(payload)
        n += 1
    def handle_find(event):
        identifier = event.identifier
        reply = Dataset(); reply.QueryRetrieveLevel = "STUDY"; reply.PatientName = "Doe^John"
        reply.SpecificCharacterSet = "ISO_IR 100"; reply.StudyInstanceUID = "1.2.3.4"
        yield 0xFF00, reply
    ae = AE(ae_title="SCP")
    ae.supported_contexts = AllStoragePresentationContexts
    ae.add_supported_context(Verification)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    scp = ae.start_server(("127.0.0.1", 0), block=False,
                          evt_handlers=[(evt.EVT_C_STORE, lambda e: 0x0000), (evt.EVT_C_FIND, handle_find)])
    scp_port = scp.socket.getsockname()[1]
    relay_port, session = recording_relay(scp_port)
    def pdus(stream):
        at = 0
        while at + 6 <= len(stream):
            length = struct.unpack(">I", stream[at + 2:at + 6])[0]
            yield stream[at:at + 6 + length]
            at += 6 + length
    env = dict(os.environ, TCP_NODELAY="1")
    with tempfile.TemporaryDirectory() as tmp:
        small = os.path.join(tmp, "small.dcm")
        ds = Dataset(); ds.file_meta = FileMetaDataset(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = "1.2.3.4.5"
        ds.SpecificCharacterSet = "ISO_IR 192"; ds.PatientName = "Yamada^Tarou=山田^太郎"; ds.PatientID = "42"
        ds.Rows = ds.Columns = 4; ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 8; ds.HighBit = 7; ds.PixelRepresentation = 0; ds.PixelData = bytes(range(16))
        ds.save_as(small, enforce_file_format=True)
        query = os.path.join(tmp, "query.dcm")
        q = Dataset(); q.QueryRetrieveLevel = "STUDY"; q.PatientName = "Doe*"; q.StudyInstanceUID = ""
        q.SpecificCharacterSet = "ISO 2022 IR 87"; q.ReferencedStudySequence = [Dataset()]
        q.save_as(query, implicit_vr=True, little_endian=True)
        commands = [(["/usr/bin/echoscu", "-aec", "SCP"], []), (["/usr/bin/storescu", "-aec", "SCP"], [small]),
                    (["/usr/bin/storescu", "-aec", "SCP", "-xi"], [small]), (["/usr/bin/findscu", "-aec", "SCP", "-S"], [query]),
                    (["/usr/bin/storescu", "-aec", "SCP", "--max-pdu", "4096", "-xb"], [small])]
        for command, files in commands:
            record = {"rq": b"", "ac": b""}
            t = threading.Thread(target=session, args=(record,)); t.start()
            subprocess.run(command + ["127.0.0.1", str(relay_port)] + files, env=env, check=True, capture_output=True, timeout=60)
            t.join(30)
            for key in ("rq", "ac"):
                put(record[key])
                for pdu in pdus(record[key]):
                    put(pdu)
    scp.shutdown()
    # A-ASSOCIATE-RJ, A-ABORT, A-RELEASE-RQ/RP, and an A-ASSOCIATE-RQ whose user information carries every sub-item
    # (maximum length, implementation class and version, asynchronous operations window, SCP/SCU role selection,
    # extended negotiation, common extended negotiation, user identity).
    put(bytes([3, 0, 0, 0, 0, 4, 0, 1, 1, 1])); put(bytes([7, 0, 0, 0, 0, 4, 0, 0, 2, 1]))
    put(bytes([5, 0, 0, 0, 0, 4, 0, 0, 0, 0])); put(bytes([6, 0, 0, 0, 0, 4, 0, 0, 0, 0]))
    def item(kind, body): return struct.pack(">BBH", kind, 0, len(body)) + body
    def uid(u): return u.encode()
    ct = "1.2.840.10008.5.1.4.1.1.2"
    user = (item(0x51, struct.pack(">I", 16384)) + item(0x52, uid("1.2.3.4")) + item(0x55, b"VERSION_1")
            + item(0x53, struct.pack(">HH", 4, 4)) + item(0x54, struct.pack(">H", len(ct)) + uid(ct) + bytes([1, 1]))
            + item(0x56, struct.pack(">H", len(ct)) + uid(ct) + bytes([1, 0, 1]))
            + item(0x57, struct.pack(">H", len(ct)) + uid(ct) + struct.pack(">H", 11) + uid("1.2.840.10008.4.2")
                   + struct.pack(">H", 0))
            + item(0x58, bytes([2, 1]) + struct.pack(">H", 4) + b"user" + struct.pack(">H", 4) + b"pass"))
    context = item(0x40, bytes([1, 0, 0, 0]) + item(0x30, uid(ct)) + item(0x40, uid("1.2.840.10008.1.2")))
    body = struct.pack(">HH", 1, 0) + b"SCP".ljust(16) + b"SCU".ljust(16) + bytes(32)
    body += item(0x10, uid("1.2.840.10008.3.1.1.1")) + context + item(0x50, user)
    put(struct.pack(">BBI", 1, 0, len(body)) + body)
    print("wrote", n, "seeds to", corpus)
    sys.exit(0)

if target == "server":
    # FuzzServer.swift: byte 0 picks how the stream is written (chunking, half-close / reset after (byte 1 x 16) bytes /
    # full close; 0x70: waiting mode; high nibble 8: a longer quiet time), byte 1 is its parameter, the rest is what a
    # peer sends.
    # Seeds: what DCMTK's echoscu, storescu, findscu, movescu and getscu send (recorded by a TCP relay in front of a
    # pynetdicom SCP, called AE DCMSTORE, with the study of the fuzzer's seeded archive), and wrong sequences written
    # by hand: P-DATA before the association, a second A-ASSOCIATE-RQ, A-RELEASE-RQ inside a data set, PDVs on an
    # unnegotiated context, a command without its data set, a C-CANCEL for nothing, C-MOVE to a closed port and to an
    # unknown AE, C-GET whose sub-operations are never answered (or answered once or twice), Storage Commitment (also
    # for a requestor whose AE title points at the closed port, and without its data set), C-STOREs in an asynchronous
    # operations window, an N-CREATE of an unsupported class, A-ABORT and A-RELEASE-RP from the requestor; each written
    # whole, PDU by PDU, byte by byte, half-closed, reset part-way and in waiting mode.
    import socket, struct, threading, warnings
    from pynetdicom import AE, evt, AllStoragePresentationContexts, StoragePresentationContexts
    from pynetdicom.sop_class import (Verification, StudyRootQueryRetrieveInformationModelFind,
                                      StudyRootQueryRetrieveInformationModelMove, StudyRootQueryRetrieveInformationModelGet,
                                      PatientRootQueryRetrieveInformationModelFind)
    warnings.simplefilter("ignore")
    n = 0
    def put(stream, mode=0, parameter=0):
        global n
        with open(os.path.join(corpus, "seed%03d" % n), "wb") as f:
            f.write(bytes([mode, parameter]) + stream)
        n += 1
    study = "1.2.826.0.1.3680043.10.1.1"   # a study of the archive FuzzServer.swift seeds
    ct = "1.2.840.10008.5.1.4.1.1.2"
    def instance():
        ds = Dataset(); ds.file_meta = FileMetaDataset(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = ct
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = study + ".1.9"
        ds.StudyInstanceUID = study; ds.SeriesInstanceUID = study + ".1"; ds.Modality = "CT"
        ds.SpecificCharacterSet = "ISO_IR 192"; ds.PatientName = "Yamada^Tarou=山田^太郎"; ds.PatientID = "P1"
        ds.Rows = ds.Columns = 2; ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 8; ds.HighBit = 7; ds.PixelRepresentation = 0; ds.PixelData = bytes(range(4))
        return ds
    def handle_find(event):
        reply = Dataset(); reply.QueryRetrieveLevel = "STUDY"; reply.StudyInstanceUID = study
        yield 0xFF00, reply
    def handle_move(event):
        yield None, None   # unknown destination: 0xA801
    def handle_get(event):
        yield 1
        yield 0xFF00, instance()
    ae = AE(ae_title="DCMSTORE")
    ae.supported_contexts = AllStoragePresentationContexts
    for context in (Verification, StudyRootQueryRetrieveInformationModelFind, StudyRootQueryRetrieveInformationModelMove,
                    StudyRootQueryRetrieveInformationModelGet, PatientRootQueryRetrieveInformationModelFind):
        ae.add_supported_context(context)
    for context in StoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, scu_role=True, scp_role=True)
    scp = ae.start_server(("127.0.0.1", 0), block=False,
                          evt_handlers=[(evt.EVT_C_STORE, lambda e: 0x0000), (evt.EVT_C_FIND, handle_find),
                                        (evt.EVT_C_MOVE, handle_move), (evt.EVT_C_GET, handle_get)])
    scp_port = scp.socket.getsockname()[1]
    relay_port, session = recording_relay(scp_port)
    env = dict(os.environ, TCP_NODELAY="1")
    recorded = {}
    with tempfile.TemporaryDirectory() as tmp:
        small = os.path.join(tmp, "small.dcm")
        instance().save_as(small, enforce_file_format=True)
        def query_file(name, level, **keys):
            q = Dataset(); q.QueryRetrieveLevel = level
            for key, value in keys.items(): setattr(q, key, value)
            path = os.path.join(tmp, name); q.save_as(path, implicit_vr=True, little_endian=True); return path
        find = query_file("find.dcm", "STUDY", PatientName="FUZZ*", StudyInstanceUID="", PatientID="")
        move = query_file("move.dcm", "STUDY", StudyInstanceUID=study)
        commands = {"echo": (["/usr/bin/echoscu"], []), "store": (["/usr/bin/storescu"], [small]),
                    "store-implicit": (["/usr/bin/storescu", "-xi"], [small]), "find": (["/usr/bin/findscu", "-S"], [find]),
                    "find-patient": (["/usr/bin/findscu", "-P"], [find]),
                    "move": (["/usr/bin/movescu", "-S", "-aem", "NOWHERE"], [move]),
                    "get": (["/usr/bin/getscu", "-S"], [move]),
                    "store-small-pdu": (["/usr/bin/storescu", "--max-pdu", "4096", "-xb"], [small])}
        for name, (command, files) in commands.items():
            record = {"rq": b"", "ac": b""}
            t = threading.Thread(target=session, args=(record,)); t.start()
            # In the temporary folder: getscu writes what it receives to its working directory.
            subprocess.run(command + ["-aec", "DCMSTORE", "-aet", "FUZZSCU", "127.0.0.1", str(relay_port)] + files, env=env,
                           check=False, capture_output=True, timeout=60, cwd=tmp)
            t.join(30)
            recorded[name] = record["rq"]
            if not record["rq"]: sys.exit("no session recorded for " + name)
            put(record["rq"]); put(record["rq"], 2); put(record["rq"], 4 | 2)
    scp.shutdown()
    # Hand-made sessions, from the PDUs and DIMSE commands of the standard (PS3.8 9.3, PS3.7 9.3 and 10.3).
    def item(kind, body): return struct.pack(">BBH", kind, 0, len(body)) + body
    def pdu(kind, body): return struct.pack(">BBI", kind, 0, len(body)) + body
    def pad(text): return text.encode() + (b"\0" if len(text) % 2 else b"")
    def element(group, number, value):
        return struct.pack("<HHI", group, number, len(value)) + value
    def command(field, message_id, sop_class, has_data=False, **extra):
        # Elements in ascending tag order (PS3.7 6.3.1), group length first.
        # N-ACTION names the Requested SOP Class (0000,0003), the others the Affected one (0000,0002).
        elements = {0x0003 if field == 0x0130 else 0x0002: pad(sop_class), 0x0100: struct.pack("<H", field),
                    0x0800: struct.pack("<H", 0x0000 if has_data else 0x0101)}
        # Requests carry Message ID; responses and C-CANCEL-RQ, Message ID Being Responded To.
        elements[0x0110 if field & 0x8000 == 0 and field != 0x0FFF else 0x0120] = struct.pack("<H", message_id)
        if field in (0x0001, 0x0020, 0x0021, 0x0010): elements[0x0700] = struct.pack("<H", 0)
        if "status" in extra: elements[0x0900] = struct.pack("<H", extra["status"])
        if "instance" in extra: elements[0x1000] = pad(extra["instance"])
        if "destination" in extra: elements[0x0600] = extra["destination"].encode().ljust(16)
        if "action" in extra: elements[0x1008] = struct.pack("<H", extra["action"])
        if "requested" in extra: elements[0x1001] = pad(extra["requested"])
        body = b"".join(element(0, number, value) for number, value in sorted(elements.items()))
        return element(0, 0x0000, struct.pack("<I", len(body))) + body
    def pdata(context, payload, is_command, last=True):
        header = (1 if is_command else 0) | (2 if last else 0)
        return pdu(4, struct.pack(">IB", len(payload) + 2, context) + bytes([header]) + payload)
    def dataset(**keys):
        ds = Dataset()
        for key, value in keys.items(): setattr(ds, key, value)
        from pydicom.filebase import DicomBytesIO
        from pydicom.filewriter import write_dataset
        out = DicomBytesIO(); out.is_little_endian = True; out.is_implicit_VR = True
        write_dataset(out, ds); return out.getvalue()
    def reference(sop_class, sop_instance):
        ds = Dataset(); ds.ReferencedSOPClassUID = sop_class; ds.ReferencedSOPInstanceUID = sop_instance; return ds
    implicit = "1.2.840.10008.1.2"
    find_study = "1.2.840.10008.5.1.4.1.2.2.1"; move_study = "1.2.840.10008.5.1.4.1.2.2.2"; get_study = "1.2.840.10008.5.1.4.1.2.2.3"
    commitment = "1.2.840.10008.1.20.1"
    def associate(contexts, roles=(), calling="FUZZSCU", window=None):
        body = struct.pack(">HH", 1, 0) + b"DCMSTORE".ljust(16) + calling.encode().ljust(16) + bytes(32)
        body += item(0x10, pad("1.2.840.10008.3.1.1.1").rstrip(b"\0"))
        for id, abstract in contexts:
            body += item(0x20, bytes([id, 0, 0, 0]) + item(0x30, abstract.encode()) + item(0x40, implicit.encode()))
        user = item(0x51, struct.pack(">I", 16384)) + item(0x52, b"1.2.3.4")
        for sop in roles:
            user += item(0x54, struct.pack(">H", len(sop)) + sop.encode() + bytes([1, 1]))
        if window: user += item(0x53, struct.pack(">HH", *window))   # asynchronous operations window
        return pdu(1, body + item(0x50, user))
    contexts = [(1, "1.2.840.10008.1.1"), (3, ct), (5, find_study), (7, move_study), (9, get_study), (11, commitment)]
    rq = associate(contexts, roles=[ct])
    release = pdu(5, bytes(4)); abort = pdu(7, bytes([0, 0, 0, 0]))
    echo = pdata(1, command(0x0030, 1, "1.2.840.10008.1.1"), True)
    store_cmd = pdata(3, command(0x0001, 2, ct, has_data=True, instance=study + ".1.77"), True)
    store_data = dataset(SOPClassUID=ct, SOPInstanceUID=study + ".1.77", StudyInstanceUID=study, SeriesInstanceUID=study + ".1",
                         PatientID="P1", PatientName="FUZZ^P1")
    find_id = dataset(QueryRetrieveLevel="STUDY", PatientName="FUZZ*", StudyInstanceUID="", PatientID="")
    move_id = dataset(QueryRetrieveLevel="STUDY", StudyInstanceUID=study)
    sessions = {
        "pdata-before-associate": echo + rq + echo + release,
        "second-associate-rq": rq + echo + rq + release,
        "release-inside-dataset": rq + store_cmd + pdata(3, store_data[:20], False, last=False) + release
                                  + pdata(3, store_data[20:], False),
        "abort-inside-dataset": rq + store_cmd + pdata(3, store_data[:20], False, last=False) + abort,
        "unnegotiated-context": rq + pdata(13, command(0x0030, 1, "1.2.840.10008.1.1"), True) + release,
        "even-context": rq + pdata(2, command(0x0030, 1, "1.2.840.10008.1.1"), True) + release,
        "command-without-dataset": rq + store_cmd + release,
        "command-then-echo": rq + store_cmd + echo + release,
        "dataset-without-command": rq + pdata(3, store_data, False) + release,
        "store": rq + store_cmd + pdata(3, store_data, False) + release,
        "store-no-release": rq + store_cmd + pdata(3, store_data, False),
        "cancel-for-nothing": rq + pdata(5, command(0x0FFF, 9, find_study), True) + echo + release,
        "find": rq + pdata(5, command(0x0020, 3, find_study, has_data=True), True) + pdata(5, find_id, False) + release,
        "find-cancel": rq + pdata(5, command(0x0020, 3, find_study, has_data=True), True) + pdata(5, find_id, False)
                       + pdata(5, command(0x0FFF, 3, find_study), True) + release,
        "move-closed-port": rq + pdata(7, command(0x0021, 4, move_study, has_data=True, destination="NOWHERE"), True)
                            + pdata(7, move_id, False) + release,
        "move-unknown-ae": rq + pdata(7, command(0x0021, 4, move_study, has_data=True, destination="UNKNOWN"), True)
                           + pdata(7, move_id, False) + release,
        "get-unanswered": rq + pdata(9, command(0x0010, 5, get_study, has_data=True), True) + pdata(9, move_id, False) + release,
        "get-answered": rq + pdata(9, command(0x0010, 5, get_study, has_data=True), True) + pdata(9, move_id, False)
                        + pdata(3, command(0x8001, 1, ct, status=0, instance=study + ".1.1"), True) + release,
        "store-rsp-for-nothing": rq + pdata(3, command(0x8001, 1, ct, status=0, instance=study + ".1.1"), True) + release,
        "commitment": rq + pdata(11, command(0x0130, 6, commitment, has_data=True, action=1, requested="1.2.840.10008.1.20.1.1"), True)
                      + pdata(11, dataset(TransactionUID="1.2.3.99", ReferencedSOPSequence=[
                          reference(ct, study + ".1.1"), reference(ct, "1.2.3.404")]), False) + release,
        "get-answered-twice": rq + pdata(9, command(0x0010, 5, get_study, has_data=True), True) + pdata(9, move_id, False)
                              + pdata(3, command(0x8001, 1, ct, status=0, instance=study + ".1.1"), True)
                              + pdata(3, command(0x8001, 2, ct, status=0, instance=study + ".1.2"), True) + release,
        "window-stores": associate(contexts, roles=[ct], window=(4, 4))
                         + b"".join(pdata(3, command(0x0001, 20 + k, ct, has_data=True, instance=study + ".1.8%d" % k), True)
                                    + pdata(3, dataset(SOPClassUID=ct, SOPInstanceUID=study + ".1.8%d" % k, StudyInstanceUID=study,
                                                       SeriesInstanceUID=study + ".1", PatientID="P1"), False) for k in range(3))
                         + echo + release,
        "commitment-to-closed-port": associate(contexts, calling="NOWHERE")
                      + pdata(11, command(0x0130, 6, commitment, has_data=True, action=1, requested="1.2.840.10008.1.20.1.1"), True)
                      + pdata(11, dataset(TransactionUID="1.2.3.98", ReferencedSOPSequence=[reference(ct, study + ".1.1")]), False)
                      + release,
        "commitment-without-dataset": rq + pdata(11, command(0x0130, 6, commitment, action=1, requested="1.2.840.10008.1.20.1.1"), True)
                      + release,
        "n-create-unsupported": rq + pdata(1, command(0x0140, 7, "1.2.840.10008.3.1.2.3.3", has_data=True), True)
                      + pdata(1, dataset(PatientID="P1"), False) + release,
        "release-rp-from-requestor": rq + pdu(6, bytes(4)),
        "release-twice": rq + release + release,
        "abort-only": abort,
        "release-before-associate": release,
        "accept-from-requestor": pdu(2, rq[6:]),
        "unknown-pdu-type": rq + pdu(9, bytes(4)),
        "partial-header": rq[:3],
        "partial-associate": rq[:40],
    }
    for name, stream in sessions.items():
        put(stream)                  # whole, half-closed
        put(stream, 2)               # PDU by PDU
        put(stream, 3, 40)           # the first 40 bytes one at a time
        put(stream, 4, len(stream) // 32)   # reset part-way
        put(stream, 8)               # full close
    for name in ("partial-header", "partial-associate", "store-no-release", "command-without-dataset"):
        put(sessions[name], 0x70)    # waiting mode: the server's timers must end it
    for name in ("move-closed-port", "get-unanswered", "get-answered", "get-answered-twice", "commitment",
                 "commitment-to-closed-port", "find-cancel", "window-stores"):
        put(sessions[name], 0x80)    # 100 ms for the operation to run before the harness half-closes
    print("wrote", n, "seeds to", corpus)
    sys.exit(0)

if target in ("query", "worklist"):
    # FuzzQuery.swift: the first byte picks the level (bits 0-1: PATIENT, STUDY, SERIES, IMAGE), bit 2 Patient Root,
    # bit 3 case-insensitive names, bit 4 keep the identifier's own (0008,0052); the rest is a C-FIND identifier, a
    # bare data set in Explicit VR Little Endian, written here element by element (so malformed values stay as given).
    import struct
    LONG = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UT", b"UN", b"UC", b"UR"}
    def element(tag, vr, value):
        if isinstance(value, str):
            value = value.encode("utf-8")
        if len(value) % 2:
            value += b"\0" if vr == b"UI" else b" "
        head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr
        return head + (struct.pack("<HI", 0, len(value)) if vr in LONG else struct.pack("<H", len(value))) + value
    def sequence(tag, items):
        body = b"".join(struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + item + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
                        for item in items)
        return struct.pack("<HH", tag >> 16, tag & 0xFFFF) + b"SQ" + struct.pack("<HI", 0, 0xFFFFFFFF) + body + \
            struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    VRS = {0x00080005: b"CS", 0x00080020: b"DA", 0x00080030: b"TM", 0x00080050: b"SH", 0x00080052: b"CS",
           0x00080060: b"CS", 0x00080061: b"CS", 0x00080062: b"UI", 0x00080090: b"PN", 0x00081030: b"LO",
           0x0008103E: b"LO", 0x00080018: b"UI", 0x00080016: b"UI", 0x00100010: b"PN", 0x00100020: b"LO",
           0x00100030: b"DA", 0x00100040: b"CS", 0x0020000D: b"UI", 0x0020000E: b"UI", 0x00200010: b"SH",
           0x00200011: b"IS", 0x00200013: b"IS", 0x00201200: b"IS", 0x00201206: b"IS", 0x00201208: b"IS",
           0x00201209: b"IS", 0x0008002A: b"DT", 0x00080021: b"DA", 0x00080031: b"TM", 0x00100021: b"LO"}
    def identifier(keys, charset="ISO_IR 192"):
        elements = {}
        if charset is not None:
            elements[0x00080005] = element(0x00080005, b"CS", charset)
        for tag, value in keys.items():
            elements[tag] = value if isinstance(value, bytes) and value[:2] == struct.pack("<H", tag >> 16) \
                else element(tag, VRS[tag], value)
        return b"".join(elements[t] for t in sorted(elements))
    if target == "worklist":
        # FuzzWorklist.swift: the first byte picks the answer's character set (UTF-8, ASCII, Latin-1, Cyrillic,
        # ISO 2022 IR 87, Arabic); the rest is the identifier with a Scheduled Procedure Step Sequence item.
        def step(aet="", modality="", date="", time="", status="", spsid=""):
            return sequence(0x00400100, [element(0x00080060, b"CS", modality) + element(0x00400001, b"AE", aet) +
                                         element(0x00400002, b"DA", date) + element(0x00400003, b"TM", time) +
                                         element(0x00400009, b"SH", spsid) + element(0x00400020, b"CS", status)])
        def top(name="", pid="", accession="", rpid="", uid="", charset="ISO_IR 192"):
            head = element(0x00080005, b"CS", charset) if charset is not None else b""
            return head + element(0x00080050, b"SH", accession) + element(0x00100010, b"PN", name) + \
                element(0x00100020, b"LO", pid) + element(0x0020000D, b"UI", uid) + element(0x00401001, b"SH", rpid)
        wl = []
        for n, (keys, item) in enumerate([
            ({}, {}), ({"name": "DOE*"}, {"aet": "CT1"}), ({"name": "иванов*"}, {"modality": "MR"}),
            ({"name": "Өмүр?еков*"}, {"date": "20240101-"}), ({"name": "*علی"}, {"date": "-2024"}),
            ({"name": "山田*"}, {"date": "2024-2023"}), ({"pid": "P\\3"}, {"time": "1000-1100"}),
            ({"accession": "A1?"}, {"status": "SCHEDULED"}), ({"uid": "1.2.826.0.1.8.3\\1.2.826.0.1.8.4"}, {"spsid": "SPS*"}),
            ({"rpid": "RP?"}, {"date": "20240105", "time": "10"}), ({"name": "^"}, {"date": "2024.02.10"}),
            ({"name": b"\x1b$B" + "山田".encode("iso2022_jp")[3:-3] + b"\x1b(B*", "charset": "\\ISO 2022 IR 87"}, {}),
            ({"name": "*", "pid": "*"}, {"aet": "*", "modality": "?T"}), ({"charset": None}, {"date": "99999999-"}),
        ]):
            wl.append(bytes([n % 6]) + top(**keys) + step(**item))
        wl.append(bytes([1]) + top())  # no sequence
        wl.append(bytes([2]) + top() + sequence(0x00400100, []))  # empty sequence
        wl.append(bytes([3]) + top() + sequence(0x00400100, [b""]))  # one empty item: every step attribute
        for n, seed in enumerate(wl):
            with open(os.path.join(corpus, "seed%03d" % n), "wb") as f:
                f.write(seed)
        print("wrote", len(wl), "seeds to", corpus)
        sys.exit(0)
    ret = {0x00100010: "", 0x00100020: "", 0x0020000D: "", 0x00080020: "", 0x00080050: "", 0x00080061: "",
           0x00201206: "", 0x00201208: ""}
    ser = {0x0020000E: "", 0x00080060: "", 0x00200011: "", 0x00201209: ""}
    img = {0x00080018: "", 0x00080016: "", 0x00200013: ""}
    STUDY, SERIES, IMAGE, PATIENT_ROOT, CI = 1, 2, 3, 4, 8
    seeds = []
    def add(mode, keys, charset="ISO_IR 192"):
        seeds.append(bytes([mode]) + identifier({**ret, **keys}, charset))
    for name in ["DOE^JOHN", "DOE*", "*", "?OE^JOHN", "d*", "Иванов*", "ИВАНОВ?^*", "Өмүрбеков^Ңурлан", "ҮСӨН*",
                 "رضایی*", "*^علی", "Yamada*", "山田*", "=山田^太郎", "DOE^JOHN\\Иванов^Иван", "**", "*?*", "O'BRIEN^ PAT "]:
        add(STUDY, {0x00100010: name})
        add(STUDY | CI, {0x00100010: name.lower()})
    add(PATIENT_ROOT, {0x00100010: "DOE*", 0x00201200: ""})
    add(PATIENT_ROOT, {0x00100020: "P1\\P2"})
    add(PATIENT_ROOT | CI, {0x00100010: "иванов*"})
    for date in ["20240101-", "-2024", "2024-2023", "20240101-20240131", "20240301", "2024", "202403", "-", "--",
                 "20240101-20240131\\20240301-", "2024.01.01-2024.12.31", "20241301", "99999999-", "-00000000",
                 "20240229", "2024022", "20240101-2024013", "\\", "20240105\\20240105"]:
        add(STUDY, {0x00080020: date})
        add(STUDY, {0x00080020: date, 0x00100020: "P1"})
    for time in ["1015-", "-1015", "101500-235959", "10", "101500.123456-", "2359-0000", "10:15-11:00", "-"]:
        add(STUDY, {0x00080030: time})
        add(STUDY, {0x00080020: "2024-", 0x00080030: time})
    add(STUDY, {0x00080020: "20240101", 0x00080030: "1015"})  # combined date-time matching
    for dt in ["20240101101500-", "2024-2025", "20240101101500.000000+0100-20240102"]:
        add(IMAGE, {**ser, **img, **{0x0008002A: dt}})
    for accession in ["A1", "a1", "A*", "ACC\\ACC2", " A1 ", "Ж-7", "A\\*1", "A?1", ""]:
        add(STUDY, {0x00080050: accession})
        add(STUDY | CI, {0x00080050: accession, 0x00100010: "doe*"})
    uids = "\\".join("1.2.826.0.1.9.%d" % n for n in range(25))
    add(STUDY, {0x0020000D: uids})
    add(STUDY, {0x0020000D: "1.2.826.0.1.9.1\\\\1.2.826.0.1.9.2\\"})
    add(SERIES, {**ser, **{0x0020000D: "1.2.826.0.1.9.3", 0x0020000E: "1.2.826.0.1.9.3.1\\1.2.826.0.1.9.3.2"}})
    add(SERIES, {**ser, **{0x00080060: "CT\\MR"}})
    add(SERIES | PATIENT_ROOT, {**ser, **{0x00100020: "P2", 0x0020000D: "1.2.826.0.1.9.1", 0x00080060: "c?"}})
    add(IMAGE, {**ser, **img, **{0x0020000D: "1.2.826.0.1.9.4", 0x0020000E: "1.2.826.0.1.9.4.2"}})
    add(IMAGE, {**ser, **img, **{0x00080018: "1.2.826.0.1.9.4.2.24\\1.2.826.0.1.9.9.1.9", 0x00200013: "24"}})
    add(IMAGE | PATIENT_ROOT, {**ser, **img, **{0x00100020: "", 0x00080016: "1.2.840.10008.5.1.4.1.1.4"}})
    add(STUDY, {0x00080061: "CT\\US", 0x00080062: "1.2.840.10008.5.1.4.1.1.2"})
    add(STUDY, {0x00201206: "2", 0x00201208: "3"})
    add(STUDY, {0x00100030: "1980-", 0x00100040: "M"})
    add(STUDY, {0x00080090: "Петров*", 0x00081030: "ГОЛОВА"})
    add(STUDY, {}, charset=None)
    add(STUDY, {}, charset="")
    add(STUDY, {0x00100010: "*"}, charset="ISO_IR 100\\ISO_IR 144")
    # ISO 2022: Japanese in JIS X 0208 (IR 87) after ESC $ B, Cyrillic in IR 144 after ESC - L, Persian in IR 127.
    jis = "山田^太郎".encode("iso2022_jp")
    add(STUDY, {0x00100010: b"Yamada^Tarou=" + jis + b"=*"}, charset="\\ISO 2022 IR 87")
    add(STUDY, {0x00100010: b"\x1b-L" + "Иванов*".encode("iso8859_5")}, charset="ISO 2022 IR 144")
    add(STUDY, {0x00100010: "Иванов*".encode("iso8859_5")}, charset="ISO_IR 144")
    add(STUDY, {0x00100010: "رضایی*".replace("ی", "ي").encode("iso8859_6")}, charset="ISO_IR 127")
    add(STUDY, {0x00100010: b"\x1b$B\x1b(B\x1b$)C*"}, charset="ISO 2022 IR 6\\ISO 2022 IR 87\\ISO 2022 IR 149")
    add(STUDY, {0x00100010: b"\x1b$B\xff\xfe*"}, charset="\\ISO 2022 IR 87")
    # Sequences: Referenced Study Sequence, Procedure Code Sequence (nested), empty sequence.
    ref = element(0x00081150, b"UI", "1.2.840.10008.3.1.2.3.1") + element(0x00081155, b"UI", "1.2.826.0.1.9.1")
    seq_keys = sequence(0x00081110, [ref]) + sequence(0x00081032, [element(0x00080100, b"SH", "X*") +
                                                                     sequence(0x00080121, [b""])]) + sequence(0x00081111, [])
    seeds.append(bytes([STUDY]) + identifier(ret) + seq_keys)
    # Huge VMs and long values.
    add(STUDY, {0x00080020: "\\".join(["20240101-20240102"] * 300)})
    add(STUDY, {0x00100010: "\\".join(["A*"] * 400)})
    add(STUDY, {0x00100020: "\\".join("P%d" % n for n in range(500))})
    add(STUDY, {0x00100010: "?" * 64 + "*" * 64})
    # The identifier's own level (bit 4): missing, lowercase, unknown, PATIENT under Study Root.
    for level in [None, "study", "SERIES ", "FOO", "PATIENT", ""]:
        keys = dict(ret)
        if level is not None:
            keys[0x00080052] = level
        seeds.append(bytes([0x10]) + identifier(keys))
    for n, seed in enumerate(seeds):
        with open(os.path.join(corpus, "seed%03d" % n), "wb") as f:
            f.write(seed)
    print("wrote", len(seeds), "seeds to", corpus)
    sys.exit(0)

if target == "openjpeg":
    from openjpeg import encode  # pylibjpeg-openjpeg (encode_array in its utils)
    n = 0
    for spp, bits, signed, ratios, extra in [
            (1, 8, False, None, {}), (1, 12, False, None, {"add_tlm": True, "add_plt": True}), (1, 16, True, None, {}),
            (3, 8, False, None, {}), (1, 12, False, [20], {}), (3, 8, False, [10, 5], {"add_plt": True}),
            (1, 8, False, None, {"codec_format": 1})]:
        shape = (33, 40, spp) if spp > 1 else (33, 40)  # 6 resolution levels need 32 pixels a side
        a = rng.integers(0, 1 << (bits - 1 if signed else bits), shape)
        a = a.astype(np.int16 if signed else (np.uint8 if bits <= 8 else np.uint16))
        options = {"photometric_interpretation": 1 if spp == 3 else 2, "use_mct": spp == 3, "bits_stored": bits}
        if ratios:
            options["compression_ratios"] = ratios
        options.update(extra)
        with open(os.path.join(corpus, "seed%d" % n), "wb") as f:
            f.write(encode(a, **options))
        n += 1
    print("wrote", n, "seeds to", corpus)
    sys.exit(0)

cases = [
    (1, 8, 8, "dcmcjpeg", ["+el", "+sv", "1"]), (1, 16, 12, "dcmcjpeg", ["+el", "+sv", "6"]), (3, 8, 8, "dcmcjpeg", ["+el", "+sv", "4"]),
    (1, 16, 12, "dcmcjpeg", ["+ee"]), (1, 8, 8, "dcmcjpeg", ["+eb"]), (1, 8, 8, "dcmcjpls", ["+el"]),
    (1, 16, 16, "dcmcjpls", ["+en", "+md", "2"]), (3, 8, 8, "dcmcjpls", ["+el", "+is"]), (3, 8, 8, "dcmcjpls", ["+el", "+il"]),
] if target == "pure" else [
    (1, 8, 8, "dcmcjpeg", ["+eb"]), (1, 8, 8, "dcmcjpeg", ["+eb", "-ho"]), (1, 8, 8, "dcmcjpeg", ["+ee", "+be"]),
    (1, 8, 8, "dcmcjpeg", ["+ep"]), (1, 8, 8, "dcmcjpeg", ["+es"]), (3, 8, 8, "dcmcjpeg", ["+eb", "+s2"]),
    (3, 8, 8, "dcmcjpeg", ["+eb", "+s4"]), (3, 8, 8, "dcmcjpeg", ["+eb", "+cr"]), (3, 8, 8, "dcmcjpeg", ["+ep", "+q", "50"]),
]
with tempfile.TemporaryDirectory() as tmp:
    for n, (spp, ba, bs, tool, options) in enumerate(cases):
        shape = (12, 17, spp) if spp > 1 else (12, 17)
        a = (np.add.outer(np.arange(12), np.arange(17))[..., None] * 9 if spp > 1 else np.add.outer(np.arange(12), np.arange(17)) * 9)
        a = (np.broadcast_to(a, shape) + rng.integers(0, 20, shape)) % (1 << bs)
        ds = Dataset(); ds.file_meta = FileMetaDataset(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = "1.2.3.%d" % n
        ds.Rows, ds.Columns, ds.SamplesPerPixel = 12, 17, spp
        ds.PhotometricInterpretation = "RGB" if spp == 3 else "MONOCHROME2"
        if spp == 3: ds.PlanarConfiguration = 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = ba, bs, bs - 1, 0
        ds.PixelData = a.astype(np.uint8 if ba == 8 else np.uint16).tobytes()
        src, dst = os.path.join(tmp, "in.dcm"), os.path.join(tmp, "out.dcm")
        ds.save_as(src, enforce_file_format=True)
        subprocess.run([tool] + options + [src, dst], check=True)
        out = pydicom.dcmread(dst)
        frame = next(generate_frames(out.PixelData, number_of_frames=1))
        with open(os.path.join(corpus, "seed%02d.jpg" % n), "wb") as f:
            f.write(frame)
print("wrote", len(cases), "seeds to", corpus)
