"""Storage on a local folder and on S3 (a real moto server over HTTP): the same behaviour from both,
keys checked by every method, large uploads streamed, presigned downloads, /media, and ENCORE_STORAGE_URL."""
from __future__ import annotations

import hashlib
import io
import os
import urllib.request

import pytest
from PIL import Image

from app.config import ConfigError, load_config
from app.factory import create_app
from app.storage import (
    LocalStorage,
    S3Storage,
    attachment_disposition,
    storage_from_config,
)
from tests import factories
from tests.app_support import another_app
from tests.s3_support import aws_env, moto_server, s3_bucket, s3_client  # noqa: F401

MB = 1024 * 1024
PREFIX = "encore/files"
INVALID_KEYS = [
    "../secret.png",
    "covers/../../secret.png",
    "/etc/secret.png",
    "Covers/Upper.PNG",
    "covers/no-extension",
    "covers/trailing-newline.png\n",
    "covers/space here.png",
    "",
]


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    endpoint = request.getfixturevalue("moto_server")
    return S3Storage(request.getfixturevalue("s3_bucket"), PREFIX, endpoint_url=endpoint)


class GeneratedStream:
    """`total` bytes made up on demand (never held whole), recording the largest read() asked of it."""

    def __init__(self, total: int, fail_after: int | None = None):
        self.block = os.urandom(MB + 7)  # not a multiple of any part size: parts differ from each other
        self.total, self.position, self.fail_after = total, 0, fail_after
        self.largest_read = 0
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        self.largest_read = max(self.largest_read, self.total if size is None or size < 0 else size)
        if self.fail_after is not None and self.position >= self.fail_after:
            raise OSError("the upload connection dropped")
        wanted = min(self.total - self.position if size is None or size < 0 else size, self.total - self.position)
        out = bytearray()
        while len(out) < wanted:
            start = (self.position + len(out)) % len(self.block)
            out += self.block[start:start + wanted - len(out)]
        self.position += len(out)
        self.digest.update(out)
        return bytes(out)


def _sha256(stream) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(MB):
        digest.update(chunk)
    return digest.hexdigest()


def test_put_then_open_answers_the_bytes_in_a_seekable_file_pillow_can_read(storage):
    png = factories.png_bytes(size=(40, 30))

    assert storage.put("covers/abc.png", png) == "covers/abc.png"

    with storage.open("covers/abc.png") as stored:
        assert stored.seekable()
        assert stored.read() == png
        stored.seek(0)
        assert Image.open(stored).size == (40, 30)
    assert storage.exists("covers/abc.png")
    assert storage.size("covers/abc.png") == len(png)


def test_put_replaces_an_existing_file(storage):
    storage.put("covers/abc.png", b"first version")
    storage.put("covers/abc.png", b"second")

    with storage.open("covers/abc.png") as stored:
        assert stored.read() == b"second"
    assert storage.size("covers/abc.png") == len(b"second")


def test_put_stream_answers_the_size_written_and_the_file_reads_back(storage):
    size = storage.put_stream("private/downloads/pack.zip", io.BytesIO(b"zip bytes" * 1000), "application/zip")

    assert size == 9000
    assert storage.size("private/downloads/pack.zip") == 9000
    with storage.open("private/downloads/pack.zip") as stored:
        assert stored.read() == b"zip bytes" * 1000


def test_put_stream_of_20_mb_reads_it_in_bounded_pieces(storage):
    stream = GeneratedStream(20 * MB)

    assert storage.put_stream("private/downloads/big.zip", stream) == 20 * MB

    assert stream.largest_read <= 8 * MB
    assert storage.size("private/downloads/big.zip") == 20 * MB
    with storage.open("private/downloads/big.zip") as stored:
        assert _sha256(stored) == stream.digest.hexdigest()


def test_a_put_stream_that_fails_midway_leaves_the_previous_file_whole(storage, tmp_path):
    storage.put("private/downloads/pack.zip", b"the good version")

    with pytest.raises(OSError, match="connection dropped"):
        storage.put_stream("private/downloads/pack.zip", GeneratedStream(20 * MB, fail_after=10 * MB))

    with storage.open("private/downloads/pack.zip") as stored:
        assert stored.read() == b"the good version"
    if isinstance(storage, LocalStorage):
        assert sorted(p.name for p in (storage.root / "private/downloads").iterdir()) == ["pack.zip"]


