"""The firehose server: just enough graphql-transport-ws for the benchmarks, from prebuilt frames.

Run it as ``python -m benchmarks.firehose [--port N] [--cpu K]``: it prints ``LISTENING <port>``
once the socket listens and runs until its stdin reaches EOF or it gets SIGTERM/SIGINT, so a
parent that dies takes it along.

It is a plain ``asyncio.Protocol``, with no websockets or graphql-core on the hot path, so that
the client under test, never the server, is the bottleneck:

- the upgrade is answered by hand (RFC 6455 §4.2.2), offering only ``graphql-transport-ws``;
- client frames are unmasked with one big-integer XOR; fragments and control frames are handled;
- a subscription ``burst(count: N, size: S)`` is streamed from ONE prebuilt frame per operation,
  whose JSON text is exactly ``S`` bytes (padded, so "payload size" means the WebSocket payload),
  repeated into batches of about 256 KiB that each go out with a single ``transport.write``; the
  transport's high-water mark pauses the stream while the client is behind;
- ``burst(count: N, size: S, group: G)`` is held until the connection holds G such bursts, then
  all of them start at once and share the stream: each batch interleaves the frames of every
  live burst (prebuilt once per round), so G subscriptions receive in turn, as from one busy
  topic, and no subscription finishes before the others have started;
- a query for ``echo`` is answered with a prebuilt ``next`` + ``complete`` (the id substituted) in
  one write; ``idle`` subscriptions are remembered and never answered; ``idleCount`` returns how
  many idle subscriptions this connection holds (the benchmark's "the server has them all");
  ``stats`` counts the messages this connection received, by type (for profiling: does the
  client send a ``complete`` after each query?).

The field is the first name after ``{`` in the query, so gql's ``print_ast`` output matches too.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import signal
import struct
import sys
from typing import Any

__all__ = [
    "ECHO_QUERY",
    "IDLE_COUNT_QUERY",
    "IDLE_SUBSCRIPTION",
    "STATS_QUERY",
    "SUBPROTOCOL",
    "burst_message",
    "burst_query",
    "encode_frame",
    "main",
]

SUBPROTOCOL = "graphql-transport-ws"

#: The round-trip query; the reference server's demo schema answers it too.
ECHO_QUERY = '{ echo(value: "hello") }'
#: A subscription the server acknowledges by remembering it, and never answers.
IDLE_SUBSCRIPTION = "subscription { idle }"
#: How many idle subscriptions this connection holds: {"data": {"idleCount": n}}.
IDLE_COUNT_QUERY = "{ idleCount }"
#: What this connection received so far, by message type: {"data": {"stats": {type: n}}}.
STATS_QUERY = "{ stats }"

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_FIELD = re.compile(r"\{\s*(\w+)")
_BURST_ARGS = re.compile(r"count\s*:\s*(\d+)\s*,\s*size\s*:\s*(\d+)(?:\s*,\s*group\s*:\s*(\d+))?")

#: A burst is written in runs of about this many bytes, one transport.write each.
_BATCH_BYTES = 256 * 1024
#: Bytes one connection may write per event-loop turn before letting others (and the client's
#: own ``complete``) be served.
_TURN_BYTES = 2 * 1024 * 1024
#: The transport pauses the burst above this much unsent data and resumes below the low mark.
_HIGH_WATER = 1024 * 1024
_LOW_WATER = 256 * 1024
#: An upgrade request larger than this is refused (no client of ours sends one).
_MAX_REQUEST = 64 * 1024

_OP_TEXT = 0x1
_OP_CONT = 0x0
_OP_CLOSE = 0x8
_OP_PING = 0x9
_OP_PONG = 0xA


def burst_query(count: int, size: int, group: int | None = None) -> str:
    """The subscription that streams ``count`` messages of ``size`` bytes of JSON text each.

    With ``group``, the server holds the burst until the connection holds ``group`` of them,
    then streams them all at once, interleaved.
    """
    grouped = "" if group is None else f", group: {group}"
    return f"subscription {{ burst(count: {count}, size: {size}{grouped}) }}"


def encode_frame(payload: bytes, opcode: int = _OP_TEXT) -> bytes:
    """One unmasked, final server frame (RFC 6455 §5.2)."""
    length = len(payload)
    first = 0x80 | opcode
    if length < 126:
        header = bytes((first, length))
    elif length < 65536:
        header = struct.pack("!BBH", first, 126, length)
    else:
        header = struct.pack("!BBQ", first, 127, length)
    return header + payload


def burst_message(op_id: str, size: int) -> bytes:
    """The ``next`` message of a burst: JSON text of exactly ``size`` bytes (or the shortest)."""
    head = b'{"id":' + json.dumps(op_id).encode() + b',"type":"next","payload":{"data":{"burst":"'
    tail = b'"}}}'
    return head + b"x" * max(0, size - len(head) - len(tail)) + tail


def _message(payload: dict[str, Any]) -> bytes:
    return encode_frame(json.dumps(payload, separators=(",", ":")).encode())


def _unmask(data: bytes, mask: bytes) -> bytes:
    length = len(data)
    key = (mask * (length // 4 + 1))[:length]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")


_ACK = _message({"type": "connection_ack"})
_PONG = _message({"type": "pong"})


class _Burst:
    __slots__ = ("batch", "batch_count", "frame", "remaining")

    def __init__(self, frame: bytes, count: int) -> None:
        self.frame = frame
        self.batch_count = max(1, _BATCH_BYTES // len(frame))
        self.batch = frame * self.batch_count
        self.remaining = count


class FirehoseConnection(asyncio.Protocol):
    """One client connection; every callback runs on the event loop."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._upgraded = False
        self._closing = False
        self._fragments: list[bytes] = []
        self._paused = False
        self._pump_scheduled = False
        self._bursts: dict[str, _Burst] = {}
        #: Grouped bursts not started yet, and how many the group waits for.
        self._held: dict[str, _Burst] = {}
        self._group = 0
        #: The interleaved batch of the live bursts: (their ids, frames of each, the bytes).
        self._round: tuple[tuple[str, ...], int, bytes] | None = None
        self._idle: set[str] = set()
        self._received: dict[str, int] = {}

    # -- asyncio callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.set_write_buffer_limits(high=_HIGH_WATER, low=_LOW_WATER)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._bursts.clear()
        self._held.clear()
        self._idle.clear()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._bursts and not self._pump_scheduled:
            self._pump()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._buffer += data
        if not self._upgraded:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_REQUEST:
                    self._refuse("request too large")
                return
            request = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            self._handshake(request)
            if not self._upgraded:
                return
        self._read_frames()

    # -- the upgrade ------------------------------------------------------------------------

    def _handshake(self, request: bytes) -> None:
        lines = request.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        ws_key = headers.get("sec-websocket-key")
        if (
            not lines[0].startswith("GET ")
            or ws_key is None
            or "websocket" not in headers.get("upgrade", "").lower()
        ):
            self._refuse("not a WebSocket upgrade")
            return
        offered = [token.strip() for token in headers.get("sec-websocket-protocol", "").split(",")]
        if SUBPROTOCOL not in offered:
            self._refuse(f"offer the {SUBPROTOCOL} subprotocol")
            return
        accept = base64.b64encode(hashlib.sha1(ws_key.encode() + _GUID).digest()).decode()
        assert self._transport is not None
        self._transport.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n"
                f"Sec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n"
            ).encode()
        )
        self._upgraded = True

    def _refuse(self, why: str) -> None:
        assert self._transport is not None
        body = why.encode()
        self._transport.write(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        self._closing = True
        self._transport.close()

    # -- frames -----------------------------------------------------------------------------

    def _read_frames(self) -> None:
        # An offset instead of deleting each frame: 10,000 subscribe frames can arrive in one
        # read, and deleting from the front of a bytearray each time would be quadratic.
        buffer = self._buffer
        size = len(buffer)
        pos = 0
        while size - pos >= 2 and not self._closing:
            first = buffer[pos]
            second = buffer[pos + 1]
            length = second & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 10], "big")
                head = 10
            mask_at = pos + head
            if second & 0x80:
                head += 4
            end = pos + head + length
            if end > size:
                break
            payload = bytes(buffer[pos + head : end])
            if second & 0x80:
                payload = _unmask(payload, bytes(buffer[mask_at : mask_at + 4]))
            pos = end
            self._frame(first, payload)
        del buffer[:pos]

    def _frame(self, first: int, payload: bytes) -> None:
        opcode = first & 0x0F
        final = first & 0x80
        if opcode == _OP_TEXT and final and not self._fragments:
            self._on_message(payload)
        elif opcode in (_OP_TEXT, _OP_CONT):
            self._fragments.append(payload)
            if final:
                joined = b"".join(self._fragments)
                self._fragments.clear()
                self._on_message(joined)
        elif opcode == _OP_PING:
            self._write(encode_frame(payload, _OP_PONG))
        elif opcode == _OP_CLOSE:
            # Echo the client's code (RFC 6455 §5.5.1), then end the TCP connection.
            self._write(encode_frame(payload[:2], _OP_CLOSE))
            self._close()
        elif opcode != _OP_PONG:
            self._close(4400)

    def _write(self, data: bytes) -> None:
        if not self._closing and self._transport is not None:
            self._transport.write(data)

    def _close(self, code: int | None = None) -> None:
        if self._closing or self._transport is None:
            return
        if code is not None:
            self._transport.write(encode_frame(struct.pack("!H", code), _OP_CLOSE))
        self._closing = True
        self._bursts.clear()
        self._held.clear()
        self._transport.close()

    # -- graphql-transport-ws ---------------------------------------------------------------

    def _on_message(self, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            self._close(4400)
            return
        kind = message.get("type") if isinstance(message, dict) else None
        op_id = message.get("id") if isinstance(message, dict) else None
        self._received[str(kind)] = self._received.get(str(kind), 0) + 1
        if kind == "subscribe" and isinstance(op_id, str):
            payload = message.get("payload")
            query = payload.get("query") if isinstance(payload, dict) else None
            self._subscribe(op_id, query if isinstance(query, str) else "")
        elif kind == "complete" and isinstance(op_id, str):
            self._bursts.pop(op_id, None)
            self._held.pop(op_id, None)
            self._idle.discard(op_id)
        elif kind == "connection_init":
            self._write(_ACK)
        elif kind == "ping":
            self._write(_PONG)
        elif kind != "pong":
            self._close(4400)

    def _subscribe(self, op_id: str, query: str) -> None:
        match = _FIELD.search(query)
        field = match.group(1) if match else ""
        quoted = json.dumps(op_id)
        if field == "burst":
            args = _BURST_ARGS.search(query)
            if args is None:
                self._error(op_id, "burst needs literal count and size arguments")
                return
            count, size = int(args.group(1)), int(args.group(2))
            burst = _Burst(encode_frame(burst_message(op_id, size)), count)
            if args.group(3) is not None:
                self._group = int(args.group(3))
                self._held[op_id] = burst
                if len(self._held) < self._group:
                    return
                self._bursts.update(self._held)
                self._held.clear()
            else:
                self._bursts[op_id] = burst
            if not self._pump_scheduled:
                self._pump()
        elif field == "echo":
            self._write(
                encode_frame(
                    b'{"id":'
                    + quoted.encode()
                    + b',"type":"next","payload":{"data":{"echo":"hello"}}}'
                )
                + encode_frame(b'{"id":' + quoted.encode() + b',"type":"complete"}')
            )
        elif field == "idle":
            self._idle.add(op_id)
        elif field == "idleCount":
            self._write(
                _message(
                    {
                        "id": op_id,
                        "type": "next",
                        "payload": {"data": {"idleCount": len(self._idle)}},
                    }
                )
                + _message({"id": op_id, "type": "complete"})
            )
        elif field == "stats":
            self._write(
                _message(
                    {
                        "id": op_id,
                        "type": "next",
                        "payload": {"data": {"stats": dict(self._received)}},
                    }
                )
                + _message({"id": op_id, "type": "complete"})
            )
        else:
            self._error(op_id, f"the firehose server does not serve {field!r}")

    def _error(self, op_id: str, text: str) -> None:
        self._write(_message({"id": op_id, "type": "error", "payload": [{"message": text}]}))

    def _pump(self) -> None:
        """Write burst batches until the transport pauses or this turn's budget is spent."""
        self._pump_scheduled = False
        transport = self._transport
        assert transport is not None
        budget = _TURN_BYTES
        bursts = self._bursts
        while bursts and budget > 0 and not self._paused and not self._closing:
            if len(bursts) > 1:
                budget -= self._write_round()
                continue
            op_id, burst = next(iter(bursts.items()))
            if burst.remaining >= burst.batch_count:
                data = burst.batch
                burst.remaining -= burst.batch_count
            else:
                data = burst.frame * burst.remaining
                burst.remaining = 0
            transport.write(data)
            budget -= len(data)
            if burst.remaining == 0:
                del bursts[op_id]
                transport.write(_message({"id": op_id, "type": "complete"}))
        if bursts and not self._paused and not self._closing:
            self._pump_scheduled = True
            asyncio.get_running_loop().call_soon(self._pump)

    def _write_round(self) -> int:
        """One batch interleaving every live burst; completes those it finishes. Bytes written.

        Each burst contributes the same number of frames, so bursts started together end
        together. The batch is rebuilt only when the set of live bursts changes.
        """
        transport = self._transport
        assert transport is not None
        bursts = self._bursts
        ids = tuple(bursts)
        fewest = min(burst.remaining for burst in bursts.values())
        per_batch = min(burst.batch_count for burst in bursts.values())
        share = min(max(1, per_batch // len(bursts)), fewest)
        cached = self._round
        if cached is not None and cached[0] == ids and cached[1] == share:
            data = cached[2]
        else:
            data = b"".join(bursts[op_id].frame * share for op_id in ids)
            self._round = (ids, share, data)
        transport.write(data)
        written = len(data)
        for op_id in ids:
            burst = bursts[op_id]
            burst.remaining -= share
            if burst.remaining == 0:
                del bursts[op_id]
                done = _message({"id": op_id, "type": "complete"})
                transport.write(done)
                written += len(done)
        return written


async def serve(host: str, port: int) -> None:
    """Listen on ``host:port``, print ``LISTENING <port>``, and serve until told to stop."""
    loop = asyncio.get_running_loop()
    connections: list[FirehoseConnection] = []

    def factory() -> FirehoseConnection:
        connection = FirehoseConnection()
        connections.append(connection)
        if len(connections) > 256:
            connections[:] = [c for c in connections if not c._closing]
        return connection

    server = await loop.create_server(factory, host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    stop: asyncio.Future[None] = loop.create_future()

    def request_stop() -> None:
        if not stop.done():
            stop.set_result(None)

    def on_stdin() -> None:
        if not os.read(sys.stdin.fileno(), 4096):
            request_stop()  # EOF: the parent closed the pipe or died

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop)
    if not sys.stdin.isatty():
        loop.add_reader(sys.stdin.fileno(), on_stdin)
    print(f"LISTENING {bound}", flush=True)
    try:
        await stop
    finally:
        server.close()
        for connection in connections:
            connection._close(1001)
        await server.wait_closed()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.firehose", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
