"""Command line: ``python -m handoff serve | migrate | create-agent``.

* ``serve [--host] [--port] [--rasa-url] [--db-url] [--redis-url] [--secret]
  [--grace-seconds] [--emergency-page-after] [--page-webhook]
  [--allowed-origin ...] [--trusted-proxy ...] [--widget-dir] [--ping-interval]
  [--hello-timeout] [--open-timeout] [--login-window] [--login-per-username]
  [--login-per-address] [--new-chats-per-address] [--new-chats-window]
  [--loop] [--no-migrate]``:
  run the gateway; prints ``gateway listening on http://HOST:PORT`` when
  ready. Flags default to ``KARA_GATEWAY_*`` (see :mod:`handoff.config`).
  No ``--redis-url``: live state in memory (one process only).
* ``migrate [--db-url]``: create or upgrade the schema (Alembic).
* ``create-agent USERNAME --name "Display Name" [--password P] [--db-url]``:
  password from ``--password`` or the first line of standard input;
  an existing username gets the new password (and name).
* ``transcript export|delete CONVERSATION_ID [--db-url] [--rasa-url] [--output FILE]``:
  a conversation's records as JSON, or deleted with the assistant's copy
  (privacy requests; see :mod:`handoff.transcript`). Exit 1: no such
  conversation; 3: still open; 4: the assistant did not answer.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import List, Optional

from . import logs
from .auth import hash_password
from .config import GatewayConfig
from .ops import cli as ops_cli
from .ops.roles import ROLES, give_role  # create-agent --role


LOOPS = ("uvloop", "asyncio")


def event_loop_policy(name: str) -> asyncio.AbstractEventLoopPolicy:
    """uvloop moves the event loop itself (polling, callbacks, transports)
    into C: in the relay benchmark, about a tenth of the gateway's CPU per
    message. It comes with Rasa (Sanic runs on it), so it costs no package."""
    if name == "uvloop":
        import uvloop

        policy: asyncio.AbstractEventLoopPolicy = uvloop.EventLoopPolicy()
        return policy
    if name == "asyncio":
        return asyncio.DefaultEventLoopPolicy()
    raise SystemExit(f"unknown event loop {name!r}; choose one of {', '.join(LOOPS)}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m handoff", description="Kara Support Chat handoff gateway")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--rasa-url", help="Rasa process(es), comma-separated")
    serve.add_argument("--rasa-token", help="Rasa's API token (default $KARA_RASA_TOKEN)")
    serve.add_argument("--db-url")
    serve.add_argument("--redis-url", help="shared live state; omit for in-memory (one process)")
    serve.add_argument("--redis-prefix")
    serve.add_argument("--secret", help="token signing secret, the same for every process")
    serve.add_argument("--grace-seconds", type=float)
    serve.add_argument("--emergency-page-after", type=float, metavar="S")
    serve.add_argument("--page-webhook", metavar="URL")
    serve.add_argument("--allowed-origin", action="append", dest="allowed_origins", metavar="ORIGIN",
                       help="a browser Origin allowed on websockets (default: the gateway's own; * for any)")
    serve.add_argument("--trusted-proxy", action="append", dest="trusted_proxies", metavar="ADDRESS",
                       help="a reverse proxy whose X-Forwarded-For names the client")
    serve.add_argument("--hello-timeout", type=float, dest="hello_timeout_s", metavar="S")
    serve.add_argument("--open-timeout", type=float, dest="open_timeout_s", metavar="S")
    serve.add_argument("--login-window", type=float, dest="login_window_s", metavar="S")
    serve.add_argument("--login-per-username", type=int)
    serve.add_argument("--login-per-address", type=int)
    serve.add_argument("--new-chats-per-address", type=int, help="per window; 0: no limit")
    serve.add_argument("--new-chats-window", type=float, dest="new_chats_window_s", metavar="S")
    serve.add_argument("--widget-dir")
    serve.add_argument("--rasa-timeout", type=float)
    serve.add_argument("--ping-interval", type=float, help="seconds; 0 disables keepalive pings")
    serve.add_argument("--no-migrate", dest="migrate", action="store_const", const=False)
    serve.add_argument("--no-auto-assign", dest="auto_assign", action="store_const", const=False,
                       help="agents claim every chat themselves (default: waiting chats are assigned)")
    serve.add_argument("--transfer-offer", type=float, dest="transfer_offer_s", metavar="S",
                       help="a transfer to a named agent opens to the queue after S seconds (default 60)")
    serve.add_argument("--loop", choices=LOOPS, help="event loop (default uvloop)")
    serve.add_argument("--log-level", default="INFO")
    serve.add_argument("--metrics-token", help="bearer token of GET /metrics; none: no /metrics (404)")
    serve.add_argument("--attachments-dir", metavar="DIR", help="where sent files are kept (default var/attachments)")
    serve.add_argument("--attachment-max-bytes", type=int, metavar="N", help="the largest file (default 10 MiB)")

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.add_argument("--db-url")

    agent = commands.add_parser("create-agent", help="create an agent account (or reset its password)")
    agent.add_argument("username")
    agent.add_argument("--name", required=True, help="display name shown to shoppers")
    agent.add_argument("--password", help="default: read from standard input")
    agent.add_argument("--db-url")
    agent.add_argument("--role", choices=ROLES, help="default: agent (kept when updating)")  # ops
    transcript = commands.add_parser("transcript", help="export or delete one conversation's records")
    transcript.add_argument("action", choices=("export", "delete"))
    transcript.add_argument("conversation_id")
    transcript.add_argument("--db-url")
    transcript.add_argument("--rasa-url", help="delete: the assistant whose copy is erased too")
    transcript.add_argument("--rasa-token", help="delete: Rasa's API token (default $KARA_RASA_TOKEN)")
    transcript.add_argument("--tracker-db-url", help="delete: Rasa's SQL tracker store (default $KARA_TRACKER_DB_URL)")
    transcript.add_argument("--output", help="export: write the JSON here instead of standard output")
    return parser


def _transcript(args: argparse.Namespace, db_url: str) -> int:
    import json

    from .transcript import export

    if args.action == "export":
        data = export(db_url, args.conversation_id)
        if data is None:
            print(f"no conversation {args.conversation_id}", file=sys.stderr)
            return 1
        text = json.dumps(data, ensure_ascii=False, indent=2)
        if args.output:
            with open(args.output, "w", encoding="utf-8") as out:
                out.write(text + "\n")
        else:
            print(text)
        return 0
    return _delete(args, db_url)


def _delete(args: argparse.Namespace, db_url: str) -> int:
    """``transcript delete``: the assistant's copy first, then the rows (see
    :mod:`handoff.transcript`)."""
    from .rasa_client import RasaUnavailable
    from .rasa_pool import RasaPool
    from sqlalchemy.exc import SQLAlchemyError

    from .tracker_store import configured_url, delete_conversation
    from .transcript import StillOpen, erasable, erase

    async def forget(rasa_url: str) -> bool:
        rasa = RasaPool(rasa_url, timeout_s=30, token=args.rasa_token or GatewayConfig().rasa_token)
        try:
            return await rasa.forget(args.conversation_id)
        finally:
            await rasa.close()

    try:
        if not erasable(db_url, args.conversation_id):
            print(f"no conversation {args.conversation_id}", file=sys.stderr)
            return 1
        rasa_url = args.rasa_url or GatewayConfig.from_env().rasa_url
        try:
            assistant = "erased" if asyncio.run(forget(rasa_url)) else "not running (nothing kept)"
        except RasaUnavailable as exc:
            print(f"the assistant at {rasa_url} did not erase its copy ({exc}); nothing was deleted, "
                  "try again", file=sys.stderr)
            return 4
        tracker_db = args.tracker_db_url or configured_url()
        if tracker_db:  # the SQL store only appends: its rows go by SQL
            try:
                events = delete_conversation(tracker_db, args.conversation_id)
            except SQLAlchemyError as exc:
                print(f"the tracker store did not erase the assistant's copy ({type(exc).__name__}); "
                      "nothing else was deleted, try again", file=sys.stderr)
                return 4
            assistant += f"; its tracker store: {events} events erased"
        counts = erase(db_url, args.conversation_id)
    except StillOpen:
        print(f"conversation {args.conversation_id} is waiting for or with an agent; close it first",
              file=sys.stderr)
        return 3
    if counts is None:
        print(f"no conversation {args.conversation_id}", file=sys.stderr)
        return 1
    rows = ", ".join(f"{n} {table}" for table, n in counts.items())
    print(f"deleted conversation {args.conversation_id}: {rows}; the assistant's copy: {assistant}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    logs.setup(getattr(__import__("logging"), str(args.log_level).upper(), 20))
    overrides = {
        k: v
        for k, v in vars(args).items()
        if k not in ("command", "log_level") and v is not None
    }
    for name in ("allowed_origins", "trusted_proxies"):
        if name in overrides:
            overrides[name] = tuple(overrides[name])
    config = GatewayConfig.from_env(**overrides)
    from .server import run

    asyncio.set_event_loop_policy(event_loop_policy(config.loop))
    try:
        asyncio.run(run(config))
    except KeyboardInterrupt:
        pass
    return 0


def _create_agent(args: argparse.Namespace, db_url: str) -> int:
    from .storage import Storage, migrate

    password = args.password
    if password is None:
        password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        print("the password must have at least 8 characters", file=sys.stderr)
        return 2
    username = args.username.strip()
    if not username or len(username) > 64:
        print("the username must have 1..64 characters", file=sys.stderr)
        return 2
    migrate(db_url)

    async def create() -> str:
        storage = Storage(db_url)
        try:
            hashed = hash_password(password)
            if await storage.set_agent_password(username, args.name, hashed):
                return "updated"
            await storage.create_agent(username, args.name, hashed)
            return "created"
        finally:
            await storage.close()

    outcome = asyncio.run(create())
    if args.role:  # handoff/ops/roles.py
        outcome += give_role(db_url, username, args.role)
    print(f"agent {username} {outcome}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    if (code := ops_cli.main(argv)) is not None:  # report | missed | retention (handoff/ops/cli.py)
        return code
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)

    from .storage import migrate

    db_url = args.db_url or GatewayConfig.from_env().db_url
    if args.command == "transcript":
        return _transcript(args, db_url)
    if args.command == "migrate":
        migrate(db_url)
        print(f"database at head: {db_url.split('@')[-1]}")
        return 0
    return _create_agent(args, db_url)  # create-agent
