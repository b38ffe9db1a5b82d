"""Contender servers on 127.0.0.1: started as a user would, stopped by process group."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from bench import cpu
from contracts.exchanges import seed_copy_form

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "openapi" / "notebook-runtimes.yaml"
PRISM_DIR = Path(__file__).resolve().parent / ".prism"
PRISM_BIN = PRISM_DIR / "node_modules" / ".bin" / "prism"
WIREMOCK_DIR = Path(__file__).resolve().parent / ".wiremock"
#: Where npm's ``wiremock`` package keeps the standalone jar it wraps.
WIREMOCK_JARS = WIREMOCK_DIR / "node_modules" / "wiremock" / "build"

STANDARD_ID = "d47350a5-e4f0-4b63-ae55-c0a5773a96bb"
#: The seed page's copy parameters, as a form.
SEED_COPY = seed_copy_form()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A process (and its children) serving on 127.0.0.1:``port``; output goes to ``log``."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        port: int,
        ready_path: str,
        log: Path,
        env: dict[str, str] | None = None,
        ready_timeout: float = 60,
    ) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        self.ready_path = ready_path
        self.log = log
        self._env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self._ready_timeout = ready_timeout
        self.process: subprocess.Popen | None = None
        #: Seconds from launching the process to its first answer.
        self.ready_seconds: float | None = None

    def start(self) -> Server:
        launched = time.monotonic()
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env=self._env,
                start_new_session=True,
            )
        deadline = launched + self._ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log}")
            try:
                requests.get(self.origin + self.ready_path, timeout=2)
                self.ready_seconds = time.monotonic() - launched
                return self
            except requests.RequestException:
                # Polled finely: the time to first answer is one of the figures.
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {self._ready_timeout:.0f} s")

    def failure(self) -> str:
        """The last line of its log that names an error (why it did not start), or ""."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        errors = [line.strip() for line in lines if "Error" in line or "error:" in line]
        return errors[-1][:200] if errors else ""

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL what is left after 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the whole group at once: a crash, not a shutdown."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def cpu_seconds(self) -> float:
        """CPU seconds spent so far by the server and all its descendants (bench/cpu.py)."""
        if self.process is None:
            return 0.0
        return cpu.cpu_seconds([self.process.pid])

    def rss_bytes(self) -> int:
        """Resident memory of the server and all its descendants (gunicorn master + workers)."""
        if self.process is None:
            return 0
        return sum(_rss(pid) for pid in _tree(self.process.pid))

    def descriptors(self) -> int:
        """Open file descriptors of the server and all its descendants."""
        if self.process is None:
            return 0
        total = 0
        for pid in _tree(self.process.pid):
            with contextlib.suppress(OSError):
                total += len(os.listdir(f"/proc/{pid}/fd"))
        return total

    def worker_rss_bytes(self) -> list[int]:
        """Resident memory of each worker: the server's children where it forks
        workers (gunicorn, Prism ``-m``), else the one process."""
        if self.process is None:
            return []
        tree = _tree(self.process.pid)
        workers = [pid for pid in tree[1:] if _parent(pid) == self.process.pid]
        return [_rss(pid) for pid in workers] or [_rss(self.process.pid)]

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def emulator(
    log: Path,
    *,
    state: str | Path | None = None,
    workers: int = 2,
    users: str | Path | None = None,
    extra: tuple[str, ...] = (),
) -> Server:
    """``nbmock serve`` exactly as a user runs it."""
    port = free_port()
    argv = [sys.executable, "-m", "mockserver", "serve", "--port", str(port)]
    argv += ["--workers", str(workers)]
    if state:
        argv += ["--state", str(state)]
    if users:
        argv += ["--users", str(users)]
    argv += list(extra)
    return Server(
        "emulator", argv, port=port, ready_path="/arcgis/sharing/rest/info?f=json", log=log
    )


def serve_supports(option: str) -> bool:
    """Whether this ``nbmock serve`` has ``option`` (the benchmark runs on older trees too)."""
    completed = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    return option in completed.stdout


def ceiling(log: Path, *, workers: int = 2, server: str = "nbmock") -> Server:
    """The bare Flask app (bench/ceiling.py) under ``server`` (bench/hosting.py)."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.ceiling", "--port", str(port), "--workers", str(workers)]
    argv += ["--server", server]
    return Server("bare Flask", argv, port=port, ready_path="/ping", log=log)


def naive(log: Path, *, state: Path, workers: int = 2, server: str = "nbmock") -> Server:
    """The naive stateful handler (bench/naive.py) under ``server`` (bench/hosting.py)."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.naive", "--port", str(port)]
    argv += ["--workers", str(workers), "--state", str(state), "--server", server]
    return Server("naive stateful", argv, port=port, ready_path="/ping", log=log)


def prism_available() -> bool:
    return PRISM_BIN.exists() and SPEC.exists() and shutil.which("node") is not None


def prism_spec(folder: Path) -> Path:
    """The contract as Prism can mock it: JSON answers labelled ``application/json``.

    The contract labels them ``text/plain;charset=UTF-8``, as ArcGIS does (ledger
    W11); Prism 5.16 generates no example for a JSON schema under ``text/plain`` and
    answers HTTP 500 instead. Only the label changes: the bodies and their schemas
    are the contract's.
    """
    contract = yaml.safe_load(SPEC.read_text())

    def relabel(node: Any) -> Any:
        if isinstance(node, dict):
            content = node.get("content")
            if isinstance(content, dict) and "text/plain" in content:
                media = content["text/plain"]
                if media.get("schema", {}).get("type") != "string":
                    content.setdefault("application/json", content.pop("text/plain"))
            for value in node.values():
                relabel(value)
        elif isinstance(node, list):
            for value in node:
                relabel(value)
        return node

    path = folder / "contract-for-prism.yaml"
    path.write_text(yaml.safe_dump(relabel(contract), sort_keys=False))
    return path


