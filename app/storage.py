"""File storage behind one interface: put, open, url, delete."""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app, url_for
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

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


_PENDING_DELETES = "encore.storage.delete_after_commit"


def delete_after_commit(storage: Storage, keys) -> None:
    """Delete these files once the current transaction commits; a rollback keeps them.

    A row that stops pointing at a file must not lose the file before the change is durable: if the
    commit fails, the old row still needs it.
    """
    keys = [key for key in keys if key]
    if keys:
        db.session().info.setdefault(_PENDING_DELETES, []).append((storage, keys))


@event.listens_for(Session, "after_commit")
def _delete_committed(session: Session) -> None:
    for storage, keys in session.info.pop(_PENDING_DELETES, []):
        for key in keys:
            storage.delete(key)


@event.listens_for(Session, "after_rollback")
def _keep_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING_DELETES, None)


def init_app(app) -> None:
    app.extensions["encore.storage"] = LocalStorage(app.config["ENCORE_STORAGE_PATH"])


def get_storage() -> Storage:
    return current_app.extensions["encore.storage"]
