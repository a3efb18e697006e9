"""File storage behind one interface, on a local folder or an S3-compatible bucket (ENCORE_STORAGE_URL)."""
from __future__ import annotations

import mimetypes
import os
import re
import secrets
import tempfile
import unicodedata
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from flask import current_app, url_for
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.config import parse_storage_url
from app.extensions import db

_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-/]*\.[a-z0-9]{2,5}$")
#: keys under this folder are never served by /media: the owning package serves them after its own access check
PRIVATE_PREFIX = "private/"
#: streams are copied in pieces this size, so a large upload never sits whole in memory
COPY_CHUNK_BYTES = 1024 * 1024
#: S3 multipart part size: also the largest piece put_stream reads from its stream at once
S3_PART_BYTES = 8 * 1024 * 1024
#: an S3 file opened for reading stays in memory up to this size, then spills to a temporary file
S3_SPOOL_BYTES = 8 * 1024 * 1024
#: SigV4 presigned URLs live at most 7 days
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> str: ...
    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> int: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def url(self, key: str) -> str: ...
    def delete(self, key: str) -> None: ...
    def local_path(self, key: str) -> Path | None: ...
    def download_url(self, key: str, filename: str, content_type: str, expires_in: int) -> str | None: ...


def new_key(folder: str, extension: str) -> str:
    return f"{folder}/{secrets.token_hex(16)}.{extension}"


def is_valid_key(key: str) -> bool:
    # fullmatch: a "$" anchor would let a trailing newline through
    return isinstance(key, str) and bool(_KEY_PATTERN.fullmatch(key)) and ".." not in key


def is_public_key(key: str) -> bool:
    return is_valid_key(key) and not key.startswith(PRIVATE_PREFIX)


def _checked(key: str) -> str:
    if not is_valid_key(key):
        raise ValueError(f"invalid storage key {key!r}")
    return key


def _guess_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def attachment_disposition(filename: str) -> str:
    """A Content-Disposition that saves the file as `filename`, in any language (RFC 6266 / RFC 5987).

    Old clients read the ASCII `filename`; the others read `filename*`, the UTF-8 name percent-encoded.
    """
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    ascii_name = "".join("_" if ch in '"\\/' or ord(ch) < 32 or ord(ch) == 127 else ch for ch in ascii_name).strip()
    stem, dot, extension = ascii_name.rpartition(".")
    if not (stem.strip(" ._") if dot else ascii_name.strip(" ._")):
        # nothing readable survived (e.g. an all-Chinese name): keep the extension so the file still opens
        ascii_name = f"download.{extension}" if dot and extension else "download"
    encoded = quote(filename, safe="!#$&+^`|~-._")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"


