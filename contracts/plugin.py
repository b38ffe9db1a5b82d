"""The pytest plugin (registered by entry point): options, the target fixture, reports.

Without ``--target-url`` the suite runs against the emulator in-process (a
fresh app with an unprivileged second user), writes allowed. With it, the suite is read-only unless ``--allow-writes``; whatever
it created is unregistered at the end of the session, also after a failure or
Ctrl-C (pytest tears session fixtures down on interruption, and
``pytest_sessionfinish`` runs a second sweep of the same ids).

Checks marked ``emulator_only`` (as LocalStack marks ``only_localstack``)
need the emulator's control plane, ``/__mock__/``; against anything else
they are reported as not run. A served emulator runs them as the in-process
one does.

Checks marked ``flavour("kubernetes")`` or ``flavour("notebook-server")`` are about
one flavour's API; the kit judges the target's flavour from its answers
(``Target.flavour``) and reports the other flavour's checks as not run.

Registered for every pytest run of an environment where the package is
installed (entry point ``pytest11``), with or without the ``kit`` extra: so
this module imports only pytest and the kit's own modules at the top, and
Hypothesis only when a check asks for its settings.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from contracts.redaction import redact
from contracts.safety import NeedsWrites
from contracts.target import (
    DEFAULT_REMOTE_BUDGET,
    DEFAULT_REMOTE_PAUSE,
    FLAVOUR_TITLES,
    KUBERNETES,
    Credentials,
    Target,
)
from contracts.transport import DEFAULT_DEADLINE_SECONDS, DEFAULT_MAX_ANSWER_BYTES

LIMITED_USER = ("viewer", "viewer1234")  # the in-process emulator's user without privileges
#: The in-process emulator's user with "Create and edit notebooks" and no admin privilege.
NOTEBOOK_USER = ("notebooks", "notebooks1234")
_NOTEBOOK_USER = pytest.StashKey[Credentials]()
_ACTIVE: dict[str, Any] = {"max_examples": 20, "target": None, "results": {}}
EMULATOR_ONLY = "not run (emulator only: needs the /__mock__/ control plane)"


def contract_settings(**overrides: Any) -> Any:
    """Hypothesis settings for a contract property: the run's example count, no deadline.

    Read when a check module is imported, which pytest does after
    ``pytest_configure`` has stored ``--contract-max-examples``.
    """
    from hypothesis import HealthCheck, settings

    options = {
        "max_examples": _ACTIVE["max_examples"],
        "deadline": None,
        "database": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
        "print_blob": False,
    }
    options.update(overrides)
    if "max_examples" in overrides:
        options["max_examples"] = min(overrides["max_examples"], _ACTIVE["max_examples"])
    return settings(**options)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nbmock-contracts", "ArcGIS notebook-runtime contract kit")
    group.addoption(
        "--target-url",
        metavar="URL",
        help="deployment to check, https://host/<context> (default: the emulator in-process)",
    )
    group.addoption(
        "--target-username", metavar="NAME", help="sign-in user (default: $ARCGIS_USERNAME)"
    )
    group.addoption(
        "--target-password",
        metavar="PASSWORD",
        help="prefer $ARCGIS_PASSWORD: options show in process lists",
    )
    group.addoption(
        "--target-token",
        metavar="TOKEN",
        help="a token to use instead of signing in (default: $ARCGIS_TOKEN)",
    )
    group.addoption(
        "--limited-username",
        metavar="NAME",
        help="a user without notebook privileges, for the 403 checks (password: $ARCGIS_LIMITED_PASSWORD)",
    )
    group.addoption(
        "--notebook-username",
        metavar="NAME",
        help="a user with Create and edit notebooks and no administrative privilege, for the "
        "release's access rule (password: $ARCGIS_NOTEBOOK_PASSWORD)",
    )
    group.addoption(
        "--notebook-item",
        metavar="ITEM_ID",
        help="a notebook item the kit may open, execute and close (with --allow-writes)",
    )
    group.addoption(
        "--allow-writes",
        action="store_true",
        help="let the kit create, update and unregister its own runtimes",
    )
    group.addoption(
        "--contract-max-examples",
        type=int,
        metavar="N",
        help="examples per property (default: 20 in-process, 10 remote)",
    )
    group.addoption(
        "--request-budget",
        type=int,
        metavar="N",
        help=f"most requests to send to a remote target (default: {DEFAULT_REMOTE_BUDGET})",
    )
    group.addoption(
        "--request-pause",
        type=float,
        metavar="SECONDS",
        help=f"pause before each request to a remote target (default: {DEFAULT_REMOTE_PAUSE})",
    )
    group.addoption(
        "--request-deadline",
        type=float,
        metavar="SECONDS",
        help="time for each request to a remote target, connection and whole answer "
        f"(default: {DEFAULT_DEADLINE_SECONDS:g})",
    )
    group.addoption(
        "--max-answer-bytes",
        type=int,
        metavar="N",
        help="the largest answer the kit reads; a larger one fails its check "
        f"(default: {DEFAULT_MAX_ANSWER_BYTES})",
    )
    group.addoption(
        "--ca-bundle", metavar="PATH", help="CA bundle to verify the target's TLS certificate with"
    )
    group.addoption("--insecure", action="store_true", help="do not verify TLS certificates")
    group.addoption(
        "--run-prefix",
        metavar="PREFIX",
        help="name prefix for created runtimes (default: nbmock-kit-<time>-<tag>-)",
    )
    group.addoption(
        "--wait-for-expiry",
        action="store_true",
        help="on a remote target, wait 61 s for a 1-minute token to expire",
    )
    group.addoption(
        "--contract-report",
        metavar="DIR",
        help="write report.md (properties and ledger rows) to DIR",
    )
    group.addoption(
        "--emulator-flavour",
        choices=sorted(FLAVOUR_TITLES),
        default=KUBERNETES,
        help="without --target-url: the flavour of the in-process emulator (default: kubernetes)",
    )
    group.addoption(
        "--ledger",
        metavar="PATH",
        help="fidelity ledger to mark (default: the one the package carries, docs/FIDELITY.md)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "contract: a check of the contract kit")
    config.addinivalue_line(
        "markers",
        "emulator_only: a check that needs the emulator's control plane (/__mock__/); "
        "not run against anything else",
    )
    config.addinivalue_line(
        "markers",
        "flavour(name): a check of one flavour's API (kubernetes, notebook-server); "
        "not run against the other",
    )
    remote = bool(config.getoption("--target-url", default=None))
    chosen = config.getoption("--contract-max-examples", default=None)
    _ACTIVE["max_examples"] = chosen or (10 if remote else 20)
    _ACTIVE["results"] = {}
    _ACTIVE["target"] = None
    _ACTIVE.pop("cleanup", None)


def build_target(config: pytest.Config) -> Target:
    url = config.getoption("--target-url")
    prefix = config.getoption("--run-prefix")
    if not url:
        from mockserver.auth.users import User, UserDirectory, default_users

        users = UserDirectory(
            [
                *default_users(),
                User.create(*LIMITED_USER, "Viewer"),
                User.create(*NOTEBOOK_USER, "Publisher"),
            ]
        )
        config.stash[_NOTEBOOK_USER] = Credentials(*NOTEBOOK_USER)
        return Target.in_process(
            app_options={"users": users, "flavour": config.getoption("--emulator-flavour")},
            limited=Credentials(*LIMITED_USER),
            prefix=prefix,
            budget=config.getoption("--request-budget"),
        )
    verify: bool | str = config.getoption("--ca-bundle") or not config.getoption("--insecure")
    budget = config.getoption("--request-budget")
    pause = config.getoption("--request-pause")
    limited = None
    if config.getoption("--limited-username"):
        limited = Credentials(
            config.getoption("--limited-username"), os.environ.get("ARCGIS_LIMITED_PASSWORD")
        )
    if config.getoption("--notebook-username"):
        config.stash[_NOTEBOOK_USER] = Credentials(
            config.getoption("--notebook-username"), os.environ.get("ARCGIS_NOTEBOOK_PASSWORD")
        )
    return Target.from_env(
        url,
        username=config.getoption("--target-username"),
        password=config.getoption("--target-password"),
        token=config.getoption("--target-token"),
        verify=verify,
        allow_writes=config.getoption("--allow-writes"),
        budget=DEFAULT_REMOTE_BUDGET if budget is None else budget,
        pause=DEFAULT_REMOTE_PAUSE if pause is None else pause,
        prefix=prefix,
        limited=limited,
        max_answer_bytes=config.getoption("--max-answer-bytes") or DEFAULT_MAX_ANSWER_BYTES,
        deadline=config.getoption("--request-deadline") or DEFAULT_DEADLINE_SECONDS,
    )


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest):
    """The deployment under test; everything it created is unregistered at the end."""
    the_target = _session_target(request.config)
    the_target.judge_flavour()  # first, so the report names it whatever the checks did
    the_target.notebook_item = request.config.getoption("--notebook-item")
    yield the_target
    _cleanup(request.config)


@pytest.fixture(scope="session")
def writable(target: Target) -> Target:
    """The target, for checks that create runtimes (skipped in a read-only run)."""
    if not target.allow_writes:
        raise NeedsWrites("creates runtimes: run with --allow-writes")
    return target


@pytest.fixture(scope="session")
def notebook_item(writable: Target) -> str:
    """The notebook item the checks may open and execute: the one the user named, or on an
    emulator one the kit seeds through its control plane."""
    if writable.notebook_item:
        return writable.notebook_item
    if not writable.is_emulator:
        pytest.skip("opens and executes a notebook: name one with --notebook-item")
    owner = writable.credentials.username or "admin"
    made = writable.seed_notebook_item(owner)
    writable.notebook_item = made
    return made


@pytest.fixture(scope="session")
def source_runtime(target: Target) -> dict:
    """The system runtime the checks copy from: one without advanced privileges."""
    systems = target.system_runtimes()
    if not systems:
        pytest.fail("the target lists no system runtime to copy from")
    plain = [runtime for runtime in systems if not runtime.get("requiresAdvancedPrivileges")]
    return (plain or systems)[0]


@pytest.fixture(scope="session")
def notebook_user(target: Target, request: pytest.FixtureRequest) -> Credentials:
    """A user with "Create and edit notebooks" and no administrative privilege."""
    user = request.config.stash.get(_NOTEBOOK_USER, None)
    if user is None or not user.password:
        pytest.skip("no notebook-only user: give --notebook-username and $ARCGIS_NOTEBOOK_PASSWORD")
    return user


@pytest.fixture(scope="session")
def limited_token(target: Target) -> str:
    """A valid token of a user without the notebook privileges."""
    if target.limited is None or not target.limited.password:
        pytest.skip("no unprivileged user: give --limited-username and $ARCGIS_LIMITED_PASSWORD")
    return target.generate_token(target.limited.username, target.limited.password)


@pytest.fixture(scope="session")
def credentials(target: Target):
    """The kit's user name and password: checks that sign in are not run with a token alone."""
    return target.require_credentials()


