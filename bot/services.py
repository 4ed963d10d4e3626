"""Make sure the real services the tests use are there: PostgreSQL, Redis and
Debian's Chromium. On the CI machines they normally run already; on a clean
machine they are installed from Debian's packages and started."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time

CHROMIUM = "/usr/bin/chromium"


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _run(cmd: str) -> None:
    print(f"  $ {cmd}", flush=True)
    subprocess.run(cmd, shell=True, check=True)


def _apt_install(*packages: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run("apt-get update -qq", shell=True, check=True, env=env)
    # another install (a second test run) may hold dpkg's lock: wait for it rather than fail
    subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-qq", *packages],
                   check=True, env=env)


def _wait_port(port: int, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not _port_open(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start on port {port}")
        time.sleep(0.5)


def ensure_postgres() -> None:
    if _port_open(5432):
        return
    print("PostgreSQL is not running: starting it", flush=True)
    if not glob.glob("/etc/postgresql/*/main"):
        _apt_install("postgresql")
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    hba = f"/etc/postgresql/{version}/main/pg_hba.conf"
    with open(hba) as fh:
        trusted = "host all all 127.0.0.1/32 trust" in fh.read()
    if not trusted:  # the tests connect as postgres over TCP without a password
        with open(hba, "r+") as fh:
            rules = fh.read()
            fh.seek(0)
            fh.write("host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n" + rules)
    _run(f"pg_ctlcluster --skip-systemctl-redirect {version} main start")
    _wait_port(5432, "PostgreSQL")
    subprocess.run("su postgres -c \"createdb test\"", shell=True, check=False,
                   stderr=subprocess.DEVNULL)


def ensure_redis() -> None:
    if _port_open(6379):
        return
    print("Redis is not running: starting it", flush=True)
    if not shutil.which("redis-server"):
        _apt_install("redis-server")
    os.makedirs("/var/lib/redis", exist_ok=True)
    os.makedirs("/var/log/redis", exist_ok=True)
    _run('redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" '
         "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log")
    _wait_port(6379, "Redis")


def ensure_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    print("Chromium is missing: installing Debian's package", flush=True)
    _apt_install("chromium", "fonts-dejavu-core")


def ensure_all() -> None:
    ensure_postgres()
    ensure_redis()
    ensure_chromium()
