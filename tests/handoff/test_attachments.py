"""Attachments both ways (handoff/attachments/) through a real gateway: a
shopper's photo reaches the agent with its GPS EXIF gone, an agent's PDF
reaches the shopper as a download, files that lie about their type are
refused, only the conversation's own token or an agent's fetches a file, the
size cap and the per-conversation limit (memory and Redis), and the files
going with retention and ``transcript delete`` (SQLite and PostgreSQL)."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import aiohttp
import pytest
from sqlalchemy import select

from handoff import models, transcript
from handoff.attachments.store import FileStore
from handoff.ops import db, retention
from handoff.storage import sync_url

from . import files
from .helpers import add_agent, claimed_chat, login, shopper

pytestmark = pytest.mark.timeout(120)

Reply = Tuple[int, Dict[str, str], bytes]


async def call(gw: Any, method: str, path: str, data: Optional[bytes] = None,
               headers: Optional[Dict[str, str]] = None) -> Reply:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, gw.url + path, data=data, headers=headers or {}) as r:
            return r.status, dict(r.headers), await r.read()


async def upload(gw: Any, data: bytes, *, token: Optional[str] = None, bearer: Optional[str] = None,
                 **params: str) -> Tuple[int, Dict[str, str], Dict[str, Any]]:
    query = dict(params, **({"token": token} if token else {}))
    headers = {"Content-Type": "text/plain"}  # what the widget sends: advice only
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    async with aiohttp.ClientSession() as session:
        async with session.post(gw.url + "/api/attachments", params=query, data=data, headers=headers) as r:
            return r.status, dict(r.headers), json.loads(await r.read())


async def chat_with_agent(gw: Any) -> Tuple[Any, Any, str, str, str]:
    """A shopper handed to the agent ``ada``, who claimed the chat; and her bearer token."""
    s, a, cid, token = await claimed_chat(gw, "ada", "Ada Obi")
    return s, a, cid, token, (await login(gw, "ada", "correct horse"))["token"]


async def test_a_shoppers_photo_reaches_the_agent_without_its_gps(make_gateway, live, tmp_path: Path) -> None:
    gw = await make_gateway(**live, attachments_dir=tmp_path / "files")
    s, a, cid, token, agent_token = await chat_with_agent(gw)
    status, _, body = await upload(gw, files.photo_with_gps(), token=token, name="../../IMG_2041.JPG",
                                   client_id="c-1")
    assert status == 201, body
    attachment = body["message"]["attachment"]
    assert attachment["name"] == "IMG_2041.jpg" and attachment["content_type"] == "image/jpeg"
    assert attachment["url"] == f"/api/attachments/{attachment['id']}"
    echo = await s.expect("message", sender="shopper", client_id="c-1")
    assert echo["attachment"] == attachment and echo["text"] == "IMG_2041.jpg"
    seen = await a.expect("message", sender="shopper", conversation_id=cid)
    assert seen["attachment"] == attachment

    # the agent downloads it: a JPEG still, the GPS position and the camera gone
    status, headers, data = await call(gw, "GET", attachment["url"], headers={"Authorization": f"Bearer {agent_token}"})
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and len(data) == attachment["size"]
    assert headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in headers["Content-Security-Policy"]
    assert not files.has_metadata(data)
    # the shopper too, with their own token in the URL (an <img src>)
    assert (await call(gw, "GET", attachment["url"] + f"?token={token}"))[2] == data
    # a resend with the same client_id is the same message, stored once
    again = await upload(gw, files.photo_with_gps(), token=token, name="IMG_2041.JPG", client_id="c-1")
    assert again[0] == 200 and again[2]["message"]["id"] == body["message"]["id"]
    assert len(list((tmp_path / "files" / cid).iterdir())) == 1

    # nobody else: no token, a wrong one, another shopper's, an agent's token in a URL
    other = (await shopper(gw)).received[0]["token"]
    assert (await call(gw, "GET", attachment["url"]))[0] == 401
    assert (await call(gw, "GET", attachment["url"] + "?token=forged.token"))[0] == 401
    assert (await call(gw, "GET", attachment["url"] + f"?token={other}"))[0] == 404
    assert (await call(gw, "GET", attachment["url"] + f"?token={agent_token}"))[0] == 401
    assert (await call(gw, "GET", "/api/attachments/" + "0" * 32, headers={
        "Authorization": f"Bearer {agent_token}"}))[0] == 404


async def test_an_agents_pdf_reaches_the_shopper_as_a_download(make_gateway, tmp_path: Path) -> None:
    gw = await make_gateway(attachments_dir=tmp_path / "files")
    s, a, cid, token, agent_token = await chat_with_agent(gw)
    document = files.pdf()
    status, _, body = await upload(gw, document, bearer=agent_token, conversation_id=cid, name="Return form.pdf")
    assert status == 201, body
    message = await s.expect("message", sender="agent")
    assert message["agent_name"] == "Ada Obi" and message["attachment"]["name"] == "Return form.pdf"
    await a.expect("message", sender="agent", conversation_id=cid)
    status, headers, data = await call(gw, "GET", message["attachment"]["url"] + f"?token={token}")
    assert status == 200 and data == document and headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''Return%20form.pdf" in headers["Content-Disposition"]
    # the resumed history shows it; an agent who does not own the chat cannot send to it
    s2 = await shopper(gw, token=token)
    assert [m["attachment"]["name"] for m in s2.received[0]["history"] if "attachment" in m] == ["Return form.pdf"]
    await add_agent(gw.gateway.config.db_url, "ben", "Ben")
    ben = (await login(gw, "ben", "correct horse"))["token"]
    status, _, body = await upload(gw, document, bearer=ben, conversation_id=cid)
    assert status == 403 and body["error"] == "Another agent has this conversation."
    assert (await upload(gw, document, bearer="not-a-token", conversation_id=cid))[0] == 401


@pytest.mark.parametrize("data, name", [
    (files.HTML_AS_PNG, "photo.png"), (files.SVG, "receipt.jpg"), (files.GIF, "x.webp"), (b"MZ\x90\x00", "a.pdf"),
])
async def test_a_file_that_lies_about_its_type_is_refused(make_gateway, tmp_path: Path, data: bytes,
                                                          name: str) -> None:
    gw = await make_gateway(attachments_dir=tmp_path / "files")
    s = await shopper(gw)
    status, _, body = await upload(gw, data, token=s.received[0]["token"], name=name)
    assert status == 415 and body["error"].startswith("Only photos (JPEG, PNG or WebP) and PDF documents")
    assert await s.quiet(0.3) == [] and not (tmp_path / "files").exists()


async def test_a_damaged_picture_and_an_empty_file_are_refused(make_gateway, tmp_path: Path) -> None:
    gw = await make_gateway(attachments_dir=tmp_path / "files")
    token = (await shopper(gw)).received[0]["token"]
    status, _, body = await upload(gw, files.BROKEN_PNG, token=token, name="scan.png")
    assert status == 415
    assert body["error"] == "This picture could not be read; it may be damaged. Please send another one."
    assert (await upload(gw, b"", token=token))[2] == {"error": "This file is empty."}


async def test_size_cap_limit_and_origin(make_gateway, live, tmp_path: Path) -> None:
    gw = await make_gateway(**live, attachments_dir=tmp_path / "files", attachment_max_bytes=40_000,
                            attachments_per_conversation=2)
    token = (await shopper(gw)).received[0]["token"]
    # over the cap: answered from the request's head, the body is never read
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    writer.write(f"POST /api/attachments?token={token} HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n".encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 413") and b"This file is too large to send: at most 39 KB." in answer
    # a foreign Origin may not send (the widget's page must be one the websockets accept)
    async with aiohttp.ClientSession() as session:
        async with session.post(gw.url + f"/api/attachments?token={token}", data=files.pdf(),
                                headers={"Origin": "https://evil.example"}) as r:
            assert r.status == 403
    # two files an hour per conversation here, then 429 with Retry-After
    for _ in range(2):
        assert (await upload(gw, files.pdf(), token=token))[0] == 201
    status, headers, body = await upload(gw, files.pdf(), token=token)
    assert status == 429 and int(headers["Retry-After"]) > 3000
    assert body["error"].startswith("Too many files were sent in this conversation; try again in")


async def test_the_allowed_origin_may_read_the_answer(make_gateway, tmp_path: Path) -> None:
    gw = await make_gateway(attachments_dir=tmp_path / "files", allowed_origins=("https://shop.example",))
    token = (await shopper(gw)).received[0]["token"]
    async with aiohttp.ClientSession() as session:
        async with session.post(gw.url + f"/api/attachments?token={token}&name=r.pdf", data=files.pdf(),
                                headers={"Origin": "https://shop.example", "Content-Type": "text/plain"}) as r:
            assert r.status == 201 and r.headers["Access-Control-Allow-Origin"] == "https://shop.example"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    return str(request.getfixturevalue("fresh_pg"))


async def _closed_chat_with_files(make_gateway: Any, db_url: str, files_dir: Path) -> Tuple[str, str]:
    """A chat with a shopper's photo and an agent's PDF, closed; its id and the photo's id."""
    gw = await make_gateway(db_url=db_url, attachments_dir=files_dir)
    s, a, cid, token, agent_token = await chat_with_agent(gw)
    photo = (await upload(gw, files.photo_with_gps(), token=token))[2]["message"]["attachment"]
    assert (await upload(gw, files.pdf(), bearer=agent_token, conversation_id=cid))[0] == 201
    await a.send(type="close", conversation_id=cid)
    await a.expect("chat_ended", conversation_id=cid)
    await gw.close()
    assert len(list((files_dir / cid).iterdir())) == 2
    return cid, photo["id"]


