"""The frame reader over a real socket pair, fed with frames built byte by byte."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import websocket

from gqlws_sync._frames import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    ConnectionEOF,
    FrameError,
    FrameReader,
    parse_close,
    text_frame,
)


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bool = False
) -> bytes:
    first = (0x80 if fin else 0) | rsv | opcode
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        header = bytes([first, mask_bit | length])
    elif length < 65536:
        header = bytes([first, mask_bit | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([first, mask_bit | 127]) + length.to_bytes(8, "big")
    if mask:
        key = b"\x01\x02\x03\x04"
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        header += key
    return header + payload


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    client.settimeout(2)
    yield server, client
    server.close()
    client.close()


def read_all(reader: FrameReader, expected: int) -> list[tuple[int, bytes]]:
    messages: list[tuple[int, bytes]] = []
    while len(messages) < expected:
        messages += [
            (op, data.encode() if isinstance(data, str) else bytes(data))
            for op, data in reader.read()
        ]
    return messages


def test_many_frames_in_one_read(pair: tuple[socket.socket, socket.socket]) -> None:
    """Frames of all three length encodings, sent at once, come out whole and in order."""
    server, client = pair
    payloads = [b"a" * 5, b"b" * 300, b"c" * 70000]
    server.sendall(b"".join(frame(TEXT, p) for p in payloads))
    assert read_all(FrameReader(client, None), 3) == [(TEXT, p) for p in payloads]


def test_frame_split_across_reads(pair: tuple[socket.socket, socket.socket]) -> None:
    """A frame that arrives a byte at a time is assembled once complete."""
    server, client = pair
    reader = FrameReader(client, None)
    data = frame(TEXT, b'{"type":"ka"}')
    for i, byte in enumerate(data):
        server.sendall(bytes([byte]))
        messages = reader.read()
        assert messages == ([] if i < len(data) - 1 else [(TEXT, bytearray(b'{"type":"ka"}'))])


def test_fragments_with_interleaved_control_frames(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A fragmented message is joined; a ping between its fragments comes out on its own."""
    server, client = pair
    server.sendall(
        frame(TEXT, b"hel", fin=False)
        + frame(PING, b"p")
        + frame(0, b"lo ", fin=False)
        + frame(0, b"world")
        + frame(PONG, b"")
    )
    assert read_all(FrameReader(client, None), 3) == [
        (PING, b"p"),
        (TEXT, b"hello world"),
        (PONG, b""),
    ]


def test_binary_message_is_reported(pair: tuple[socket.socket, socket.socket]) -> None:
    """A binary message is returned as such; the connection decides what it means."""
    server, client = pair
    server.sendall(frame(BINARY, b"\x00\x01"))
    assert read_all(FrameReader(client, None), 1) == [(BINARY, b"\x00\x01")]


@pytest.mark.parametrize(
    ("data", "message", "code"),
    [
        (frame(TEXT, b"x", rsv=0x40), "reserved bits", 1002),
        (frame(TEXT, b"x", mask=True), "masked", 1002),
        (frame(0x3, b"x"), "unknown opcode", 1002),
        (frame(PING, b"x" * 126), "control frame", 1002),
        (frame(PING, b"x", fin=False), "control frame", 1002),
        (frame(0, b"x"), "continuation frame without", 1002),
        (frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"), "new message began", 1002),
        (frame(TEXT, b"x" * 101), "over max_message_size=100", 1009),
        (frame(TEXT, b"x" * 60, fin=False) + frame(0, b"x" * 60), "max_message_size=100", 1009),
    ],
    ids=[
        "rsv",
        "masked",
        "opcode",
        "long-ping",
        "fragmented-ping",
        "stray-continuation",
        "interrupted-message",
        "too-big-frame",
        "too-big-message",
    ],
)
def test_malformed_framing(
    pair: tuple[socket.socket, socket.socket], data: bytes, message: str, code: int
) -> None:
    """Each framing error raises FrameError with the close code to send."""
    server, client = pair
    server.sendall(data)
    reader = FrameReader(client, 100)
    with pytest.raises(FrameError, match=message) as info:
        for _ in range(5):
            reader.read()
    assert info.value.close_code == code


def test_eof(pair: tuple[socket.socket, socket.socket]) -> None:
    """The peer closing the TCP connection raises ConnectionEOF."""
    server, client = pair
    server.close()
    with pytest.raises(ConnectionEOF):
        FrameReader(client, None).read()


def test_nothing_to_read_loses_nothing(pair: tuple[socket.socket, socket.socket]) -> None:
    """A read that finds nothing (another reader was first) returns at once, never waits,
    and keeps the part of a frame already received."""
    server, client = pair
    client.settimeout(5)  # what a connection has: reads must not wait for it
    reader = FrameReader(client, None)
    data = frame(TEXT, b"x" * 1000)
    server.sendall(data[:500])
    assert reader.read() == []
    started = time.monotonic()
    assert reader.read() == []
    assert time.monotonic() - started < 1
    server.sendall(data[500:])
    assert reader.read() == [(TEXT, bytearray(b"x" * 1000))]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", (1005, "")),
        (b"\x03\xe8", (1000, "")),
        (b"\x0f\xa0bye", (4000, "bye")),
        (b"\x03\xe9" + "é".encode(), (1001, "é")),
    ],
)
def test_parse_close(payload: bytes, expected: tuple[int, str]) -> None:
    """Close bodies: none (1005), a code, a code and a UTF-8 reason."""
    assert parse_close(payload) == expected


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\x03", 1002),
        ((999).to_bytes(2, "big"), 1002),
        ((1005).to_bytes(2, "big"), 1002),
        ((1006).to_bytes(2, "big"), 1002),
        ((1015).to_bytes(2, "big"), 1002),
        ((2000).to_bytes(2, "big"), 1002),
        ((5000).to_bytes(2, "big"), 1002),
        (b"\x03\xe8\xff", 1007),
    ],
)
def test_parse_close_invalid(payload: bytes, code: int) -> None:
    """Codes that may not be sent, one-byte bodies and non-UTF-8 reasons are errors."""
    with pytest.raises(FrameError) as info:
        parse_close(payload)
    assert info.value.close_code == code


