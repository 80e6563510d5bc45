"""How the sandbox's processes talk: length-prefixed frames (JSON between client and server over a socket,
`marshal` between program and tester over pipes), the tag of a reference to a program's object, and
exceptions turned into one line of text."""

from __future__ import annotations

import json
import os
import select
import socket
import struct


FRAME = struct.Struct("<I")


_MAX_FRAME = 64 << 20


REF = "\x00sandbox-ref"
"""Tag of a reference to one of the program's objects passed back to it as an argument: `(REF, handle)`."""


def send_json(sock: socket.socket, message: dict) -> None:
    payload = json.dumps(message).encode()
    sock.sendall(FRAME.pack(len(payload)) + payload)


def recv_json(sock: socket.socket) -> dict | None:
    head = _recv_exact(sock, FRAME.size)
    if head is None:
        return None
    body = _recv_exact(sock, FRAME.unpack(head)[0])
    return None if body is None else json.loads(body)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, payload: bytes) -> None:
    view = memoryview(FRAME.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def read_frame(fd: int) -> bytes | None:
    head = _read_exact(fd, FRAME.size)
    if head is None:
        return None
    size = FRAME.unpack(head)[0]
    return None if size > _MAX_FRAME else _read_exact(fd, size)


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        try:
            chunk = os.read(fd, min(left, 1 << 20))
        except OSError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_all(fd: int) -> str:
    """The whole content of a memfd, read with `pread` (its offset may be shared with another process)."""
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks).decode("utf-8", "surrogatepass")


def wait_readable(fd: int, seconds: float) -> bool:
    return bool(select.select([fd], [], [], seconds)[0])


def describe_exception(error: BaseException) -> str:
    text = safe_str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def safe_str(error: BaseException) -> str:
    try:
        return str(error)[:300]
    except Exception:  # noqa: BLE001
        return ""