def prism(log: Path, *, multiprocess: bool, quiet: bool) -> Server:
    """Stoplight Prism mocking the contract, from the local install in bench/.prism."""
    port = free_port()
    spec = prism_spec(log.parent)
    argv = [str(PRISM_BIN), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)]
    if multiprocess:
        argv.append("--multiprocess")
    if quiet:
        argv += ["--verboseLevel", "silent"]
    name = "Prism" + (" -m" if multiprocess else "") + (" quiet" if quiet else "")
    # Any answer (even 401/404) means it listens.
    return Server(name, argv, port=port, ready_path="/", log=log)


def wiremock_jar() -> Path | None:
    jars = sorted(WIREMOCK_JARS.glob("wiremock-standalone-*.jar"))
    return jars[-1] if jars else None


def wiremock_missing() -> str | None:
    """Why WireMock cannot run here, or None."""
    if wiremock_jar() is None:
        return "bench/.wiremock holds no WireMock jar (make bench-tools installs it with npm)"
    if shutil.which("java") is None:
        return "no java on this machine"
    return None


def wiremock(log: Path, root: Path, copy_path: str, copy_body: str) -> Server:
    """WireMock standalone with one stub: ``POST copy_path`` answers ``copy_body``.

    Its request journal (on by default) is bounded so memory stays flat over a
    long run; the heap is bounded for the same reason.
    """
    mappings = root / "mappings"
    mappings.mkdir(parents=True, exist_ok=True)
    stub = {
        "request": {"method": "POST", "urlPath": copy_path},
        "response": {
            "status": 200,
            "headers": {"Content-Type": "application/json"},
            "body": copy_body,
        },
    }
    (mappings / "copy.json").write_text(json.dumps(stub))
    port = free_port()
    argv = ["java", "-Xmx512m", "-jar", str(wiremock_jar()), "--port", str(port)]
    argv += ["--bind-address", "127.0.0.1", "--root-dir", str(root), "--disable-banner"]
    argv += ["--max-request-journal-entries", "10000"]
    return Server("WireMock", argv, port=port, ready_path="/__admin/health", log=log)


def moto_missing() -> str | None:
    """Why moto's server cannot run here, or None."""
    try:
        import flask_cors  # noqa: F401  (moto[server] brings it; moto alone does not)
        import moto.server  # noqa: F401
    except ImportError as error:
        return f"moto[server] is not installed in this venv ({error.name}; make bench-tools installs it)"
    return None


#: moto's SQS answers for this account; the queue URL a client is given.
MOTO_ACCOUNT = "123456789012"
#: A SigV4-shaped header: moto reads the region from it and checks no signature.
MOTO_AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, "
    "SignedHeaders=host;x-amz-target, Signature=0"
)


def moto(log: Path) -> Server:
    """moto's server (werkzeug, threaded, state in memory), as ``moto_server`` starts it."""
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return Server("moto", argv, port=port, ready_path="/moto-api/", log=log)


def moto_queue(origin: str, name: str = "bench") -> str:
    """Create an SQS queue on moto's server; its URL."""
    answer = requests.post(
        origin + "/",
        json={"QueueName": name},
        headers={
            "X-Amz-Target": "AmazonSQS.CreateQueue",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": MOTO_AUTH,
        },
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["QueueUrl"]


def token(origin: str, username: str = "admin", password: str = "admin1234") -> str:
    answer = requests.post(
        f"{origin}/arcgis/sharing/rest/generateToken",
        data={"username": username, "password": password, "f": "json"},
        timeout=30,
    ).json()
    if "token" not in answer:
        raise RuntimeError(f"no token: {answer.get('error', answer)}")
    return answer["token"]


#: Reading the whole journal takes a few pages of at most 10,000 entries each; longer than
#: this means the server keeps answering, and the caller fails rather than waits.
JOURNAL_READ_SECONDS = 300


def journal(origin: str) -> str:
    """The control plane's request journal, whole, as text ("" where there is none).

    Raises ``RuntimeError`` if a page does not move past ``after`` (a server whose
    ``after=N`` is off by one would answer its last entry again and again) or if the
    reading takes longer than ``JOURNAL_READ_SECONDS``: a runner must fail, never hang.
    """
    pages, after = [], 0
    deadline = time.monotonic() + JOURNAL_READ_SECONDS
    while True:
        if time.monotonic() > deadline:
            raise RuntimeError(f"reading the journal took over {JOURNAL_READ_SECONDS} s")
        response = requests.get(
            f"{origin}/__mock__/journal", params={"after": after, "limit": 10_000}, timeout=60
        )
        if response.status_code != 200:
            return "".join(pages)
        entries = response.json().get("entries", [])
        if not entries:
            return "".join(pages)
        if any(entry["seq"] <= after for entry in entries):
            raise RuntimeError(
                f"GET /__mock__/journal?after={after} answered entries up to seq {after} again"
            )
        pages.append(response.text)
        after = entries[-1]["seq"]


def scratch_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
