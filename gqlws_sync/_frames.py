"""Reading server frames (RFC 6455 §5.2) from the socket in large chunks.

websocket-client reads every frame with at least two ``recv`` calls (header, then payload)
and builds an object for each; for a stream of small messages that dominates the reader
thread's time. This reader asks the socket for everything it has, straight into one buffer
kept for the life of the connection (``recv_into``: no new memory per read, which for large
messages cost more in page faults than the copying itself), and cuts as many whole frames
out of it as it holds, so one system call (and one release of the GIL, letting consumer
threads run) serves many messages. Text frames the client sends are built here too
(``text_frame``); websocket-client keeps control frames and connecting through a proxy.

Server frames are never masked, so parsing is: 2 header bytes, an optional 16- or 64-bit
length, the payload. What is malformed raises ``FrameError`` with the close code to send.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading

#: The most one read asks for.
_CHUNK = 256 * 1024
#: What the first read asks for; doubled each time a read gets all it asked for, up to
#: _CHUNK. A connection that only ever sees small messages then never allocates (and zeroes)
#: a large buffer, which would cost a tenth of a connect.
_FIRST_READ = 16 * 1024
#: The read buffer holds a few reads, so that moving a partial frame to the front is rare.
_READS_PER_BUFFER = 4

CONT = 0x0
TEXT = 0x1
BINARY = 0x2
CLOSE = 0x8
PING = 0x9
PONG = 0xA
_DATA_OPCODES = frozenset({CONT, TEXT, BINARY})
_CONTROL_OPCODES = frozenset({CLOSE, PING, PONG})


class FrameError(Exception):
    """The server broke RFC 6455 framing; ``close_code`` says how to close."""

    def __init__(self, message: str, close_code: int = 1002) -> None:
        super().__init__(message)
        self.close_code = close_code


class ConnectionEOF(Exception):
    """The TCP connection ended (the peer closed it, or it was shut down locally)."""


class FrameReader:
    """Cuts whole messages out of a socket's byte stream; used by one thread at a time (the
    holder of the connection's read token).

    ``read()`` returns a list of ``(opcode, payload)`` where data messages are already
    reassembled from their fragments (opcode TEXT or BINARY) and control frames come as
    they are, between them if the server interleaved them.
    """

    __slots__ = (
        "_buffer",
        "_end",
        "_fd",
        "_fragments",
        "_fragments_opcode",
        "_max_size",
        "_primed",
        "_sock",
        "_start",
        "_text_as_str",
        "_tls_lock",
        "_view",
        "_want",
    )

    def __init__(
        self,
        sock: socket.socket | ssl.SSLSocket,
        max_size: int | None,
        tls_lock: threading.Lock | None = None,
        initial: bytes | bytearray = b"",
        *,
        text_as_str: bool = False,
    ) -> None:
        """
        Args:
            tls_lock: for a TLS socket, the lock that every write holds (websocket-client's
                send lock). OpenSSL must not read and write one connection from two threads
                at once when the socket has a timeout: the two calls overwrite each other's
                "want read/write" state, and the reader sees a spurious EOF. So reads
                decrypt holding the lock, without waiting for the network.
            initial: bytes already read from the socket (past the HTTP upgrade response);
                the first ``read()`` parses them before it reads anything more.
            text_as_str: return whole text messages as ``str``, decoded straight from the
                read buffer (one copy instead of a slice and then a decode), for a JSON
                decoder that takes ``str``; one that is not UTF-8 is returned as bytes, for
                the decoder to refuse as it would.
        """
        self._sock = sock
        self._fd = sock.fileno()
        self._tls_lock = tls_lock
        # One buffer, grown a few times at most: every read lands in memory already touched,
        # and unparsed bytes (less than a frame) are moved, never re-appended.
        self._want = _FIRST_READ
        self._buffer = bytearray(len(initial) + _READS_PER_BUFFER * _FIRST_READ)
        self._view = memoryview(self._buffer)
        self._buffer[: len(initial)] = initial
        self._start = 0
        self._end = len(initial)
        self._primed = bool(initial)
        self._max_size = max_size
        self._fragments: bytearray | None = None
        self._fragments_opcode = 0
        self._text_as_str = text_as_str

    def read(self) -> list[tuple[int, bytearray | str]]:
        """Read one chunk from a readable socket; return the messages it completed.

        Call it when the socket is readable (or ``primed``): waiting is the caller's job,
        so that the wait can also watch a wake-up descriptor.

        Raises:
            ConnectionEOF: the connection ended.
            FrameError: malformed framing or a message over ``max_size``.
            TimeoutError: nothing arrived within the socket's timeout (nothing is lost).
            OSError: the socket failed.
        """
        if self._primed:
            self._primed = False  # parse what the handshake read past the response first
        else:
            want = self._want
            if len(self._buffer) - self._end < want:
                self._make_room(want)
            # At most _CHUNK at a time, though the buffer may hold more: one read must not
            # queue more events for one subscription than max_buffered_events allows.
            received = self._recv_into(self._view[self._end : self._end + want])
            if received is None:
                return []  # part of a TLS record: the rest is on its way
            if not received:
                raise ConnectionEOF("the server closed the TCP connection")
            self._end += received
            if received == want and want < _CHUNK:
                self._want = want * 2  # the socket had more: ask for more at a time
        buffer = self._buffer
        view = self._view
        as_str = self._text_as_str
        messages: list[tuple[int, bytearray | str]] = []
        size = self._end
        pos = self._start
        max_size = self._max_size
        while size - pos >= 2:
            first = buffer[pos]
            second = buffer[pos + 1]
            length = second & 0x7F
            start = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buffer[start : start + 2], "big")
                start += 2
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buffer[start : start + 8], "big")
                start += 8
            if first & 0x70:
                raise FrameError("reserved bits set in a frame; no extension was negotiated")
            if second & 0x80:
                raise FrameError("the server sent a masked frame")
            opcode = first & 0x0F
            fin = first & 0x80
            if opcode >= CLOSE and (not fin or length > 125):
                raise FrameError("a control frame must be whole and at most 125 bytes")
            if max_size is not None and length > max_size:
                raise FrameError(
                    f"the server sent a frame of {length} bytes, over max_message_size={max_size}",
                    1009,
                )
            end = start + length
            if end > size:
                if end - pos > len(buffer):  # larger than the buffer: grow it to fit the frame
                    self._start = pos
                    self._make_room(end - size + _CHUNK)
                    return messages
                break
            pos = end
            if opcode == TEXT and fin and self._fragments is None:
                # The common case, one whole text frame, and the one copy it costs.
                if as_str:
                    try:
                        messages.append((TEXT, str(view[start:end], "utf-8")))
                        continue
                    except UnicodeDecodeError:
                        pass
                messages.append((TEXT, buffer[start:end]))
                continue
            payload = buffer[start:end]
            if opcode in _CONTROL_OPCODES:
                messages.append((opcode, payload))
            elif opcode in _DATA_OPCODES:
                self._fragment(opcode, bool(fin), payload, messages)
            else:
                raise FrameError(f"unknown opcode {opcode:#x}")
        if pos == size:
            self._start = self._end = 0
        else:
            self._start = pos
        return messages

    def _make_room(self, needed: int) -> None:
        """Leave ``needed`` free bytes after the unparsed ones: move those (less than one
        frame) to the front, or into a larger buffer when a frame is larger than this one."""
        unparsed = self._end - self._start
        if unparsed + needed > len(self._buffer):
            # Room for a few reads, or (a frame larger than that) for the frame alone.
            bigger = bytearray(
                max(unparsed + needed, min(_READS_PER_BUFFER * needed, _READS_PER_BUFFER * _CHUNK))
            )
            bigger[:unparsed] = self._view[self._start : self._end]
            self._view.release()
            self._buffer = bigger
            self._view = memoryview(bigger)
        elif unparsed:
            # A copy first: the two ranges may overlap, and the move would copy in place.
            self._buffer[:unparsed] = bytes(self._view[self._start : self._end])
        self._start = 0
        self._end = unparsed

    @property
    def primed(self) -> bool:
        """True while bytes read during the handshake wait to be parsed: read() needs no
        data from the socket then."""
        return self._primed

    def _recv_into(self, view: memoryview) -> int | None:
        sock = self._sock
        lock = self._tls_lock
        if lock is None:
            # The descriptor is non-blocking (the socket has a timeout), and os.readv skips
            # the poll that socket.recv_into makes first: two threads may find the socket
            # readable, and the second must find nothing rather than wait.
            try:
                return os.readv(self._fd, (view,))
            except BlockingIOError:
                return None
        # TLS: decrypt holding the send lock, but never wait for the network holding it. A
        # record may be only partly here although the socket is readable; a blocking read
        # would hold the lock (and every sender) until the rest arrives.
        with lock:
            timeout = sock.gettimeout()
            sock.settimeout(0.0)
            try:
                return sock.recv_into(view)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return None
            finally:
                sock.settimeout(timeout)

    def _fragment(
        self,
        opcode: int,
        fin: bool,
        payload: bytearray,
        messages: list[tuple[int, bytearray | str]],
    ) -> None:
        fragments = self._fragments
        if opcode == CONT:
            if fragments is None:
                raise FrameError("a continuation frame without a message to continue")
            fragments += payload
            if self._max_size is not None and len(fragments) > self._max_size:
                raise FrameError(
                    f"the server sent a message of over {self._max_size} bytes, over "
                    f"max_message_size={self._max_size}",
                    1009,
                )
        else:
            if fragments is not None:
                raise FrameError("a new message began before the last one was finished")
            fragments = payload
            self._fragments_opcode = opcode
        if fin:
            self._fragments = None
            messages.append((self._fragments_opcode, fragments))
        else:
            self._fragments = fragments


def parse_close(payload: bytes | bytearray) -> tuple[int, str]:
    """The code and reason of a Close frame; 1005 when it has no body.

    Raises:
        FrameError: a one-byte body, a code that may not be sent (RFC 6455 §7.4), or a reason
            that is not UTF-8.
    """
    if not payload:
        return 1005, ""
    if len(payload) < 2:
        raise FrameError("a Close frame with a one-byte body")
    code = int.from_bytes(payload[:2], "big")
    if not (1000 <= code <= 4999) or code in (1004, 1005, 1006) or 1015 <= code <= 2999:
        raise FrameError(f"the server sent close code {code}, which may not be sent")
    try:
        reason = bytes(payload[2:]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError("a Close frame whose reason is not UTF-8", 1007) from exc
    return code, reason


def text_frame(text: str) -> bytes:
    """One whole, masked client text frame (RFC 6455 §5.2-5.3) holding ``text``.

    websocket-client's ``send`` builds a frame object, asks the socket whether it is
    writable, and goes through several layers per call: about 20 µs on top of the system
    call, on every query. This is the frame alone; the caller sends it whole.
    """
    data = text.encode("utf-8")
    length = len(data)
    key = os.urandom(4)  # §10.3: from a strong source, unpredictable per frame
    if length < 126:
        head = bytes((0x81, 0x80 | length))
    elif length < 65536:
        head = bytes((0x81, 0xFE)) + length.to_bytes(2, "big")
    else:
        head = bytes((0x81, 0xFF)) + length.to_bytes(8, "big")
    if not length:
        return head + key
    # The XOR of two big integers: one C loop over the payload whatever its length.
    mask = (key * (length // 4 + 1))[:length]
    masked = (int.from_bytes(data, "little") ^ int.from_bytes(mask, "little")).to_bytes(
        length, "little"
    )
    return head + key + masked
