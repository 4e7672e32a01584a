"""The process's C library, opened once, for the few Linux calls povsim
makes through ctypes (``mallopt`` and ``madvise`` in
:mod:`model.allocator`, ``prctl`` in :mod:`model.helper_process`,
``renameat2`` in :mod:`model.atomic`)."""

from __future__ import annotations

import ctypes
import functools
import sys


@functools.cache
def libc():
    """The C library (ctypes, keeping ``errno`` for :func:`ctypes.get_errno`),
    or None off Linux or when it cannot be opened."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
