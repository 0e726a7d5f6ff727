#!/usr/bin/env python3
"""Mixed load for the journal-server soak (issue 8): Scripts/soak.sh starts the server and runs this.

    soak_load.py --port PORT --seconds N [--send-timeout S] [--seed N]

Roles, all concurrent for N seconds, then a final check:
  appenders   create streams (PUT and POST /streams), append chunks whose bytes derive from
              (stream, incarnation, index) so any reader can check every byte, retry appends
              (duplicates), provoke conflicts and gaps, then complete / fail / cancel / delete /
              delete and create again under the same id; a ledger keeps what was acknowledged.
  followers   SSE from the start (or ?from=K) to the end event: each event is exactly the next
              index with exactly its bytes, and the end event matches the ledger.
  resumers    read some events, drop the connection (FIN or RST, sometimes mid-event), resume
              with Last-Event-ID, ?lastEventId= or ?from=, and must get exactly the missing
              chunks (or 204 when nothing is missing from an ended stream).
  slow        tiny receive buffer, small reads with sleeps, sometimes a stall longer than the
              server's --send-timeout: the data must stay exact, and a cut-off is allowed only
              after such a stall (the documented send timeout), after which they resume.
  malformed   garbage request lines, oversized heads, bad chunked bodies, bad JSON, unknown
              streams, invalid ids, bad resume ids: each gets its documented status (or is
              closed) and the server keeps answering /healthz (checked every second).
At the end every stream still in the journal is read in full (JSON pages and SSE) against the
ledger. Exit status 1 when any violation was seen; the summary goes to stdout.
"""

import argparse
import base64
import http.client
import json
import random
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"


# MARK: Payloads


