"""Receiving a file the page sends as a request's body, within a size limit, all or nothing."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request


class UploadTooLarge(ValueError):
    """The body is larger than the server accepts."""


def _too_large(limit: int) -> UploadTooLarge:
    return UploadTooLarge(f"the file is larger than this studio accepts ({limit / 2**20:.0f} MB); "
                          f"start it with a larger --max-upload-mb or send a shorter video")


async def receive_upload(request: Request, target: Path, limit: int) -> Path:
    """Stream the request's body into ``target`` (through a temporary file beside it).

    Raises :class:`UploadTooLarge` before reading when the declared length is over ``limit``, and as
    soon as the bytes received are; nothing is left behind then.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    received = 0
    try:
        with open(partial, "wb") as handle:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise _too_large(limit)
                handle.write(chunk)
        if received == 0:
            raise ValueError("the file is empty")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
