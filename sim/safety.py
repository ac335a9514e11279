"""Reading untrusted files without trusting their size, kind or contents.

Every file the tool reads (a scenario, its bases, a sweep file, a results folder someone sent)
may be hostile. A size limit that checks ``st_size`` before ``read`` lets ``/dev/zero`` (size
0, endless) and FIFOs (size 0; ``open`` blocks until a writer comes) through, so files are
opened without blocking, checked to be regular files on the open descriptor (no race with a
swap of the name), and read up to the limit plus one byte, whatever they claim.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class UnsafeFileError(OSError):
    """The file is not a regular file, or is larger than allowed (message says which)."""


def read_limited(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Args:
        path: The file (symlinks are followed; what they lead to must be a regular file).
        limit: Most bytes accepted.

    Raises:
        FileNotFoundError: No such file.
        UnsafeFileError: A device, FIFO, socket or folder, or more than ``limit`` bytes.
        OSError: Any other reason it cannot be read (its ``strerror`` says which).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a folder" if stat.S_ISDIR(info.st_mode) else
                    "a pipe (FIFO)" if stat.S_ISFIFO(info.st_mode) else
                    "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                    else "not a regular file")
            raise UnsafeFileError(f"{kind}, not a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise UnsafeFileError(f"larger than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text_limited(path: str | os.PathLike, limit: int) -> str:
    """``read_limited`` decoded as UTF-8 (``UnicodeDecodeError`` if it is not)."""
    return read_limited(path, limit).decode("utf-8")


def is_inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, with every symlink resolved, lies inside ``folder`` (also resolved)."""
    try:
        path.resolve(strict=True).relative_to(folder.resolve(strict=True))
    except (OSError, ValueError):
        return False
    return True
