"""Real processes: the CLI, and two gateway processes sharing Redis and PostgreSQL."""
from __future__ import annotations

import os
import subprocess

import aiohttp

from .helpers import CLOSED_RASA, PYTHON, REPO, Client, login


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "handoff", *args], cwd=REPO, input=stdin, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


async def test_two_processes_work_as_one(gateway_process, fresh_pg, redis_url, redis_prefix) -> None:
    assert cli("migrate", "--db-url", fresh_pg).returncode == 0
    made = cli("create-agent", "amaka", "--name", "Amaka O.", "--db-url", fresh_pg, stdin="s3cret-pass\n")
    assert made.returncode == 0, made.stderr
    assert "s3cret" not in made.stdout + made.stderr
    common = ["--db-url", fresh_pg, "--redis-url", redis_url, "--secret", "shared", "--rasa-url", CLOSED_RASA,
              "--ping-interval", "0"]
    env = {"KARA_GATEWAY_REDIS_PREFIX": redis_prefix}
    one = gateway_process(*common, env=env)
    two = gateway_process(*common, env=env)

    token = (await login(one, "amaka", "s3cret-pass"))["token"]  # logged in on one...
    agent = await Client.connect(two.ws_url + "/ws/agent")  # ...connected to two
    await agent.send(type="hello", v=1, token=token)
    await agent.expect("welcome")

    s = await Client.connect(one.ws_url + "/ws/shopper")
    await s.send(type="hello", v=1)
    welcome = await s.expect("welcome")
    cid = welcome["conversation_id"]
    await s.send(type="message", text="/request_human")
    await s.expect("state", state="waiting")
    assert (await s.expect("queue"))["position"] == 1
    ring = await agent.expect("handoff")  # notified across processes
    assert ring["entry"]["conversation_id"] == cid

    await agent.send(type="claim", conversation_id=cid)
    claimed = await agent.expect("claimed")
    assert "/request_human" in [m["text"] for m in claimed["chat"]["transcript"]]
    await s.expect("agent_joined")

    await agent.send(type="message", conversation_id=cid, text="Hello from process two")
    assert (await s.expect("message", sender="agent"))["text"] == "Hello from process two"
    await s.send(type="message", text="Hello from process one")
    assert (await agent.expect("message", sender="shopper"))["text"] == "Hello from process one"
    await s.send(type="typing", on=True)
    await agent.expect("typing", who="shopper", on=True)

    # the shopper reconnects to the other process: same history, same state
    await s.close()
    back = await Client.connect(two.ws_url + "/ws/shopper")
    await back.send(type="hello", v=1, token=welcome["token"])
    again = await back.expect("welcome")
    assert again["state"] == "agent" and again["agent"] == {"name": "Amaka O."}
    assert [m["text"] for m in again["history"]][-2:] == ["Hello from process two", "Hello from process one"]
    await agent.send(type="close", conversation_id=cid)
    await back.expect("rating_request")
    await back.send(type="rating", score=4)
    await back.expect("rating_saved")


async def test_serve_cli_and_static_pages(gateway_process, tmp_path) -> None:
    widget = tmp_path / "widget"
    widget.mkdir()
    (widget / "demo.html").write_text("<h1>demo</h1>")
    (widget / "console.html").write_text("<h1>console</h1>")
    (widget / "widget.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("do not serve")
    db = f"sqlite:///{tmp_path / 'gw.db'}"
    gw = gateway_process("--db-url", db, "--widget-dir", str(widget), "--rasa-url", CLOSED_RASA)
    async with aiohttp.ClientSession() as http:
        for path, status, body in [
            ("/", 200, "<h1>demo</h1>"),
            ("/console", 200, "<h1>console</h1>"),
            ("/widget/widget.js", 200, "console.log(1)"),
            ("/emergency", 404, None),
            ("/widget/../secret.txt", 404, None),
            ("/widget/%2e%2e/secret.txt", 404, None),
            ("/nothing", 404, None),
            ("/healthz", 200, "ok\n"),
        ]:
            async with http.get(gw.url + path) as r:
                assert r.status == status, path
                if body is not None:
                    assert await r.text() == body
        async with http.get(gw.url + "/widget/widget.js") as r:
            assert "javascript" in r.headers["Content-Type"]
    made = cli("create-agent", "bola", "--name", "Bola", "--db-url", db, "--password", "short")
    assert made.returncode != 0
    made = cli("create-agent", "bola", "--name", "Bola", "--db-url", db, "--password", "long-enough")
    assert made.returncode == 0
    assert (await login(gw, "bola", "long-enough"))["agent"]["name"] == "Bola"


async def test_chats_of_a_crashed_process_are_requeued(gateway_process, fresh_pg, redis_url, redis_prefix) -> None:
    """The agent's gateway dies (kill -9): no grace timer survives it, yet the
    other process requeues the chat once the agent's presence has expired."""
    assert cli("migrate", "--db-url", fresh_pg).returncode == 0
    made = cli("create-agent", "amaka", "--name", "Amaka", "--db-url", fresh_pg, "--password", "s3cret-pass")
    assert made.returncode == 0
    common = ["--db-url", fresh_pg, "--redis-url", redis_url, "--secret", "shared", "--rasa-url", CLOSED_RASA,
              "--ping-interval", "0", "--grace-seconds", "0.5", "--no-migrate"]
    env = {"KARA_GATEWAY_REDIS_PREFIX": redis_prefix, "KARA_GATEWAY_PRESENCE_TTL_S": "1.5"}
    doomed = gateway_process(*common, env=env)
    survivor = gateway_process(*common, env=env)

    agent = await Client.connect(doomed.ws_url + "/ws/agent")
    await agent.send(type="hello", v=1, token=(await login(survivor, "amaka", "s3cret-pass"))["token"])
    await agent.expect("welcome")
    s = await Client.connect(survivor.ws_url + "/ws/shopper")
    await s.send(type="hello", v=1)
    cid = (await s.expect("welcome"))["conversation_id"]
    await s.send(type="message", text="/request_human")
    await s.expect("state", state="waiting")
    await agent.send(type="claim", conversation_id=cid)
    await agent.expect("claimed")
    await s.expect("state", state="agent")

    doomed.proc.kill()
    doomed.proc.wait(5)
    await s.expect_message("agent was disconnected", sender="system", timeout=15)
    await s.expect("state", state="waiting", queue="general")
    # exactly one requeue happened
    await s.quiet(1.5)
    assert len([f for f in s.received if "agent was disconnected" in f.get("text", "")]) == 1