def test_missing_files_raise_file_not_found_for_open_and_size_and_are_not_there(storage):
    with pytest.raises(FileNotFoundError):
        storage.open("covers/missing.png")
    with pytest.raises(FileNotFoundError):
        storage.size("covers/missing.png")
    assert not storage.exists("covers/missing.png")


def test_delete_removes_the_file_and_a_missing_key_is_fine(storage):
    storage.put("covers/abc.png", b"x")

    storage.delete("covers/abc.png")
    storage.delete("covers/abc.png")
    storage.delete("covers/never-there.png")

    assert not storage.exists("covers/abc.png")


def test_url_points_at_the_media_route_for_both_backends(app, storage):
    with app.test_request_context():
        assert storage.url("covers/abc.png") == "/media/covers/abc.png"


def test_local_storage_exposes_the_real_file_and_no_download_url(tmp_path):
    storage = LocalStorage(tmp_path / "files")
    storage.put("private/downloads/pack.zip", b"zip")

    path = storage.local_path("private/downloads/pack.zip")

    assert path == (tmp_path / "files" / "private/downloads/pack.zip").resolve()
    assert path.read_bytes() == b"zip"
    assert storage.download_url("private/downloads/pack.zip", "pack.zip", "application/zip", 300) is None


def test_s3_keys_live_under_the_prefix_and_have_no_local_path(s3_bucket, s3_client, moto_server):
    prefixed = S3Storage(s3_bucket, "/encore/files/", endpoint_url=moto_server)
    bare = S3Storage(s3_bucket, "", endpoint_url=moto_server)

    prefixed.put("covers/abc.png", b"a")
    prefixed.put_stream("private/x/pack.zip", io.BytesIO(b"b"), "application/zip")
    bare.put("covers/top.png", b"c")

    keys = sorted(item["Key"] for item in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert keys == ["covers/top.png", "encore/files/covers/abc.png", "encore/files/private/x/pack.zip"]
    assert s3_client.head_object(Bucket=s3_bucket, Key="encore/files/private/x/pack.zip")["ContentType"] == "application/zip"
    assert s3_client.head_object(Bucket=s3_bucket, Key="encore/files/covers/abc.png")["ContentType"] == "image/png"
    assert prefixed.local_path("covers/abc.png") is None
    assert not bare.exists("covers/abc.png")


def test_s3_presigned_download_answers_the_bytes_as_an_attachment_with_the_asked_type(s3_bucket, moto_server):
    storage = S3Storage(s3_bucket, PREFIX, endpoint_url=moto_server)
    storage.put_stream("private/downloads/pack.zip", io.BytesIO(b"PK zip bytes"))

    url = storage.download_url("private/downloads/pack.zip", "Mia 贴纸包.zip", "application/zip", 600)

    assert url.startswith(f"{moto_server}/{s3_bucket}/{PREFIX}/private/downloads/pack.zip?")
    assert "X-Amz-Expires=600" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"PK zip bytes"
        assert response.headers["Content-Type"] == "application/zip"
        assert response.headers["Content-Disposition"] == (
            "attachment; filename=\"Mia .zip\"; filename*=UTF-8''Mia%20%E8%B4%B4%E7%BA%B8%E5%8C%85.zip"
        )


@pytest.mark.parametrize("expires_in", [0, -5, 7 * 24 * 3600 + 1])
def test_s3_download_url_refuses_a_lifetime_sigv4_cannot_sign(s3_bucket, moto_server, expires_in):
    storage = S3Storage(s3_bucket, PREFIX, endpoint_url=moto_server)

    with pytest.raises(ValueError, match="expires_in"):
        storage.download_url("private/downloads/pack.zip", "pack.zip", "application/zip", expires_in)


@pytest.mark.parametrize(
    "filename, expected",
    [
        ("pack.zip", "attachment; filename=\"pack.zip\"; filename*=UTF-8''pack.zip"),
        ("贴纸包.zip", "attachment; filename=\"download.zip\"; filename*=UTF-8''%E8%B4%B4%E7%BA%B8%E5%8C%85.zip"),
        ('say "hi"\\now.pdf', "attachment; filename=\"say _hi__now.pdf\"; filename*=UTF-8''say%20%22hi%22%5Cnow.pdf"),
        ("Café.pdf", "attachment; filename=\"Cafe.pdf\"; filename*=UTF-8''Caf%C3%A9.pdf"),
        ("a/b\r\n.pdf", "attachment; filename=\"a_b__.pdf\"; filename*=UTF-8''a%2Fb%0D%0A.pdf"),
    ],
)
def test_attachment_disposition_gives_an_ascii_fallback_and_the_utf8_name(filename, expected):
    assert attachment_disposition(filename) == expected


METHODS = {
    "put": lambda storage, key: storage.put(key, b"x"),
    "put_stream": lambda storage, key: storage.put_stream(key, io.BytesIO(b"x")),
    "open": lambda storage, key: storage.open(key),
    "size": lambda storage, key: storage.size(key),
    "url": lambda storage, key: storage.url(key),
    "delete": lambda storage, key: storage.delete(key),
    "local_path": lambda storage, key: storage.local_path(key),
    "download_url": lambda storage, key: storage.download_url(key, "a.zip", "application/zip", 60),
}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_refuses_an_invalid_key(app, storage, method, s3_client_if_s3):
    for key in INVALID_KEYS:
        with pytest.raises(ValueError, match="invalid storage key"), app.test_request_context():
            METHODS[method](storage, key)

    # nothing was written anywhere, inside the storage or beside it
    if isinstance(storage, LocalStorage):
        assert not storage.root.exists() or not any(storage.root.rglob("*"))
        assert not (storage.root.parent / "secret.png").exists()
    else:
        assert s3_client_if_s3.list_objects_v2(Bucket=storage.bucket).get("KeyCount") == 0


@pytest.fixture
def s3_client_if_s3(request, storage):
    return request.getfixturevalue("s3_client") if isinstance(storage, S3Storage) else None


def test_exists_answers_false_for_an_invalid_key_even_where_such_a_file_is(storage, tmp_path, s3_client_if_s3):
    if isinstance(storage, LocalStorage):
        (storage.root / "Covers").mkdir(parents=True)
        (storage.root / "Covers/Upper.PNG").write_bytes(b"x")
        (storage.root.parent / "secret.png").write_bytes(b"outside the storage folder")
    else:
        for raw_key in (f"{PREFIX}/Covers/Upper.PNG", "secret.png", f"{PREFIX}/covers/space here.png"):
            s3_client_if_s3.put_object(Bucket=storage.bucket, Key=raw_key, Body=b"x")

    for key in INVALID_KEYS:
        assert storage.exists(key) is False


# --- ENCORE_STORAGE_URL and ENCORE_S3_ENDPOINT_URL ---------------------------------------------------------


@pytest.fixture
def clean_environment(monkeypatch, tmp_path):
    """No ENCORE_* settings from the machine except a private instance folder."""
    for name in list(os.environ):
        if name.startswith("ENCORE_") and not name.startswith("ENCORE_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ENCORE_INSTANCE_PATH", str(tmp_path / "instance"))


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://x", "use file:///abs/path or s3://bucket/prefix"),
        ("/srv/files", "use file:///abs/path or s3://bucket/prefix"),
        ("s3://", "name a valid S3 bucket"),
        ("s3:///prefix", "name a valid S3 bucket"),
        ("s3://Bad_Bucket/x", "name a valid S3 bucket"),
        ("s3://key:secret@bucket/x", "name a valid S3 bucket"),
        ("s3://encore-files/a/../b", "the key prefix may hold"),
        ("s3://encore-files/a//b", "the key prefix may hold"),
        ("s3://encore-files/x?region=eu-west-1", "no query or fragment"),
        ("file://relative/files", "needs an absolute path"),
        ("file:relative", "needs an absolute path"),
    ],
)
def test_a_storage_url_the_app_cannot_use_refuses_to_start(clean_environment, monkeypatch, url, message):
    monkeypatch.setenv("ENCORE_STORAGE_URL", url)

    with pytest.raises(ConfigError, match=f"ENCORE_STORAGE_URL is .*{message}"):
        load_config()
    with pytest.raises(ConfigError, match="ENCORE_STORAGE_URL"):
        create_app()