@pytest.fixture(scope="session")
def expired_token(target: Target, credentials, request: pytest.FixtureRequest) -> str:
    """A token of the kit's user whose one minute has run out.

    An emulator's clock moves through ``/__mock__/clock``; anything else
    needs a real 61 s wait, asked for with ``--wait-for-expiry``.
    """
    if not target.can_move_clock and not request.config.getoption("--wait-for-expiry"):
        pytest.skip("token expiry on a remote target needs a 61 s wait: pass --wait-for-expiry")
    short = target.generate_token(credentials.username, credentials.password, expiration=1)
    if target.can_move_clock:
        target.advance_clock(61)
    else:
        time.sleep(61)
    return short


@pytest.fixture(autouse=True)
def _emulator_only(request: pytest.FixtureRequest) -> None:
    """Skip an ``emulator_only`` check on a target without the control plane."""
    if request.node.get_closest_marker("emulator_only") is None:
        return
    if not request.getfixturevalue("target").is_emulator:
        pytest.skip(EMULATOR_ONLY)


@pytest.fixture(autouse=True)
def _flavour_only(request: pytest.FixtureRequest) -> None:
    """Skip a check of one flavour against a target judged to be of the other (or neither)."""
    marker = request.node.get_closest_marker("flavour")
    if marker is None:
        return
    wanted = marker.args[0]
    the_target: Target = request.getfixturevalue("target")
    if the_target.flavour != wanted:
        judged = FLAVOUR_TITLES.get(the_target.flavour or "", "of no known flavour")
        pytest.skip(
            f"not run (a check of {FLAVOUR_TITLES[wanted]}; the target is {judged}: "
            f"{the_target.flavour_evidence})"
        )


