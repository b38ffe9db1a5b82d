"""``nbmock serve`` as a child process, as a user or CI starts it, for the serving tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NbmockProcess:
    """``nbmock serve --port <free> *args`` on 127.0.0.1; its output is collected as it runs.

    ``python`` is the interpreter to run it with (another virtual environment's, say);
    ``command_prefix`` runs it under another command (``setpriv ...``).
    """

    def __init__(
        self,
        *args: str,
        ready_path: str = "/arcgis/sharing/rest/info?f=json",
        verify: str | bool = True,
        port: int | None = None,
        python: str = sys.executable,
        cwd: str | None = None,
        command_prefix: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [*command_prefix, python, "-m", "mockserver", "serve", "--port", str(self.port), *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()
        self.scheme = "https" if ("--tls" in args or "--cert" in args) else "http"
        self.origin = f"{self.scheme}://127.0.0.1:{self.port}"
        self.base = f"{self.origin}/arcgis"
        self.verify = verify
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._reader.join(timeout=5)
                raise RuntimeError(f"nbmock serve exited: {self.output}")
            if self.scheme == "https" and self.verify is True:
                self.verify = self.certificate_path() or True
            try:
                requests.get(self.origin + ready_path, timeout=2, verify=self.verify)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"nbmock serve did not answer within 30 s: {self.output}")

    def _collect(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def certificate_path(self) -> str | None:
        """The generated certificate's path, as the start banner prints it."""
        match = re.search(r"Certificate: (\S+)", self.output)
        return match.group(1) if match and Path(match.group(1)).exists() else None

    def token(self, username: str = "admin", password: str = "admin1234") -> str:
        answer = requests.post(
            f"{self.base}/sharing/rest/generateToken",
            data={"username": username, "password": password, "f": "json"},
            timeout=10,
            verify=self.verify,
        ).json()
        return answer["token"]

    def stop(self, sig: int = signal.SIGTERM) -> str:
        """Stop as a service manager does (SIGTERM) and return everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        return self.output
