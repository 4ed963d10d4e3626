"""The command line: ``./kara <command>`` (``python -m bot <command>``).

    run     train if needed, seed the demo shop, start the whole system
    test    make sure PostgreSQL/Redis/Chromium are there, train if needed, run ruff,
            mypy and pytest (three sessions, two at a time: bot/suite.py)
    train   train the model if config, domain or data changed
    seed    load a shop data file into the shop database
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

from bot import paths
from bot.model_cache import ensure_model
from bot.processes import GATEWAY_PYTHON, ManagedProcess, gateway_command, http_ok, seed_shop, start_bot_stack

DEFAULT_SHOP_DB = f"sqlite:///{paths.VAR / 'shop.db'}"
DEFAULT_GATEWAY_DB = f"sqlite:///{paths.VAR / 'gateway.db'}"
DEMO_AGENT = ("demo", "Demo Agent", "kara-demo")  # username, display name, password


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


def cmd_train(_: argparse.Namespace) -> int:
    ensure_model()
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    paths.VAR.mkdir(exist_ok=True)
    seed_shop(args.db_url, Path(args.file))
    print(f"seeded {args.db_url} from {args.file}")
    return 0


class Stopped(Exception):
    """SIGTERM or SIGHUP: stop like Ctrl-C does (see :func:`stop_on_signals`)."""


def _raise_stopped(signum: int, _frame: object) -> None:
    raise Stopped(signal.Signals(signum).name)


def stop_on_signals() -> None:
    """SIGTERM (systemd, a container runtime, ``kill``) and SIGHUP (the
    terminal went away) unwind ``cmd_run`` like Ctrl-C, so its ``finally``
    stops the gateway, Rasa and the action server instead of leaving them
    running as orphans. (Each child also gets SIGTERM should this process be
    killed outright: ``ManagedProcess`` sets its parent-death signal.)"""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_stopped)


def cmd_run(args: argparse.Namespace) -> int:
    stop_on_signals()
    try:
        return _run(args)
    except (KeyboardInterrupt, Stopped):  # before everything was up: what started was stopped
        return 0


def _run(args: argparse.Namespace) -> int:
    paths.VAR.mkdir(exist_ok=True)
    logs = Path(args.log_dir)
    _step("model")
    model = ensure_model()
    _step("demo shop database")
    seed_shop(args.shop_db)
    _step("action server and Rasa server (loading the model takes a moment)")
    stack = start_bot_stack(model, args.shop_db, logs, rasa_port=args.rasa_port,
                            actions_port=args.actions_port, redis_url=args.redis_url,
                            processes=args.rasa_processes, tracker_db_url=args.tracker_db)
    gateway: Optional[ManagedProcess] = None
    try:
        _step("gateway")
        db = ["--db-url", args.gateway_db]
        subprocess.run(gateway_command("migrate", *db), cwd=paths.ROOT, check=True)
        user, name, password = DEMO_AGENT
        # Creates the demo agent, or resets its password to the documented one.
        subprocess.run(gateway_command("create-agent", user, "--name", name, "--password", password,
                                    *db), cwd=paths.ROOT, check=True)
        serve = ["serve", "--port", str(args.gateway_port), "--rasa-url", ",".join(stack.rasa_urls), *db]
        if args.redis_url:
            serve += ["--redis-url", args.redis_url]
        gateway = ManagedProcess("gateway", gateway_command(*serve), logs / "gateway.log",
                                 env={"KARA_RASA_TOKEN": stack.rasa_token,
                                      "KARA_TRACKER_DB_URL": stack.tracker_db_url}).start()
        base = f"http://127.0.0.1:{args.gateway_port}"
        gateway.wait_ready(lambda: http_ok(f"{base}/healthz"), 60)
        print(f"""
Kara Support Chat is running.
  storefront with the chat widget  {base}/
  provider emergency line          {base}/emergency
  agent console                    {base}/console   (login: {user} / {password})
  Rasa REST channel                {stack.rasa_url}/webhooks/rest/webhook
  logs                             {logs}
Press Ctrl-C to stop.""", flush=True)
        while gateway.alive() and all(m.rasa.alive() and m.actions.alive() for m in stack.members):
            time.sleep(1)
        print("a process stopped; see the logs", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Stopped):
        return 0
    finally:
        # A second signal while stopping must not cut the stopping short.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if gateway is not None:
            gateway.stop()
        stack.stop()


def cmd_test(args: argparse.Namespace) -> int:
    from bot import suite
    from bot.services import ensure_all

    _step("services: PostgreSQL, Redis, Chromium")
    ensure_all()
    _step("model")
    ensure_model()
    if args.pytest_args:  # the tests asked for, in their environment, output as it comes
        run = suite.run_for(list(args.pytest_args))
        _step(f"pytest {' '.join(run.args)} ({run.python})")
        return subprocess.call(run.command, cwd=paths.ROOT)
    failed = 0  # the checks of pyproject.toml: ruff (whole repository), mypy --strict (handoff/)
    tools = GATEWAY_PYTHON.parent
    for check in ([str(tools / "ruff"), "check", "."], [str(tools / "mypy")]):
        _step(f"{Path(check[0]).name} {' '.join(check[1:])}")
        failed = failed or subprocess.call(check, cwd=paths.ROOT)
    code = suite.run_lanes(suite.default_lanes(suite.lane_count()))  # every pytest session runs
    return failed or code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kara", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the whole system on embedded defaults")
    run.add_argument("--shop-db", default=os.environ.get("KARA_SHOP_DB_URL", DEFAULT_SHOP_DB))
    run.add_argument("--gateway-db", default=os.environ.get("KARA_GATEWAY_DB_URL", DEFAULT_GATEWAY_DB))
    run.add_argument("--redis-url", default=os.environ.get("KARA_REDIS_URL"),
                     help="share live state through Redis (default: in memory)")
    run.add_argument("--rasa-processes", type=int, default=int(os.environ.get("KARA_RASA_PROCESSES", 1)),
                     help="Rasa servers, each with its action server (ports count up from the first)")
    run.add_argument("--tracker-db", default=os.environ.get("KARA_TRACKER_DB_URL"),
                     help="Rasa's SQL tracker store (default: the shop's server database, else var/tracker.db)")
    run.add_argument("--rasa-port", type=int, default=int(os.environ.get("KARA_RASA_PORT", 5005)))
    run.add_argument("--actions-port", type=int, default=int(os.environ.get("KARA_ACTIONS_PORT", 5055)))
    run.add_argument("--gateway-port", type=int, default=int(os.environ.get("KARA_GATEWAY_PORT", 8765)))
    run.add_argument("--log-dir", default=str(paths.VAR / "logs"), help="where each process writes its log")
    run.set_defaults(func=cmd_run)

    test = sub.add_parser("test", help="run every test (pytest arguments may follow)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(func=cmd_test)

    train = sub.add_parser("train", help="train the model if its inputs changed")
    train.set_defaults(func=cmd_train)

    seed = sub.add_parser("seed", help="load a shop data file (format: actions/shop/SCHEMA.md)")
    seed.add_argument("file", nargs="?", default=str(paths.DEMO_SHOP))
    seed.add_argument("--db-url", default=os.environ.get("KARA_SHOP_DB_URL", DEFAULT_SHOP_DB))
    seed.set_defaults(func=cmd_seed)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