def _cleanup(config: pytest.Config) -> None:
    the_target: Target | None = _ACTIVE.get("target")
    if the_target is None or ("cleanup" in _ACTIVE and not the_target.created):
        return
    if "cleanup" in _ACTIVE and the_target.cleanup_problems:
        return  # the first pass was cut short (a dead target, a second signal): it said what is left
    created = len(the_target.created)
    left = the_target.cleanup()
    _ACTIVE["cleanup"] = (created, left)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A second pass: after an interruption the fixture teardown may not have run.
    _cleanup(session.config)
    outcome = _ACTIVE.get("cleanup")
    if outcome and outcome[1]:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    report_dir = session.config.getoption("--contract-report", default=None)
    if report_dir and _ACTIVE["results"]:
        from contracts.report import write_markdown_report

        write_markdown_report(
            Path(report_dir),
            _ACTIVE["results"],
            target=_ACTIVE.get("target"),
            ledger_path=session.config.getoption("--ledger"),
            flavour=_judged(_ACTIVE["target"]) if _ACTIVE.get("target") else None,
        )


def pytest_collection_finish(session: pytest.Session) -> None:
    """The run's header: which deployment, its flavour and release, and the mode."""
    config = session.config
    if config.option.collectonly or not any(_is_contract(item) for item in session.items):
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    the_target = _session_target(config)
    facts = the_target.describe()
    kind = "the nbmock emulator" if the_target.is_emulator else "no emulator control plane"
    reporter.write_line("contract kit")
    for label, value in (
        ("target", f"{the_target.label} ({kind})"),
        ("flavour", facts["flavour"]),
        ("release", facts["release"]),
        ("mode", the_target.mode),
    ):
        reporter.write_line(f"  {label + ':':<9}{redact(value)}")