@pytest.mark.parametrize("endpoint", ["minio.internal:9000", "ftp://minio.internal", "http://"])
def test_an_endpoint_url_that_is_not_http_refuses_to_start(clean_environment, monkeypatch, endpoint):
    monkeypatch.setenv("ENCORE_STORAGE_URL", "s3://encore-files")
    monkeypatch.setenv("ENCORE_S3_ENDPOINT_URL", endpoint)

    with pytest.raises(ConfigError, match="ENCORE_S3_ENDPOINT_URL is"):
        load_config()


def test_without_a_storage_url_files_stay_in_the_instance_folder(clean_environment, tmp_path):
    storage = storage_from_config(load_config())

    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "instance" / "files").resolve()


def test_a_file_url_names_the_local_folder(clean_environment, monkeypatch, tmp_path):
    monkeypatch.setenv("ENCORE_STORAGE_URL", f"file://{tmp_path}/shared%20files")

    storage = storage_from_config(load_config())

    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "shared files").resolve()


def test_an_s3_url_names_bucket_prefix_and_endpoint(clean_environment, aws_env, monkeypatch, s3_bucket, moto_server):
    monkeypatch.setenv("ENCORE_STORAGE_URL", f"s3://{s3_bucket}/site/files/")
    monkeypatch.setenv("ENCORE_S3_ENDPOINT_URL", moto_server)

    storage = storage_from_config(load_config())
    storage.put("covers/abc.png", b"through the configured endpoint")

    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == (s3_bucket, "site/files")
    with storage.open("covers/abc.png") as stored:
        assert stored.read() == b"through the configured endpoint"