def _attachment_rows(url: str) -> list:
    engine = db.engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(models.Attachment.__table__)).all())
    finally:
        engine.dispose()


async def test_retention_removes_a_conversations_files(make_gateway, db_url: str, tmp_path: Path) -> None:
    cid, _ = await _closed_chat_with_files(make_gateway, db_url, tmp_path / "files")
    url = sync_url(db_url)
    engine = db.engine(url)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=40)
    try:
        dry = retention.apply(engine, 30, now=later, dry_run=True, attachments=FileStore(tmp_path / "files"))
        assert dry.rows["attachments"] == 2 and len(_attachment_rows(url)) == 2
        done = retention.apply(engine, 30, now=later, attachments=FileStore(tmp_path / "files"))
    finally:
        engine.dispose()
    assert done.conversation_ids == [cid] and done.rows["attachments"] == 2
    assert _attachment_rows(url) == [] and not (tmp_path / "files" / cid).exists()


async def test_transcript_delete_removes_the_files(make_gateway, db_url: str, tmp_path: Path) -> None:
    cid, photo_id = await _closed_chat_with_files(make_gateway, db_url, tmp_path / "files")
    exported = await asyncio.to_thread(transcript.export, sync_url(db_url), cid)
    assert exported is not None
    assert [m["attachment"]["id"] for m in exported["messages"] if "attachment" in m][0] == photo_id
    counts = await asyncio.to_thread(transcript.erase, sync_url(db_url), cid, FileStore(tmp_path / "files"))
    assert counts is not None and counts["attachments"] == 2
    assert _attachment_rows(sync_url(db_url)) == [] and not (tmp_path / "files" / cid).exists()


async def test_a_slow_upload_has_its_own_deadline(make_gateway, tmp_path: Path) -> None:
    """A phone on a slow network: the body may come after the connection's 1 s
    deadline, within the upload's (3 s here); one that stops is answered 408."""
    gw = await make_gateway(attachments_dir=tmp_path / "files", open_timeout_s=1, upload_timeout_s=3)
    token = (await shopper(gw)).received[0]["token"]
    document = files.pdf()

    async def post_slowly(parts: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(f"POST /api/attachments?token={token}&name=slow.pdf HTTP/1.1\r\nHost: x\r\n"
                     f"Expect: 100-continue\r\nContent-Length: {len(document)}\r\n\r\n".encode())
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == b"HTTP/1.1 100 Continue\r\n\r\n"
        half = len(document) // 2
        writer.write(document[:half])
        await asyncio.sleep(1.5)  # past the connection's own deadline
        if parts == 2:
            writer.write(document[half:])
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return answer

    assert (await post_slowly(2)).startswith(b"HTTP/1.1 201")
    assert (await post_slowly(1)).startswith(b"HTTP/1.1 408")
