"""File storage behind one interface: put, open, url, delete."""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app, url_for

_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-/]*\.[a-z0-9]{2,5}$")
#: keys under this folder are never served by /media: the owning package serves them after its own access check
PRIVATE_PREFIX = "private/"


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> str: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def url(self, key: str) -> str: ...
    def delete(self, key: str) -> None: ...


def new_key(folder: str, extension: str) -> str:
    return f"{folder}/{secrets.token_hex(16)}.{extension}"


def is_valid_key(key: str) -> bool:
    return bool(_KEY_PATTERN.match(key)) and ".." not in key


def is_public_key(key: str) -> bool:
    return is_valid_key(key) and not key.startswith(PRIVATE_PREFIX)


class LocalStorage:
    """Files in a folder of the instance path, served by the web app's /media route."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not is_valid_key(key):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see half a file
        return key

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        return is_valid_key(key) and self._path(key).is_file()

    def url(self, key: str) -> str:
        return url_for("web.media", key=key)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def init_app(app) -> None:
    app.extensions["encore.storage"] = LocalStorage(app.config["ENCORE_STORAGE_PATH"])


def get_storage() -> Storage:
    return current_app.extensions["encore.storage"]