def _session_target(config: pytest.Config) -> Target:
    """The one target of the session, built by the header or by the first check."""
    if _ACTIVE.get("target") is None:
        _ACTIVE["target"] = build_target(config)
    return _ACTIVE["target"]


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    """A skipped check says why on its own line of the console, not only in report.md."""
    if not (report.skipped and report.nodeid.startswith("contracts/")):
        return None
    if hasattr(report, "wasxfail") or not isinstance(report.longrepr, tuple):
        return None
    reason = redact(report.longrepr[2].removeprefix("Skipped: "))
    return "skipped", "s", (f"SKIPPED ({reason})", {"yellow": True})


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    the_target: Target | None = _ACTIVE.get("target")
    if the_target is None:
        return
    outcome = _ACTIVE.get("cleanup") or (len(the_target.created), list(the_target.created))
    created, left = outcome
    terminalreporter.write_line(
        f"contract kit: {the_target.label}, flavour {_judged(the_target)}, "
        f"{the_target.requests_sent} requests, "
        f"prefix {the_target.prefix}, {created} runtime(s) to clean up, {len(left)} left behind"
        + (f": {', '.join(left)}" if left else "")
    )
    if the_target.unresponsive:
        terminalreporter.write_line(
            f"contract kit: stopped early: {redact(the_target.unresponsive)}"
        )
    for problem in the_target.cleanup_problems:
        terminalreporter.write_line(f"contract kit: cleanup {redact(problem)}")
    for name, result in sorted(_ACTIVE["results"].items()):
        if result["outcome"] == "inconclusive":
            terminalreporter.write_line(
                f"contract kit: {name} inconclusive after {'; '.join(result['causes'])}"
            )


