"""The kit against servers that misbehave on the wire: huge answers, trickled answers.

Issue 24: a 200 MB answer gave ``nbmock verify`` 914 MB of memory; a
server sending one byte every 20 s kept it running past 130 s. The servers
here are started by the tests on 127.0.0.1 (``tests.kit_servers``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from contracts.target import Target
from contracts.transport import AnswerTooLarge
from tests.kit_servers import TRICKLE_PHASES, HostileServer, answering, endless_answer, trickle

HUGE = 256 * 1024 * 1024
CAP = 1024 * 1024
CREDENTIALS = {"ARCGIS_TOKEN": "hostile-kit-token", "PYTHONUNBUFFERED": "1"}


def run_verify(
    *args: str, timeout: float = 180, token: str = "hostile-kit-token"
) -> tuple[int, str, int]:
    """``nbmock verify`` as a child: (exit status, output, its peak memory in KiB).

    The peak is the child's own ``VmHWM``, read while it runs. ``ru_maxrss`` from
    ``os.wait4`` would not do: Linux carries the spawning process's high-water mark
    across ``exec``, so late in a long suite it reports this pytest's own size.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCGIS_", "NBMOCK_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "verify", "--pause", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**env, **CREDENTIALS, "ARCGIS_TOKEN": token},
    )
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.append(process.stdout.read()), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    peak_kib = 0
    while True:
        peak_kib = max(peak_kib, _high_water_kib(process.pid))
        pid, status, _ = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            reader.join(timeout=10)
            pytest.fail(f"nbmock verify still ran after {timeout} s: {b''.join(output)[-3000:]!r}")
        time.sleep(0.1)
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join(timeout=30)
    return process.returncode, b"".join(output).decode(errors="replace"), peak_kib


def _high_water_kib(pid: int) -> int:
    """The peak resident size of ``pid``'s current program, 0 once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_answer_past_the_cap_fails_the_check_and_is_never_held_whole(declared):
    with HostileServer(endless_answer(HUGE, declared=declared)) as server:
        code, output, peak_kib = run_verify(
            "--target", server.base, "--max-answer-bytes", str(CAP), "-k", "runtime_keys_match_seed"
        )
    assert code == 1, output[-3000:]
    assert f"is larger than the kit reads ({CAP} bytes)" in output, output[-3000:]
    # The kit stopped reading: far less memory than the answer's size.
    assert peak_kib * 1024 < HUGE / 2, f"peak {peak_kib} KiB for a {HUGE}-byte answer"


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_target_refuses_an_answer_past_its_cap(declared):
    with HostileServer(endless_answer(HUGE, declared=declared)) as server:
        kit = Target.from_url(server.base, token="hostile-kit-token", max_answer_bytes=CAP, pause=0)
        with pytest.raises(AnswerTooLarge, match="GET admin/notebooks/runtimes is larger"):
            kit.admin("GET", "notebooks/runtimes")
    with HostileServer(endless_answer(CAP, declared=declared)) as server:
        kit = Target.from_url(server.base, token="hostile-kit-token", max_answer_bytes=CAP, pause=0)
        assert len(kit.admin("GET", "notebooks/runtimes").text) == CAP  # up to the cap: read


@pytest.mark.parametrize("phase", TRICKLE_PHASES)
@pytest.mark.parametrize("interval", [0.5, 20], ids=["a byte each 0.5 s", "a byte each 20 s"])
def test_verify_against_a_trickling_target_ends_and_names_the_request(phase, interval):
    """Every read may succeed (0.5 s) or wait long (20 s): only the request's deadline ends it."""
    with HostileServer(trickle(interval, phase)) as server:
        code, output, _ = run_verify(
            "--target", server.base, "--request-deadline", "2", "-k", "runtime_keys_match_seed",
            timeout=120,
        )  # fmt: skip
    assert code != 0, output[-3000:]
    # The request is named: its method and path.
    assert re.search(r"no complete answer to GET [\w/]+ within 2 s", output), output[-3000:]
    assert "contract kit: stopped early:" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]


def test_a_second_sigterm_during_cleanup_ends_it_with_a_report_and_no_traceback():
    """First TERM while a request hangs; the second while cleanup's own request hangs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCGIS_", "NBMOCK_"))}
    with HostileServer(trickle(0.5)) as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "verify", "--pause", "0", "--target", server.base,
             "--request-deadline", "600", "-k", "runtime_keys_match_seed"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**env, **CREDENTIALS},
        )  # fmt: skip
        try:
            server.wait_for_requests(1)
            process.send_signal(signal.SIGTERM)
            server.wait_for_requests(2)  # the cleanup's listing of the run's runtimes
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=30)
    assert process.returncode != 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "contract kit: cleanup interrupted by a second Ctrl-C or SIGTERM" in output, output
    assert f"nbmock sweep --target {server.base} --prefix nbmock-kit-" in output, output


HEADER_ANSWERS = {
    "not JSON": b"<html>Sign in</html>",
    "wrong types": b'{"portalDeploymentType": ["x"], "enterpriseVersion": {"a": 1}}',
    "missing": b"{}",
    "an error": b'{"error": {"code": 403, "message": "no", "details": []}}',
}


@pytest.mark.parametrize("answer", HEADER_ANSWERS)
def test_console_header_of_a_target_without_control_plane_is_plain_words(answer):
    """What the target says about itself, however odd, is printed as words, never a repr."""
    with HostileServer(answering([HEADER_ANSWERS[answer]])) as server:
        _, output, _ = run_verify("--target", server.base, "-k", "runtime_keys_match_seed")
    header = output[output.index("contract kit\n") :].splitlines()[1:5]
    assert header[0] == f"  target:  {server.base} (no emulator control plane)", output[:3000]
    assert header[1].startswith("  flavour: not known ("), output[:3000]
    assert header[2].startswith("  release: not known ("), output[:3000]
    assert header[3].startswith("  mode:    read-only"), output[:3000]
    assert not any(mark in line for line in header for mark in ("['", "{'", "Target(", "None")), (
        header
    )