def test_close_frame_is_returned(pair: tuple[socket.socket, socket.socket]) -> None:
    """A Close frame comes out as a control message with its body."""
    server, client = pair
    server.sendall(frame(CLOSE, b"\x03\xe8"))
    assert read_all(FrameReader(client, None), 1) == [(CLOSE, b"\x03\xe8")]


def test_initial_bytes_are_parsed_before_reading(pair: tuple[socket.socket, socket.socket]) -> None:
    """Frames read past the upgrade response come out first, without waiting on the socket."""
    server, client = pair
    first = frame(PING, b"early")
    reader = FrameReader(client, None, initial=first + frame(TEXT, b"x")[:2])
    assert reader.read() == [(PING, bytearray(b"early"))]
    server.sendall(frame(TEXT, b"x")[2:])
    assert reader.read() == [(TEXT, bytearray(b"x"))]


def test_frame_larger_than_the_buffer(pair: tuple[socket.socket, socket.socket]) -> None:
    """A frame larger than the reader's buffer grows it, and the frames around it survive."""
    server, client = pair
    client.settimeout(5)
    reader = FrameReader(client, None)
    big = b"y" * (3 * 1024 * 1024)
    data = frame(TEXT, b"before") + frame(TEXT, big) + frame(TEXT, b"after")
    sender = threading.Thread(target=server.sendall, args=(data,))
    sender.start()
    messages: list[tuple[int, bytearray | str]] = []
    while len(messages) < 3:
        messages += reader.read()
    sender.join(5)
    assert messages == [
        (TEXT, bytearray(b"before")),
        (TEXT, bytearray(big)),
        (TEXT, bytearray(b"after")),
    ]


def test_partial_frames_across_many_reads(pair: tuple[socket.socket, socket.socket]) -> None:
    """Frames cut at every possible place, over many reads that wrap the buffer many times,
    come out whole and in order."""
    server, client = pair
    client.settimeout(5)
    reader = FrameReader(client, None)
    payloads = [bytes([65 + i % 26]) * (i * 997 % 70000) for i in range(400)]
    data = b"".join(frame(TEXT, p) for p in payloads)
    sender = threading.Thread(target=server.sendall, args=(data,))
    sender.start()
    got: list[bytes] = []
    while len(got) < len(payloads):
        got += [bytes(payload) for _, payload in reader.read() if not isinstance(payload, str)]
    sender.join(5)
    assert got == payloads


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 200_001])
def test_text_frame_as_a_server_reads_it(length: int) -> None:
    """Our client frames, read back by websocket-client's server-side parser (which unmasks):
    every length encoding, and text that is not ASCII."""
    text = ("é{" * length)[:length]
    frame = text_frame(text)
    assert frame[0] == 0x81  # FIN, text
    assert frame[1] & 0x80  # masked, as every client frame must be
    data = bytearray(frame)

    def recv(size: int) -> bytes:
        chunk = bytes(data[:size])
        del data[:size]
        return chunk

    buffer = websocket._abnf.frame_buffer(recv, skip_utf8_validation=False)
    parsed = buffer.recv_frame()
    assert parsed.opcode == websocket.ABNF.OPCODE_TEXT
    assert parsed.fin == 1
    assert isinstance(parsed.data, bytes)
    assert parsed.data.decode("utf-8") == text
    assert not data  # nothing left over: the frame is exactly one frame


def test_text_frames_use_a_fresh_mask_each() -> None:
    masks = {text_frame("x" * 10)[2:6] for _ in range(50)}
    assert len(masks) > 45


def test_text_as_str(pair: tuple[socket.socket, socket.socket]) -> None:
    """For a decoder that takes str, whole text messages come decoded from the buffer; one
    that is not UTF-8, and everything else, come as bytes, as without the option."""
    server, client = pair
    text = "é" * 40_000 + "{}"
    bad = b"\xff\xfe"
    server.sendall(
        frame(TEXT, text.encode())
        + frame(TEXT, bad)
        + frame(TEXT, b"pa", fin=False)
        + frame(CONT, b"rt")
        + frame(PING, b"p")
    )
    reader = FrameReader(client, None, text_as_str=True)
    got: list[tuple[int, bytearray | str]] = []
    while len(got) < 4:
        got += reader.read()
    assert got[0] == (TEXT, text)
    assert got[1] == (TEXT, bytearray(bad))
    assert got[2] == (TEXT, bytearray(b"part"))
    assert got[3] == (PING, bytearray(b"p"))
