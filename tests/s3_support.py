"""A real S3 API for tests: moto's server mode on a free loopback port, reached over HTTP by real boto3.

`moto_server` runs once per session; `aws_env` gives each test fake credentials and a region and hides
any AWS configuration of the machine (no profile, no config files, no instance metadata), so the tests
run offline; `s3_bucket` is a fresh, empty bucket per test, removed afterwards.
"""
from __future__ import annotations

import secrets

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_server():
    """The base URL of a moto S3 server listening on 127.0.0.1 (port chosen by the OS)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Fake credentials and a region for boto3, and nothing else from the machine's AWS setup."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                 "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3_client(moto_server, aws_env):
    """A plain boto3 client on the moto server, to look at buckets behind the storage's back."""
    return boto3.client("s3", endpoint_url=moto_server, region_name=REGION, config=Config(signature_version="s3v4"))


@pytest.fixture
def s3_bucket(s3_client):
    """A fresh bucket for one test; emptied and deleted afterwards so large test objects do not pile up."""
    name = f"encore-test-{secrets.token_hex(6)}"
    s3_client.create_bucket(Bucket=name)
    yield name
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3_client.delete_object(Bucket=name, Key=item["Key"])
    s3_client.delete_bucket(Bucket=name)