def test_without_encore_s3_endpoint_boto3s_own_aws_endpoint_url_is_used(
    clean_environment, aws_env, monkeypatch, s3_bucket, s3_client, moto_server
):
    monkeypatch.setenv("ENCORE_STORAGE_URL", f"s3://{s3_bucket}")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)

    storage = storage_from_config(load_config())
    storage.put("covers/abc.png", b"via AWS_ENDPOINT_URL")

    assert s3_client.get_object(Bucket=s3_bucket, Key="covers/abc.png")["Body"].read() == b"via AWS_ENDPOINT_URL"


# --- /media ----------------------------------------------------------------------------------------------


@pytest.fixture
def s3_app(app, tmp_path, s3_bucket, moto_server):
    config = {
        "ENCORE_ENV": "testing",
        "ENCORE_INSTANCE_PATH": str(tmp_path / "s3-instance"),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 's3.sqlite'}",
        "ENCORE_STORAGE_URL": f"s3://{s3_bucket}/{PREFIX}",
        "ENCORE_S3_ENDPOINT_URL": moto_server,
        "SERVER_NAME": None,
    }
    with another_app(app, config) as s3_app:
        yield s3_app


def test_media_on_s3_serves_a_public_image_with_long_caching(s3_app):
    png = factories.png_bytes(size=(32, 16))
    storage = s3_app.extensions["encore.storage"]
    storage.put("covers/abc.png", png)
    client = s3_app.test_client()

    response = client.get("/media/covers/abc.png")

    assert response.status_code == 200
    assert response.data == png
    assert response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/media/covers/abc.png", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_media_on_s3_refuses_private_unknown_and_invalid_keys(s3_app):
    storage = s3_app.extensions["encore.storage"]
    storage.put("private/downloads/pack.zip", b"paid content")
    client = s3_app.test_client()

    assert client.get("/media/private/downloads/pack.zip").status_code == 404
    assert client.get("/media/covers/missing.png").status_code == 404
    assert client.get("/media/covers/../private/downloads/pack.zip").status_code == 404
    assert client.get("/media/Covers/Upper.PNG").status_code == 404


def test_media_on_local_storage_answers_range_requests_and_refuses_private_keys(app, client):
    storage = app.extensions["encore.storage"]
    storage.put("covers/range-test.png", b"0123456789abcdef")
    storage.put("private/downloads/range-test.zip", b"paid content")

    partial = client.get("/media/covers/range-test.png", headers={"Range": "bytes=4-7"})

    assert partial.status_code == 206
    assert partial.data == b"4567"
    assert partial.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/media/private/downloads/range-test.zip").status_code == 404
    assert client.get("/media/covers/missing.png").status_code == 404
    storage.delete("covers/range-test.png")
    storage.delete("private/downloads/range-test.zip")
