"""The ``nbmock`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import astuple, replace
from importlib.metadata import entry_points
from importlib.util import find_spec
from pathlib import Path

from mockserver.auth.lockout import PORTAL_LOCKOUT
from mockserver.auth.users import DEFAULT_PASSWORD, DEFAULT_USERNAME
from mockserver.core.profile import Profile, ProfileError
from mockserver.core.settings import DEFAULT_CONTEXT, DEFAULT_MAX_BODY, Settings
from mockserver.flavours import DEFAULT_FLAVOUR, FLAVOURS, flavour

#: Packages add sub-commands to ``nbmock`` through this entry-point group (the contract
#: kit adds ``verify`` and ``sweep``): each entry point loads a callable taking the
#: sub-command parsers and returning ``{command: run(args) -> exit status}``.
COMMANDS_GROUP = "nbmock.commands"


def _serve_parser(commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the emulator",
        description="Run the ArcGIS notebook-runtime emulator under gunicorn.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to bind (default: 8080)")
    serve.add_argument(
        "--context",
        default=DEFAULT_CONTEXT,
        help=f"web context of the deployment (default: {DEFAULT_CONTEXT})",
    )
    serve.add_argument(
        "--state",
        metavar="PATH|URL",
        help="SQLite file that keeps state across restarts (default: a temporary file), "
        "or a postgresql://user@host:port/db URL that replicas share",
    )
    serve.add_argument(
        "--flavour",
        choices=sorted(FLAVOURS),
        default=None,
        help="which API to emulate: kubernetes (ArcGIS Enterprise on Kubernetes) or "
        "notebook-server (the standalone ArcGIS Notebook Server) (default: the --profile's, "
        f"else {DEFAULT_FLAVOUR})",
    )
    serve.add_argument(
        "--release",
        choices=sorted({name for each in FLAVOURS.values() for name in each.releases}),
        default=None,
        help="release to emulate, one of the flavour's (default: "
        + ", ".join(f"{each.default_release} for {each.name}" for each in FLAVOURS.values())
        + ")",
    )
    serve.add_argument(
        "--users", metavar="FILE", help="users TOML file (default: the single user admin)"
    )
    serve.add_argument(
        "--profile",
        metavar="FILE",
        default=os.environ.get("NBMOCK_PROFILE") or None,
        help="a deployment profile (nbmock capture writes one): serve that Enterprise's "
        "release, system runtimes, portal and wording over the defaults "
        "(default: $NBMOCK_PROFILE)",
    )
    serve.add_argument(
        "--workers", type=int, default=2, help="gunicorn worker processes (default: 2)"
    )
    serve.add_argument("--seed", type=int, help="seed for reproducible ids")
    serve.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a self-signed certificate generated on start "
        "(its path is printed; pass it to clients as the CA file)",
    )
    serve.add_argument("--cert", metavar="PEM", help="serve HTTPS with this certificate")
    serve.add_argument("--key", metavar="PEM", help="private key of --cert")
    serve.add_argument(
        "--control-token",
        metavar="TOKEN",
        default=os.environ.get("NBMOCK_CONTROL_TOKEN") or None,
        help="token the /__mock__/ control plane requires (default: $NBMOCK_CONTROL_TOKEN); "
        "without one, the control plane is open on loopback and off on any other address. "
        "Prefer the environment variable NBMOCK_CONTROL_TOKEN: a command line shows in ps",
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        action="append",
        default=os.environ.get("NBMOCK_PUBLIC_URL", "").split() or None,
        help="a URL clients reach the emulator by (repeatable; default: $NBMOCK_PUBLIC_URL, "
        "space-separated); only its host names, loopback names, the bound name and IP "
        "addresses are answered, other Host headers get HTTP 400 (DNS rebinding)",
    )
    serve.add_argument(
        "--trusted-proxy",
        metavar="ADDR",
        action="append",
        default=None,
        help="address or network of a reverse proxy whose X-Forwarded-Proto/-Host/-For "
        "headers are believed (repeatable; default: none, they are ignored)",
    )
    serve.add_argument(
        "--max-body",
        metavar="BYTES",
        type=_positive_int,
        default=DEFAULT_MAX_BODY,
        help=f"largest request body accepted, larger ones get HTTP 413 (default: {DEFAULT_MAX_BODY})",
    )
    serve.add_argument(
        "--max-sandboxes",
        metavar="N",
        type=int,
        default=Settings.max_sandboxes,
        help="most sandboxes (POST /__mock__/sandboxes) at once; 0 turns them off "
        f"(default: {Settings.max_sandboxes})",
    )
    serve.add_argument(
        "--lockout-attempts",
        metavar="N",
        type=int,
        default=PORTAL_LOCKOUT.attempts,
        help="failed sign-ins within 15 minutes that lock an account for 15 minutes, as "
        f"Portal does; 0 turns the lockout off (default: {PORTAL_LOCKOUT.attempts})",
    )
    serve.add_argument(
        "--no-journal",
        dest="journal",
        action="store_false",
        help="do not keep the request journal (/__mock__/journal), for throughput runs",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of bytes")
    return value


def _run_serve(args: argparse.Namespace) -> int:
    from mockserver.serving.server import generated_certificate, is_loopback, serve

    profile = _profile(args)
    _database_driver(args)
    certfile, keyfile = _certificate(args)
    allowed_hosts, trusted_proxies = _hosts(args)
    generated = args.tls and not certfile
    if generated:
        certfile, keyfile = (str(path) for path in astuple(generated_certificate(args.host)))
    scheme = "https" if certfile else "http"
    base = f"{scheme}://{args.host}:{args.port}/{args.context.strip('/')}"
    try:
        # A profile names the flavour it was captured from: that one, unless told otherwise.
        the_flavour = flavour(args.flavour or (profile.flavour if profile else DEFAULT_FLAVOUR))
        the_release = the_flavour.release(args.release)
        release_name = the_release.name
        if profile is not None:
            if profile.flavour != the_flavour.name:
                raise ValueError(
                    f"profile {args.profile} was captured from a {profile.flavour} "
                    f"deployment, not {the_flavour.name}"
                )
            the_release = profile.release(the_release, the_flavour.releases)
    except ValueError as unknown:
        print(f"nbmock serve: {unknown}", file=sys.stderr)
        return 2
    print(f"nbmock: {the_flavour.title} {the_release.full_version} notebook-runtime emulator")
    if profile is not None:
        print(f"  Profile: {profile.name} ({args.profile})")
    print(f"  Portal:  {base}/sharing/rest")
    print(f"  Admin:   {base}/admin")
    if generated:
        print(f"  Certificate: {certfile} (self-signed; give it to clients as the CA file)")
    if args.control_token:
        print(f"  Control: {scheme}://{args.host}:{args.port}/__mock__/ (token required)")
    elif is_loopback(args.host):
        print(f"  Control: {scheme}://{args.host}:{args.port}/__mock__/")
    else:
        print("  Control: off beyond loopback without --control-token (health stays open)")
    if args.users:
        print(f"  Users:   from {args.users}")
    else:
        print(
            f"  Sign in: {DEFAULT_USERNAME} / {DEFAULT_PASSWORD} (the built-in default Administrator; --users replaces it)"
        )
    sys.stdout.flush()
    settings = Settings(
        context=args.context,
        state=args.state,
        flavour=the_flavour.name,
        release_name=release_name,
        users=args.users,
        seed=args.seed,
        profile=profile,
        max_body=args.max_body,
        journal=args.journal,
        max_sandboxes=args.max_sandboxes,
        lockout=replace(PORTAL_LOCKOUT, attempts=args.lockout_attempts)
        if args.lockout_attempts > 0
        else None,
        control_token=args.control_token,
        control_enabled=bool(args.control_token) or is_loopback(args.host),
        allowed_hosts=allowed_hosts,
        trusted_proxies=trusted_proxies,
    )
    serve(
        host=args.host,
        port=args.port,
        workers=args.workers,
        settings=settings,
        certfile=certfile,
        keyfile=keyfile,
    )
    return 0


def _database_driver(args: argparse.Namespace) -> None:
    """A PostgreSQL ``--state`` needs psycopg, which only the ``[postgres]`` extra brings:
    without it, say so before anything starts rather than fail in a traceback."""
    from mockserver.runtimes.stores import is_database_url, redacted_url

    if not is_database_url(args.state) or find_spec("psycopg") is not None:
        return
    raise SystemExit(
        f"nbmock serve: --state {redacted_url(args.state)} keeps the state in PostgreSQL, "
        "which needs psycopg: install the package again with its [postgres] extra as you "
        "installed it, e.g. from a clone: pip install './[postgres]'"
    )


def _hosts(args: argparse.Namespace) -> tuple[frozenset[str], frozenset[str]]:
    """The Host names to answer and the proxies to trust, checked before anything starts."""
    from mockserver.serving.hosts import allowed_hosts_for, proxy_networks

    try:
        allowed = allowed_hosts_for(args.host, args.public_url or ())
        proxies = frozenset(args.trusted_proxy or ())
        proxy_networks(proxies)
    except ValueError as error:
        raise SystemExit(f"nbmock serve: {error}") from None
    return allowed, proxies


def _profile(args: argparse.Namespace) -> Profile | None:
    """The --profile file, read and checked before anything starts; None without one."""
    if not args.profile:
        return None
    try:
        return Profile.read(args.profile)
    except ProfileError as error:
        raise SystemExit(f"nbmock serve: {error}") from None


def _certificate(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """The --cert/--key pair, checked before anything starts; (None, None) without them."""
    if not (args.cert or args.key):
        return None, None
    if not (args.cert and args.key):
        raise SystemExit("nbmock serve: --cert and --key go together")
    for option, path in (("--cert", args.cert), ("--key", args.key)):
        if not Path(path).is_file():
            raise SystemExit(f"nbmock serve: {option} {path}: no such file")
    return args.cert, args.key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nbmock", description="ArcGIS Enterprise notebook-runtime emulator and contract kit."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _serve_parser(commands)
    runners: dict[str, Callable[[argparse.Namespace], int]] = {"serve": _run_serve}
    for entry_point in entry_points(group=COMMANDS_GROUP):
        runners.update(entry_point.load()(commands))
    if "verify" in runners:
        args = parser.parse_args(argv)
    else:
        _kit_missing(commands)
        # argparse gives a REMAINDER no leading option (`verify --target URL`): read past
        # them, so the kit's commands say what is missing, not "unrecognized arguments".
        args, _options = parser.parse_known_args(argv)
        if args.command in runners:
            args = parser.parse_args(argv)
    return runners.get(args.command, _needs_kit)(args)


def _kit_missing(commands) -> None:
    """``verify`` and ``sweep`` without the kit installed: say how to get it."""
    for name in ("verify", "capture", "sweep"):
        command = commands.add_parser(name, help="(needs the contract kit)", add_help=False)
        command.add_argument("rest", nargs=argparse.REMAINDER)


#: How to get the kit. The package is on no index, so its name alone finds nothing: the
#: README's install lines (from a clone, or a wheel built from one) are the ones that work.
KIT_INSTALL = (
    "install the package again with its [kit] extra as you installed it, e.g. from a clone: "
    "pip install './[kit]' (it is on no package index; see the README's Installing the package)"
)


def _needs_kit(args: argparse.Namespace) -> int:
    print(
        f"nbmock {args.command}: the contract kit is not installed; {KIT_INSTALL}", file=sys.stderr
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