def payload(sid, gen, index):
    """The bytes of chunk `index` of incarnation `gen` of stream `sid`: text (with newlines,
    leading spaces, multi-byte UTF-8), or binary with CR and NUL (sent as .b64 events)."""
    r = random.Random(f"{sid}#{gen}#{index}")
    roll = r.random()
    if roll < 0.02:
        n = r.randint(8_000, 60_000)
    elif roll < 0.04:
        n = 0
    else:
        n = min(int(r.expovariate(1 / 250)), 8_000)
    kind = r.random()
    if kind < 0.55:
        return bytes(r.choices(b"abcdefghijklmnopqrstuvwxyz0123456789 .,:\n", k=n))
    if kind < 0.75:
        return "".join(r.choices("aé€𝄞 \n:", k=max(n // 3, 0))).encode()
    return r.randbytes(n)


def big_payload(sid, gen, index):
    """Chunks of the large streams slow readers read: 2-8 KB of text."""
    r = random.Random(f"big#{sid}#{gen}#{index}")
    return bytes(r.choices(b"ABCDEFGHIJ\n", k=r.randint(2_000, 8_000)))


# MARK: Ledger and statistics


class Record:
    """One incarnation of a stream as acknowledged to its producer."""

    def __init__(self, sid, gen, big):
        self.sid = sid
        self.gen = gen
        self.big = big
        self.count = 0
        self.status = "open"  # or completed / failed / cancelled
        self.deleted = False
        self.cond = threading.Condition()

    def expected(self, index):
        return (big_payload if self.big else payload)(self.sid, self.gen, index)

    def wait_for(self, predicate, timeout=15):
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self), timeout)

    def update(self, **fields):
        with self.cond:
            for key, value in fields.items():
                setattr(self, key, value)
            self.cond.notify_all()


class Soak:
    def __init__(self, port, seconds, send_timeout, seed):
        self.port = port
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.send_timeout = send_timeout
        self.seed = seed
        self.lock = threading.Lock()
        self.records = []  # every Record, in creation order
        self.active = []  # Records readers may pick (recent ones)
        self.big = []  # big Records for slow readers
        self.counters = dict.fromkeys(
            [
                "requests",
                "streams_created",
                "chunks_appended",
                "duplicate_appends",
                "conflicts_checked",
                "events_delivered",
                "follows_completed",
                "resumes_verified",
                "resumes_at_end_204",
                "slow_readers",
                "slow_stalls",
                "send_timeout_cutoffs",
                "malformed_requests",
                "deleted_under_reader",
                "recreated",
                "final_streams_verified",
                "final_chunks_verified",
                "health_checks",
            ],
            0,
        )
        self.violations = []
        self.stopping = threading.Event()

    def count(self, name, n=1):
        with self.lock:
            self.counters[name] += n

    def violation(self, text):
        with self.lock:
            self.violations.append(text)
        print(f"VIOLATION: {text}", file=sys.stderr, flush=True)

    def running(self):
        return time.monotonic() < self.deadline and not self.stopping.is_set()

    def register(self, record):
        with self.lock:
            self.records.append(record)
            self.active.append(record)
            if len(self.active) > 64:
                self.active.pop(0)
            if record.big:
                self.big.append(record)
                if len(self.big) > 8:
                    self.big.pop(0)
            self.counters["streams_created"] += 1

    def pick(self, r, big=False):
        with self.lock:
            pool = self.big if big else self.active
            candidates = [rec for rec in pool if not rec.deleted]
            return r.choice(candidates) if candidates else None


# MARK: HTTP


class Client:
    """A keep-alive HTTP/1.1 connection for ordinary requests."""

    def __init__(self, soak):
        self.soak = soak
        self.conn = None

    def request(self, method, path, body=b"", headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.soak.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                self.soak.count("requests")
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, data
            except (OSError, http.client.HTTPException) as error:
                self.close()
                if attempt == 1:
                    raise
                # Only idempotent requests are retried by callers' design (?index=, PUT, GET).
                if method == "POST" and "index=" not in path and not path.endswith(("/complete", "/cancel", "/fail")):
                    raise
                last = error
        raise last

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def quote(sid):
    return sid  # ids used here are URL-safe


# MARK: Appenders


def appender(soak, number):
    r = random.Random(soak.seed * 1000 + number)
    client = Client(soak)
    serial = 0
    try:
        while soak.running():
            serial += 1
            big = number == 0 and serial % 6 == 1
            sid, gen = f"a{number}-{serial}", 0
            while True:
                record = create(soak, client, r, sid, gen, big)
                if record is None:
                    break
                ending = fill(soak, client, r, record)
                if ending != "recreate" or not soak.running():
                    break
                gen += 1
                soak.count("recreated")
    except Exception as error:  # noqa: BLE001 - any failure is a finding
        soak.violation(f"appender {number}: {type(error).__name__}: {error}")
    finally:
        client.close()


def create(soak, client, r, sid, gen, big):
    if gen == 0 and not big and r.random() < 0.1:
        status, body = client.request("POST", "/streams", b'{"metadata":{"soak":"generated"}}')
        if status != 201:
            soak.violation(f"POST /streams: {status} {body[:200]!r}")
            return None
        sid = json.loads(body)["id"]
    else:
        status, body = client.request("PUT", f"/streams/{sid}", b'{"metadata":{"soak":"1"}}')
        if status != 201:
            soak.violation(f"PUT /streams/{sid} (incarnation {gen}): {status} {body[:200]!r}")
            return None
        again, _ = client.request("PUT", f"/streams/{sid}", b'{"metadata":{"soak":"1"}}') if r.random() < 0.05 else (200, b"")
        if again != 200:
            soak.violation(f"repeated PUT /streams/{sid}: {again}, expected 200")
    record = Record(sid, gen, big)
    soak.register(record)
    return record


def fill(soak, client, r, record):
    sid = record.sid
    target = 150 if record.big else r.choice([0, 1, 3, 10, 20, 40, 80, 150, 300])
    index = 0
    while index < target and (soak.running() or index < 5):
        mode = r.random()
        if mode < 0.55:
            data = record.expected(index)
            status, body = client.request("POST", f"/streams/{sid}/chunks?index={index}", data)
            if status != 201 or json.loads(body).get("index") != index:
                soak.violation(f"append {sid}[{index}]: {status} {body[:200]!r}")
                return "broken"
            stored = 1
            if r.random() < 0.05:  # a producer retrying after a lost acknowledgement
                status, body = client.request("POST", f"/streams/{sid}/chunks?index={index}", data)
                if status != 200 or not json.loads(body).get("duplicate"):
                    soak.violation(f"retried append {sid}[{index}]: {status} {body[:200]!r}")
                soak.count("duplicate_appends")
        elif mode < 0.65:
            status, body = client.request("POST", f"/streams/{sid}/chunks", record.expected(index))
            if status != 201 or json.loads(body).get("index") != index:
                soak.violation(f"append without index {sid}[{index}]: {status} {body[:200]!r}")
                return "broken"
            stored = 1
        else:
            n = min(r.randint(2, 20), target - index) or 1
            chunks = [record.expected(index + k) for k in range(n)]
            document = {"chunks": [base64.b64encode(c).decode() for c in chunks], "encoding": "base64"}
            status, body = client.request("POST", f"/streams/{sid}/batch?index={index}", json.dumps(document).encode())
            reply = json.loads(body) if body else {}
            if status != 201 or reply.get("first") != index or reply.get("count") != n:
                soak.violation(f"batch {sid}[{index}+{n}]: {status} {body[:200]!r}")
                return "broken"
            stored = n
        index += stored
        record.update(count=index)
        soak.count("chunks_appended", stored)
        if r.random() < 0.03:
            conflict_checks(soak, client, r, record)
        if not record.big and r.random() < 0.3:
            time.sleep(r.uniform(0, 0.01))
    return finish(soak, client, r, record)


def conflict_checks(soak, client, r, record):
    sid, count = record.sid, record.count
    if count > 0:
        at = r.randrange(count)
        status, body = client.request("POST", f"/streams/{sid}/chunks?index={at}", record.expected(at) + b"!")
        if status != 409 or json.loads(body).get("code") != "chunk_conflict":
            soak.violation(f"conflicting append {sid}[{at}]: {status} {body[:200]!r}")
    status, body = client.request("POST", f"/streams/{sid}/chunks?index={count + 3}", b"gap")
    reply = json.loads(body) if body else {}
    if status != 409 or reply.get("code") != "index_gap" or reply.get("next") != count:
        soak.violation(f"gap append {sid}[{count + 3}]: {status} {body[:200]!r}")
    soak.count("conflicts_checked")


def finish(soak, client, r, record):
    sid = record.sid
    roll = r.random()
    if record.big:
        roll = 0
    if roll < 0.72:
        path, status_name, body = f"/streams/{sid}/complete", "completed", b""
    elif roll < 0.80:
        path, status_name, body = f"/streams/{sid}/fail", "failed", b'{"reason":"soak: model error"}'
    elif roll < 0.88:
        path, status_name, body = f"/streams/{sid}/cancel", "cancelled", b""
    else:
        path = None
    if path:
        status, reply = client.request("POST", path, body)
        info = json.loads(reply) if reply else {}
        if status != 200 or info.get("status") != status_name or info.get("chunkCount") != record.count:
            soak.violation(f"finish {sid} as {status_name}: {status} {reply[:200]!r}")
            return "broken"
        record.update(status=status_name)
        # A finished stream refuses more chunks.
        if r.random() < 0.1:
            status, reply = client.request("POST", f"/streams/{sid}/chunks?index={record.count}", b"late")
            if status != 409:
                soak.violation(f"append to finished {sid}: {status} {reply[:200]!r}")
        if r.random() < 0.9:
            return "finished"
    # Delete: open or finished. Some ids are then created again (a new incarnation).
    status, reply = client.request("DELETE", f"/streams/{sid}")
    if status != 200:
        soak.violation(f"DELETE {sid}: {status} {reply[:200]!r}")
        return "broken"
    record.update(deleted=True)
    status, _ = client.request("GET", f"/streams/{sid}")
    if status != 404:
        soak.violation(f"GET deleted {sid}: {status}, expected 404")
    return "recreate" if r.random() < 0.5 else "deleted"


# MARK: Event streams


class EventConnection:
    """A raw SSE connection: response head, then events parsed as they arrive."""

    def __init__(self, soak, path, headers=(), rcvbuf=None, timeout=60):
        self.soak = soak
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((HOST, soak.port))
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: soak\r\nAccept: text/event-stream\r\n{extra}\r\n".encode())
        soak.count("requests")
        self.buffer = b""
        self.status = None
        self.eof = False
        self.last_data = time.monotonic()

    def recv(self, size=65536):
        try:
            data = self.sock.recv(size)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
        else:
            self.last_data = time.monotonic()
        self.buffer += data
        return data

    def read_head(self):
        while b"\r\n\r\n" not in self.buffer:
            if not self.recv():
                return None
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ", 2)[1])
        if self.status != 200:
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(self.buffer) < length and self.recv():
                pass
        return self.status

    def take_events(self, limit=None):
        """Complete events in the buffer (up to `limit` bytes of it), as dicts."""
        events = []
        text = self.buffer if limit is None else self.buffer[:limit]
        consumed = 0
        while True:
            end = text.find(b"\n\n", consumed)
            if end < 0:
                break
            block = text[consumed:end]
            consumed = end + 2
            event = {"data": [], "event": None, "id": None}
            for line in block.split(b"\n"):
                if line.startswith(b":"):
                    continue
                name, colon, value = line.partition(b":")
                if colon and value.startswith(b" "):
                    value = value[1:]
                if name == b"data":
                    event["data"].append(value)
                elif name == b"event":
                    event["event"] = value.decode()
                elif name == b"id":
                    event["id"] = value.decode()
            if event["data"] or event["event"] or event["id"] is not None:
                events.append(event)
        self.buffer = self.buffer[consumed:] if limit is None else b""
        return events

    def close(self, reset=False):
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def decode(event):
    data = b"\n".join(event["data"])
    if event["event"] and event["event"].endswith(".b64"):
        return base64.b64decode(data, validate=True)
    return data


class Reader:
    """Follows one stream incarnation to its end across any number of connections and checks
    that what arrives is exactly the ledger's chunks, in order, each once."""

    def __init__(self, soak, r, record, role):
        self.soak = soak
        self.r = r
        self.record = record
        self.role = role
        self.last = -1  # last chunk index received
        self.done = False
        self.name = f"{role} {record.sid}#{record.gen}"

    def fail(self, text):
        self.soak.violation(f"{self.name}: {text}")
        self.done = True

    def resume_request(self, first_connection):
        base = f"/streams/{self.record.sid}/events"
        if self.last < 0:
            if first_connection and self.role == "follower" and self.r.random() < 0.2:
                return base + "?from=0", []
            return base, []
        roll = self.r.random()
        if roll < 0.5:
            return base, [("Last-Event-ID", str(self.last))]
        if roll < 0.75:
            return base + f"?lastEventId={self.last}", []
        return base + f"?from={self.last + 1}", []

    def run(self, drop_probability=0.0, rcvbuf=None, read_size=65536, pause=0.0, stall_probability=0.0):
        first = True
        reconnects = 0
        while not self.done:
            if not first:
                if self.record.deleted:
                    self.soak.count("deleted_under_reader")
                    return
                if self.role == "slow" and not self.soak.running():
                    return  # slow readers stop with the load; the final check reads everything
                reconnects += 1
                if reconnects > 2000:
                    return self.fail("more than 2000 reconnections")
            path, headers = self.resume_request(first)
            resumed_from = self.last if not first else None
            first = False
            connection = EventConnection(self.soak, path, headers, rcvbuf=rcvbuf)
            try:
                self.serve(connection, resumed_from, drop_probability, read_size, pause, stall_probability)
            except socket.timeout:
                self.fail(f"no data for 60 s after index {self.last} (server hung?)")
            finally:
                connection.close(reset=self.r.random() < 0.5)

    def serve(self, connection, resumed_from, drop_probability, read_size, pause, stall_probability):
        record = self.record
        status = connection.read_head()
        if status is None:
            if record.deleted:
                self.soak.count("deleted_under_reader")
                self.done = True
                return
            return self.fail("connection closed before a response head")
        if status == 404:
            if record.wait_for(lambda rec: rec.deleted):
                self.soak.count("deleted_under_reader")
                self.done = True
                return
            return self.fail("404 for a stream the ledger has")
        if status == 204:
            ok = record.wait_for(lambda rec: rec.status != "open" and rec.count == self.last + 1)
            if not ok and not record.deleted:
                return self.fail(f"204 after index {self.last} but the ledger has {record.count} ({record.status})")
            self.soak.count("resumes_at_end_204")
            self.done = True
            return
        if status != 200:
            return self.fail(f"status {status}")
        # Any connection, the first included, may land on a newer incarnation of the id: the
        # producer can delete and create it again between pick() and this request. Only the
        # first event of a connection can show that; later ones come from the same hub.
        first_event = True
        stalled_at = None
        # Where this connection is dropped (bytes of body received), and whether it stalls.
        drop_after = self.r.randint(1, 48_000) if self.r.random() < drop_probability else None
        stall_after = self.r.randint(1, 30_000) if self.r.random() < stall_probability else None
        received = len(connection.buffer)
        while not self.done:
            if self.role == "slow" and not self.soak.running():
                return
            cut = None
            if drop_after is not None and received >= drop_after:
                # Keep only the bytes up to the drop point: often mid-event, never dispatched.
                cut = max(0, len(connection.buffer) - (received - drop_after))
            for event in connection.take_events(cut):
                if not self.handle(event, first_event, resumed_from):
                    return
                if event["id"] is not None:
                    first_event = False
            if cut is not None:
                return  # dropped; the events beyond the cut were never received
            if self.done:
                return
            if stall_after is not None and received >= stall_after and stalled_at is None:
                # Stop reading past the send timeout: the server may cut us off (documented).
                self.soak.count("slow_stalls")
                time.sleep(self.soak.send_timeout * 2 + 1)
                stalled_at = time.monotonic()
            elif pause:
                time.sleep(self.r.uniform(0, pause))
            before = connection.last_data
            data = connection.recv(read_size)
            received += len(data)
            if not data:
                for event in connection.take_events():
                    if not self.handle(event, first_event, resumed_from):
                        return
                    if event["id"] is not None:
                        first_event = False
                if self.done:
                    return
                if record.deleted:
                    return  # the next round sees the delete
                if stalled_at is not None:
                    self.soak.count("send_timeout_cutoffs")
                    return
                # Only the send timeout (no progress for that long) may cut a reader off.
                if time.monotonic() - before < self.soak.send_timeout * 0.5:
                    return self.fail(f"connection closed without an end event after index {self.last}")
                self.soak.count("send_timeout_cutoffs")
                return

    def handle(self, event, first_event, resumed_from):
        record = self.record
        kind = event["event"] or "message"
        if kind == "reset":
            if record.deleted:
                self.soak.count("deleted_under_reader")
                self.done = True
                return False
            self.fail(f"unexpected reset {decode(event)!r} after index {self.last}")
            return False
        if kind == "end":
            info = json.loads(decode(event))
            if info.get("status") == "deleted":
                if not record.wait_for(lambda rec: rec.deleted):
                    self.fail("end 'deleted' for a stream the ledger has")
                else:
                    self.soak.count("deleted_under_reader")
                self.done = True
                return False
            ok = record.wait_for(lambda rec: rec.status != "open" or rec.deleted)
            matches = info.get("status") == record.status and self.last + 1 == record.count
            if record.deleted and not (ok and matches):
                # The end of a newer incarnation (or of this one, deleted since): not ours to judge.
                self.soak.count("deleted_under_reader")
                self.done = True
                return False
            if info.get("status") != record.status or self.last + 1 != record.count:
                self.fail(
                    f"end {info} after index {self.last}; ledger: {record.count} chunks, {record.status}"
                )
                return False
            if resumed_from is not None and first_event:
                self.soak.count("resumes_verified")
            self.soak.count("follows_completed")
            self.done = True
            return False
        if event["id"] is None:
            self.fail(f"event without id: {event}")
            return False
        index = int(event["id"])
        data = decode(event)
        if index != self.last + 1:
            what = "duplicate" if index <= self.last else "gap"
            if record.deleted and first_event and data != record.expected(index):
                # Landed on a newer incarnation of the id: this one is gone.
                self.soak.count("deleted_under_reader")
                self.done = True
                return False
            self.fail(f"{what}: index {index} after {self.last} (resumed from {resumed_from})")
            return False
        if data != record.expected(index):
            if record.deleted and first_event:
                self.soak.count("deleted_under_reader")
                self.done = True
                return False
            self.fail(f"index {index}: {len(data)} bytes differ from the acknowledged chunk")
            return False
        if index >= record.count and not record.wait_for(lambda rec: rec.count > index, timeout=10):
            self.fail(f"index {index} delivered but never acknowledged (ledger {record.count})")
            return False
        if first_event and resumed_from is not None:
            self.soak.count("resumes_verified")
        self.last = index
        self.soak.count("events_delivered")
        return True


def reader_loop(soak, seed_offset, role, big=False, idle=0.05, **run_options):
    """Picks streams and reads each with a Reader until the run ends; `run_options` go to
    Reader.run. A socket error is a violation: the server must keep every connection sane."""
    r = random.Random(soak.seed * 1000 + seed_offset)
    while soak.running():
        record = soak.pick(r, big=big)
        if record is None:
            time.sleep(idle)
            continue
        if role == "slow":
            soak.count("slow_readers")
        options = {key: value(r) if callable(value) else value for key, value in run_options.items()}
        try:
            Reader(soak, r, record, role).run(**options)
        except OSError as error:
            soak.violation(f"{role} {record.sid}: {error}")


def follower(soak, number):
    reader_loop(soak, 100 + number, "follower")


def resumer(soak, number):
    reader_loop(soak, 200 + number, "resumer", drop_probability=0.7,
                read_size=lambda r: r.choice([64, 700, 4096, 65536]))


def slow_reader(soak, number):
    reader_loop(soak, 300 + number, "slow", big=True, idle=0.1, rcvbuf=4096,
                read_size=lambda r: r.choice([256, 1024, 4096]), pause=0.004, stall_probability=0.25)


# MARK: Malformed requests


def raw_exchange(soak, data, timeout=10, then_close=False):
    """Sends raw bytes; returns (status or None when closed without a response, body)."""
    sock = socket.create_connection((HOST, soak.port), timeout=timeout)
    try:
        try:
            sock.sendall(data)
        except OSError:
            pass  # the server may refuse early (oversized head) and close
        if then_close:
            return None, b""
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None, buffer
            buffer += chunk
        head, body = buffer.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            body += chunk
        return status, body
    finally:
        sock.close()


def malformed_cases(soak, serial):
    finished = f"mal-fin-{serial}"
    big_head = "X-Big: " + "h" * 20_000
    cases = [
        ("garbage request line", b"GARBAGE\r\n\r\n", {400}),
        ("bare LF", b"GET /healthz HTTP/1.1\nHost: h\n\n", {400}),
        ("header without colon", b"GET /healthz HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n", {400}),
        ("obsolete folding", b"GET /healthz HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n", {400}),
        ("no Host", b"GET /healthz HTTP/1.1\r\n\r\n", {400}),
        ("HTTP/3.0", b"GET /healthz HTTP/3.0\r\nHost: h\r\n\r\n", {505}),
        ("long URI", ("GET /" + "u" * 9000 + " HTTP/1.1\r\nHost: h\r\n\r\n").encode(), {414}),
        ("oversized header", f"GET /healthz HTTP/1.1\r\nHost: h\r\n{big_head}\r\n\r\n".encode(), {431}),
        ("too many headers", ("GET /healthz HTTP/1.1\r\nHost: h\r\n" + "X-A: b\r\n" * 101 + "\r\n").encode(), {431}),
        ("body too large", b"POST /streams/m/chunks HTTP/1.1\r\nHost: h\r\nContent-Length: 5000000\r\n\r\n", {413}),
        (
            "Content-Length and chunked",
            b"POST /streams/m/chunks HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            {400},
        ),
        (
            "two Content-Lengths",
            b"POST /streams/m/chunks HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
            {400},
        ),
        (
            "chunk size not hex",
            b"POST /streams/m/chunks HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
            {400},
        ),
        (
            "chunk longer than its size",
            b"POST /streams/m/chunks HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcde\r\n",
            {400},
        ),
        ("unknown method", b"BREW /streams/m HTTP/1.1\r\nHost: h\r\n\r\n", {405}),
        ("method not allowed", b"DELETE /healthz HTTP/1.1\r\nHost: h\r\n\r\n", {405}),
        ("unknown route", b"GET /nothing/here HTTP/1.1\r\nHost: h\r\n\r\n", {404}),
        ("id not UTF-8", b"GET /streams/%FF%FE HTTP/1.1\r\nHost: h\r\n\r\n", {400}),
        ("id with ..", b"GET /streams/a..b HTTP/1.1\r\nHost: h\r\n\r\n", {400}),
        ("id encoded ..", b"GET /streams/%2E%2E/events HTTP/1.1\r\nHost: h\r\n\r\n", {400}),
        ("bad percent escape", b"GET /streams/%zz HTTP/1.1\r\nHost: h\r\n\r\n", {400}),
        ("unknown stream info", f"GET /streams/none-{serial} HTTP/1.1\r\nHost: h\r\n\r\n".encode(), {404}),
        ("unknown stream events", f"GET /streams/none-{serial}/events HTTP/1.1\r\nHost: h\r\n\r\n".encode(), {404}),
        ("append to unknown", request("POST", f"/streams/none-{serial}/chunks", b"x"), {404}),
        ("truncated JSON", request("POST", f"/streams/{finished}/fail", b'{"a":'), {400}),
        ("JSON not an object", request("PUT", f"/streams/mal-{serial}", b"[1,2]"), {400}),
        ("metadata not strings", request("PUT", f"/streams/mal-{serial}", b'{"metadata":{"k":5}}'), {400}),
        ("unknown field", request("PUT", f"/streams/mal-{serial}", b'{"metdata":{}}'), {400}),
        ("batch bad base64", request("POST", f"/streams/{finished}/batch", b'{"chunks":["@@@"],"encoding":"base64"}'), {400}),
        ("batch empty", request("POST", f"/streams/{finished}/batch", b'{"chunks":[]}'), {400}),
        ("index not a number", request("POST", f"/streams/{finished}/chunks?index=abc", b"x"), {400}),
        ("from negative", f"GET /streams/{finished}/chunks?from=-1 HTTP/1.1\r\nHost: h\r\n\r\n".encode(), {400}),
        ("append to finished", request("POST", f"/streams/{finished}/chunks", b"x"), {409}),
        ("gap", request("POST", f"/streams/{finished}/chunks?index=9", b"x"), {409}),
    ]
    return finished, cases


def request(method, path, body):
    return f"{method} {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def malformed(soak):
    r = random.Random(soak.seed * 1000 + 400)
    client = Client(soak)
    serial = 0
    try:
        while soak.running():
            serial += 1
            finished, cases = malformed_cases(soak, serial)
            client.request("PUT", f"/streams/{finished}")
            client.request("POST", f"/streams/{finished}/chunks", b"only")
            client.request("POST", f"/streams/{finished}/complete")
            r.shuffle(cases)
            for name, data, expected in cases:
                if not soak.running():
                    break
                status, body = raw_exchange(soak, data)
                soak.count("requests")
                soak.count("malformed_requests")
                if status not in expected:
                    soak.violation(f"malformed '{name}': got {status} {body[:120]!r}, expected {sorted(expected)}")
                elif body and b'"code"' not in body:
                    soak.violation(f"malformed '{name}': error without a JSON code: {body[:120]!r}")
                time.sleep(0.005)
            # Resume ids that cannot be used: a reset event naming the earliest chunk, never silence.
            for bad in ("abc", "99999", "-1"):
                connection = EventConnection(soak, f"/streams/{finished}/events", [("Last-Event-ID", bad)], timeout=10)
                try:
                    if connection.read_head() != 200:
                        soak.violation(f"Last-Event-ID {bad}: status {connection.status}")
                        continue
                    events = connection.take_events()
                    while len(events) < 3 and connection.recv():
                        events += connection.take_events()
                    kinds = [e["event"] or "message" for e in events]
                    if kinds[:3] != ["reset", "message", "end"] or events[1]["id"] != "0" or decode(events[1]) != b"only":
                        soak.violation(f"Last-Event-ID {bad}: events {events[:3]}")
                    soak.count("malformed_requests")
                finally:
                    connection.close()
            # Half a request then a close, a reset, and an oversized chunk.
            raw_exchange(soak, b"POST /streams/m/chunks HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc", then_close=True)
            sock = socket.create_connection((HOST, soak.port))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(b"GET /heal")
            sock.close()
            soak.count("malformed_requests", 2)
            if serial % 10 == 1:
                status, body = client.request("POST", f"/streams/mal-big-{serial}/chunks", b"x" * (1 << 20 | 1))
                soak.count("malformed_requests")
                if status not in (404, 413):
                    soak.violation(f"oversized chunk: {status} {body[:120]!r}")
            time.sleep(0.05)
    except Exception as error:  # noqa: BLE001
        soak.violation(f"malformed driver: {type(error).__name__}: {error}")
    finally:
        client.close()


# MARK: Health and final check


def health(soak):
    while not soak.stopping.is_set():
        started = time.monotonic()
        try:
            status, _ = raw_exchange(soak, b"GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", timeout=5)
            if status != 200:
                soak.violation(f"/healthz: {status}")
        except OSError as error:
            soak.violation(f"/healthz did not answer within 5 s: {error}")
        soak.count("health_checks")
        soak.stopping.wait(max(0, 1 - (time.monotonic() - started)))


def final_check(soak, records):
    client = Client(soak)
    r = random.Random(soak.seed)
    try:
        for record in records:
            if record.deleted:
                continue
            status, body = client.request("GET", f"/streams/{record.sid}")
            info = json.loads(body) if status == 200 else {}
            if status != 200 or info.get("chunkCount") != record.count or info.get("status") != record.status:
                soak.violation(f"final info {record.sid}#{record.gen}: {status} {body[:200]!r}; ledger {record.count} {record.status}")
                continue
            index = 0
            while index < record.count:
                status, body = client.request("GET", f"/streams/{record.sid}/chunks?from={index}&limit=1000")
                page = json.loads(body)
                if status != 200 or not page["chunks"]:
                    soak.violation(f"final read {record.sid}#{record.gen} from {index}: {status}")
                    break
                for chunk in page["chunks"]:
                    data = chunk["text"].encode() if "text" in chunk else base64.b64decode(chunk["base64"])
                    if chunk["index"] != index or data != record.expected(index):
                        soak.violation(f"final read {record.sid}#{record.gen}[{index}] differs from the ledger")
                        index = record.count
                        break
                    index += 1
                if page["next"] != index and index < record.count:
                    soak.violation(f"final read {record.sid}: next {page['next']} != {index}")
                    break
            soak.count("final_chunks_verified", index)
            # And the whole stream once more as SSE, start to end event.
            reader = Reader(soak, r, record, "final")
            reader.run()
            if reader.last + 1 != record.count and not record.deleted:
                soak.violation(f"final SSE {record.sid}#{record.gen}: {reader.last + 1} of {record.count} chunks")
            soak.count("final_streams_verified")
    except Exception as error:  # noqa: BLE001
        soak.violation(f"final check: {type(error).__name__}: {error}")
    finally:
        client.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--send-timeout", type=float, default=3, help="the server's --send-timeout in seconds")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--appenders", type=int, default=4)
    parser.add_argument("--followers", type=int, default=6)
    parser.add_argument("--resumers", type=int, default=4)
    parser.add_argument("--slow", type=int, default=2)
    args = parser.parse_args()

    soak = Soak(args.port, args.seconds, args.send_timeout, args.seed)
    started = time.monotonic()
    print(f"soak: seed {args.seed}, {args.seconds:g} s against 127.0.0.1:{args.port}", flush=True)
    monitor = threading.Thread(target=health, args=(soak,), daemon=True)
    monitor.start()
    workers = [threading.Thread(target=appender, args=(soak, n)) for n in range(args.appenders)]
    workers += [threading.Thread(target=follower, args=(soak, n)) for n in range(args.followers)]
    workers += [threading.Thread(target=resumer, args=(soak, n)) for n in range(args.resumers)]
    workers += [threading.Thread(target=slow_reader, args=(soak, n)) for n in range(args.slow)]
    workers.append(threading.Thread(target=malformed, args=(soak,)))
    for worker in workers:
        worker.daemon = True
        worker.start()
    # Readers finish the stream they are on after the deadline; give them a bounded grace.
    grace = time.monotonic() + args.seconds + 180
    for worker in workers:
        worker.join(max(0, grace - time.monotonic()))
    stuck = [w for w in workers if w.is_alive()]
    if stuck:
        soak.violation(f"{len(stuck)} load threads still running 180 s after the deadline")
    load_seconds = time.monotonic() - started
    with soak.lock:
        records = list(soak.records)
    final_check(soak, records)
    soak.stopping.set()
    monitor.join(6)

    c = soak.counters
    print(f"duration: {load_seconds:.1f} s load + {time.monotonic() - started - load_seconds:.1f} s final check")
    print(f"requests: {c['requests']}")
    print(f"streams: {c['streams_created']} created ({c['recreated']} ids created again after a delete)")
    print(f"chunks appended: {c['chunks_appended']} (duplicates retried: {c['duplicate_appends']}, conflict/gap checks: {c['conflicts_checked']})")
    print(f"events delivered: {c['events_delivered']} (follows to the end: {c['follows_completed']})")
    print(f"resumes verified: {c['resumes_verified']} (+ {c['resumes_at_end_204']} answered 204 at the end)")
    print(f"slow readers: {c['slow_readers']} (stalls past the send timeout: {c['slow_stalls']}, send-timeout cut-offs: {c['send_timeout_cutoffs']})")
    print(f"streams deleted under a reader: {c['deleted_under_reader']}")
    print(f"malformed requests: {c['malformed_requests']}")
    print(f"final check: {c['final_streams_verified']} streams, {c['final_chunks_verified']} chunks")
    print(f"health checks: {c['health_checks']}")
    print(f"violations: {len(soak.violations)}")
    for text in soak.violations[:50]:
        print(f"  {text}")
    sys.exit(1 if soak.violations else 0)


if __name__ == "__main__":
    main()