class _CountingReader:
    """Reads a stream for boto3 while counting the bytes that went through."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        # boto3 asks for a part at a time; never let a caller turn that into "read everything"
        data = self._stream.read(size if size is not None and size >= 0 else S3_PART_BYTES)
        self.count += len(data)
        return data


class LocalStorage:
    """Files in a local folder (the instance folder by default), served by the web app's /media route."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see half a file
        return key

    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> int:
        """Copy `stream` to `key` a chunk at a time; the size written. The type follows the key's extension."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # a unique temporary name: two uploads to the same key must not write into one file
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
        written = 0
        try:
            with os.fdopen(fd, "wb") as tmp:
                while chunk := stream.read(COPY_CHUNK_BYTES):
                    tmp.write(chunk)
                    written += len(chunk)
            os.replace(tmp_name, path)  # readers never see half a file
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return written

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        # an invalid key names no file: False without looking (callers pass keys from requests)
        return is_valid_key(key) and self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def url(self, key: str) -> str:
        return url_for("web.media", key=_checked(key))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        """The file on disk for `key`, whether or not it exists yet."""
        return self._path(key)

    def download_url(self, key: str, filename: str, content_type: str, expires_in: int) -> str | None:
        _checked(key)
        return None  # the app sends the file itself (local_path)


class S3Storage:
    """Objects in an S3-compatible bucket under a key prefix; credentials and region from the usual AWS_* settings.

    /media still serves public keys (see app.web.views.media); private files leave through download_url.
    """

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, client=None):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if client is None:
            custom_endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            config = BotoConfig(
                signature_version="s3v4",  # presigned URLs carry X-Amz-Expires; SigV2 is gone from most servers
                # MinIO, Ceph and friends behind one host name need path-style URLs; AWS itself prefers virtual hosts
                s3={"addressing_style": "path" if custom_endpoint else "auto"},
                retries={"max_attempts": 5, "mode": "standard"},
                # boto3 >= 1.36 sends CRC checksum headers by default, which many S3-compatible servers reject
                # (boto/boto3#4392); AWS itself keeps boto3's defaults
                **(
                    {"request_checksum_calculation": "when_required", "response_checksum_validation": "when_required"}
                    if custom_endpoint
                    else {}
                ),
            )
            client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
        self.client = client
        self._transfer = TransferConfig(
            multipart_threshold=S3_PART_BYTES, multipart_chunksize=S3_PART_BYTES, max_concurrency=4
        )

    def _object_key(self, key: str) -> str:
        _checked(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> str:
        self.client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=data, ContentType=_guess_type(key))
        return key

    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> int:
        """Upload `stream` part by part (multipart above S3_PART_BYTES); the size written.

        S3 shows an object only once its upload completes, and boto3 aborts a multipart upload that
        fails, so readers never see half a file.
        """
        object_key = self._object_key(key)
        reader = _CountingReader(stream)
        self.client.upload_fileobj(
            reader,
            self.bucket,
            object_key,
            ExtraArgs={"ContentType": content_type or _guess_type(key)},
            Config=self._transfer,
        )
        return reader.count

    def open(self, key: str) -> BinaryIO:
        """A seekable copy of the object (Pillow seeks): in memory while small, on disk beyond S3_SPOOL_BYTES."""
        object_key = self._object_key(key)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=object_key)["Body"]
        except ClientError as error:
            raise _not_found(error, key) from error
        copy = tempfile.SpooledTemporaryFile(max_size=S3_SPOOL_BYTES)
        try:
            with body:
                for chunk in body.iter_chunks(COPY_CHUNK_BYTES):
                    copy.write(chunk)
        except BaseException:
            copy.close()
            raise
        copy.seek(0)
        return copy

    def exists(self, key: str) -> bool:
        if not is_valid_key(key):
            return False  # as LocalStorage: an invalid key names no object, and is not looked up
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as error:
            if _is_missing(error):
                return False
            raise
        return True

    def size(self, key: str) -> int:
        object_key = self._object_key(key)
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=object_key)["ContentLength"])
        except ClientError as error:
            raise _not_found(error, key) from error

    def url(self, key: str) -> str:
        return url_for("web.media", key=_checked(key))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))  # S3 answers 204 for a missing key

    def local_path(self, key: str) -> Path | None:
        _checked(key)
        return None

    def download_url(self, key: str, filename: str, content_type: str, expires_in: int) -> str | None:
        """A presigned GET that saves the object as `filename` with `content_type`, valid `expires_in` seconds."""
        object_key = self._object_key(key)
        if not 0 < expires_in <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"expires_in must be 1..{MAX_PRESIGN_SECONDS} seconds, not {expires_in!r}")
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": object_key,
                "ResponseContentDisposition": attachment_disposition(filename),
                "ResponseContentType": content_type,
            },
            ExpiresIn=int(expires_in),
        )


def _is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def _not_found(error: ClientError, key: str) -> Exception:
    """FileNotFoundError for a missing object, as the local backend raises; any other error as it came."""
    return FileNotFoundError(f"no stored file {key!r}") if _is_missing(error) else error


def storage_from_config(config) -> Storage:
    """The backend ENCORE_STORAGE_URL names (checked by load_config); the instance folder when it is unset."""
    url = config.get("ENCORE_STORAGE_URL")
    if not url:
        return LocalStorage(config["ENCORE_STORAGE_PATH"])
    location = parse_storage_url(url)
    if location.scheme == "file":
        return LocalStorage(location.path)
    return S3Storage(location.bucket, location.prefix, endpoint_url=config.get("ENCORE_S3_ENDPOINT_URL"))


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
    app.extensions["encore.storage"] = storage_from_config(app.config)


def get_storage() -> Storage:
    return current_app.extensions["encore.storage"]
