"""The attachment store in an S3-compatible object store
(handoff/attachments/s3.py), against a real server process on loopback
(moto's, ``moto_server``): objects kept, read and deleted with signed
requests, a gateway configured with ``attachments_s3_url`` keeping a
shopper's photo there, ``transcript delete`` removing it, and an object
store that does not answer refusing the upload plainly."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from bot.processes import free_port, terminate
from handoff import transcript
from handoff.attachments.s3 import S3Store, StoreError
from handoff.storage import sync_url

from . import files
from .helpers import shopper
from .test_attachments import call, chat_with_agent, upload

pytestmark = pytest.mark.timeout(120)
KEY = "0" * 31 + "1/" + "a" * 32


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``moto_server`` on a free loopback port: its endpoint URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    moto = Path(sys.executable).parent / "moto_server"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                terminate(proc)
                raise RuntimeError(f"moto_server did not start:\n{log.read_text()[-2000:]}") from None
            time.sleep(0.1)
    yield url
    terminate(proc)


@pytest.fixture
def bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the credentials in the environment, as an operator sets them."""
    import boto3  # only here, to make the bucket: the gateway itself needs no SDK

    name = f"kara-{os.getpid()}-{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket=name)
    monkeypatch.setenv("KARA_ATTACHMENTS_S3_ACCESS_KEY", "test")
    monkeypatch.setenv("KARA_ATTACHMENTS_S3_SECRET_KEY", "test")
    return f"{s3_server}/{name}"


def keys(bucket_url: str) -> list:
    import boto3

    endpoint, name = bucket_url.rsplit("/", 1)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    return [o["Key"] for o in client.list_objects_v2(Bucket=name).get("Contents", [])]


def test_objects_are_kept_read_and_deleted(bucket: str) -> None:
    store = S3Store.from_env(bucket)
    assert store.get(KEY) is None
    store.put(KEY, b"%PDF-1.4 receipt", "application/pdf")
    assert store.get(KEY) == b"%PDF-1.4 receipt" and keys(bucket) == [KEY]
    store.delete(KEY)
    store.delete(KEY)  # nothing there is not an error
    assert store.get(KEY) is None and keys(bucket) == []
    with pytest.raises(ValueError, match="KARA_ATTACHMENTS_S3_ACCESS_KEY"):
        S3Store.from_env(bucket, env={})
    with pytest.raises(ValueError, match="BUCKET"):
        S3Store("http://127.0.0.1:9", "a", "b")


async def test_a_gateway_keeps_files_in_the_object_store(make_gateway, bucket: str, tmp_path: Path) -> None:
    gw = await make_gateway(attachments_s3_url=bucket, attachments_dir=tmp_path / "unused")
    s, a, cid, token, agent_token = await chat_with_agent(gw)
    status, _, body = await upload(gw, files.photo_with_gps(), token=token, name="receipt.jpg")
    assert status == 201, body
    attachment = body["message"]["attachment"]
    assert keys(bucket) == [f"{cid}/{attachment['id']}"] and not (tmp_path / "unused").exists()
    status, _, data = await call(gw, "GET", attachment["url"], headers={"Authorization": f"Bearer {agent_token}"})
    assert status == 200 and not files.has_metadata(data)
    await a.send(type="close", conversation_id=cid)
    await a.expect("chat_ended", conversation_id=cid)
    url = sync_url(gw.gateway.config.db_url)
    counts = await asyncio.to_thread(transcript.erase, url, cid, S3Store.from_env(bucket))
    assert counts is not None and counts["attachments"] == 1 and keys(bucket) == []


async def test_an_object_store_that_does_not_answer(make_gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KARA_ATTACHMENTS_S3_ACCESS_KEY", "test")
    monkeypatch.setenv("KARA_ATTACHMENTS_S3_SECRET_KEY", "test")
    with pytest.raises(StoreError):
        S3Store.from_env("http://127.0.0.1:9/kara").put(KEY, b"x", "application/pdf")
    gw = await make_gateway(attachments_s3_url="http://127.0.0.1:9/kara")
    s = await shopper(gw)
    status, _, body = await upload(gw, files.pdf(), token=s.received[0]["token"])
    assert status == 503
    assert body["error"] == "The file could not be stored just now; nothing was sent. Please try again."
    assert await s.quiet(0.3) == []


def test_the_signature_is_the_one_the_aws_sdk_computes() -> None:
    """moto does not check signatures: botocore's own SigV4 signer does, for the same request."""
    import datetime as dt
    import hashlib

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = b"%PDF-1.4 receipt"
    url = f"http://127.0.0.1:9000/kara/{KEY}"
    request = AWSRequest(method="PUT", url=url, data=body,
                         headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    S3SigV4Auth(Credentials("AKIDEXAMPLE", "secret/key"), "s3", "eu-west-1").add_auth(request)
    when = dt.datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    ours = S3Store("http://127.0.0.1:9000/kara", "AKIDEXAMPLE", "secret/key", "eu-west-1")._headers(
        "PUT", f"/kara/{KEY}", body, when)
    assert ours["Authorization"] == request.headers["Authorization"]