_SEEN = pytest.StashKey[tuple[int, int]]()
#: Exchanges kept as a check's evidence in the ledger patch: its last few.
EVIDENCE_EXCHANGES = 4


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Where the target's transients and exchanges stood when this check began."""
    the_target: Target | None = _ACTIVE.get("target")
    item.stash[_SEEN] = (
        (len(the_target.transients), the_target.exchange_count) if the_target else (0, 0)
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    # Whatever a failure shows (replies, examples), no token or password reaches the report.
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        report.longrepr = redact(str(report.longrepr))
    report.sections = [(title, redact(text)) for title, text in report.sections]
    if _is_contract(item):
        _record_result(item, report)
        refused_in_setup = report.when == "setup" and report.failed and call.excinfo is not None
        if refused_in_setup and call.excinfo.errisinstance(AssertionError):
            # A fixture that reads the target (listing runtimes, a copy) found an answer
            # it cannot use: the target refuted the check; the kit did not break.
            # pytest counts a setup failure as an error unless it is the call's.
            report.when = "call"
        the_target: Target | None = _ACTIVE.get("target")
        if the_target is not None and the_target.unresponsive:
            # Every further check would fail at once the same way: end the run here.
            item.session.shouldstop = f"the target stopped answering: {the_target.unresponsive}"


def _judged(the_target: Target) -> str:
    """The flavour the run judged, without sending anything now (a run may have no budget left)."""
    judged = the_target.judged_flavour
    if judged is None:
        return "not judged"
    name, evidence = judged
    return f"{FLAVOUR_TITLES.get(name or '', 'unknown')} ({evidence})"


def _is_contract(item: pytest.Item) -> bool:
    module = getattr(item, "module", None)
    return bool(module and module.__name__.startswith("contracts."))


def _record_result(item: pytest.Item, report: pytest.TestReport) -> None:
    function = getattr(item, "originalname", None) or item.name
    check = function.removeprefix("test_")
    entry = _ACTIVE["results"].setdefault(
        check,
        {
            "outcome": "passed",
            "doc": (getattr(item.obj, "__doc__", "") or "").strip(),
            "details": [],
            "causes": [],
            "evidence": [],
        },
    )
    the_target: Target | None = _ACTIVE.get("target")
    transients_before, exchanges_before = item.stash.get(_SEEN, (0, 0))
    if the_target is not None and report.when == "call":
        new = min(the_target.exchange_count - exchanges_before, EVIDENCE_EXCHANGES)
        entry["evidence"] = list(the_target.exchanges)[-new:] if new > 0 else []
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if entry["outcome"] == "passed" and report.when in ("setup", "call"):
            entry["outcome"] = "skipped"
            entry["details"].append(redact(reason.removeprefix("Skipped: ")))
    elif report.failed:
        causes = the_target.transients[transients_before:] if the_target is not None else []
        # A 5xx, a timeout or a dropped connection says nothing about the rule under
        # check: the check is inconclusive, never a refutation of its ledger row.
        if causes and entry["outcome"] != "failed":
            entry["outcome"] = "inconclusive"
            entry["causes"] += [cause for cause in causes if cause not in entry["causes"]]
        elif not causes:
            entry["outcome"] = "failed"
        entry["details"].append(f"{item.name} ({report.when}):\n{redact(str(report.longrepr))}")
