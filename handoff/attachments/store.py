"""Where the bytes of attachments are kept: a directory (the embedded
default, ``var/attachments``) or an S3-compatible object store.

The interface is :class:`AttachmentStore`: ``put``, ``get`` and ``delete`` by
key (``CONVERSATION_ID/ATTACHMENT_ID``, hex both, so a key is never a path
that escapes). It is synchronous: the gateway calls it in a worker thread
(``asyncio.to_thread``), the retention and ``transcript delete`` commands
call it directly. :func:`store_for` picks the one a configuration names.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Optional, Protocol

from ..config import GatewayConfig

_KEY = re.compile(r"^[0-9a-f]{32}/[0-9a-f]{32}$")


def key_of(conversation_id: str, attachment_id: str) -> str:
    key = f"{conversation_id}/{attachment_id}"
    if not _KEY.match(key):
        raise ValueError(f"not an attachment key: {key!r}")
    return key


class AttachmentStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Keep ``data`` under ``key`` (replacing what was there)."""

    def get(self, key: str) -> Optional[bytes]:
        """The bytes under ``key``; None when there are none."""

    def delete(self, key: str) -> None:
        """Remove what is under ``key``; nothing there is not an error."""


class FileStore:
    """Each attachment a file ``DIR/CONVERSATION_ID/ATTACHMENT_ID``, written
    whole or not at all (a temporary file renamed), readable by the owner only."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not an attachment key: {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> Optional[bytes]:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        try:
            path.parent.rmdir()  # the conversation's directory, once it is empty
        except OSError:
            pass


def store_for(config: GatewayConfig) -> AttachmentStore:
    """The object store when ``attachments_s3_url`` is set, else the directory."""
    if config.attachments_s3_url:
        from .s3 import S3Store

        store: AttachmentStore = S3Store.from_env(config.attachments_s3_url)
        return store
    return FileStore(config.attachments_dir)


def configured_store() -> AttachmentStore:
    """The store the environment names (``KARA_GATEWAY_ATTACHMENTS_*``), for the commands."""
    return store_for(GatewayConfig.from_env())
