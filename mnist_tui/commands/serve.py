"""``mnist-tui serve``: the app in web browsers through textual-serve."""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import textwrap
from pathlib import Path

from .common import EXIT_OK, UsageError, add_path_flags, check_checkpoints_folder

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DESCRIPTION = """\
Serve the terminal app over HTTP; every browser tab runs its own app process.
Binds to 127.0.0.1 (this machine only) unless --host says otherwise."""
EPILOG = """\
The page's address, printed at start, carries a secret (?token=...): without
it no page opens. Anyone who has the whole address and can reach the port can
train, evaluate and delete runs in the checkpoints folder: give --host another
address only on a network you trust, or keep the default and use ssh -L.

Each tab's form starts from the preset given before the command:
  mnist-tui --preset fast serve

Exit codes: 0 ok, 2 bad input or a port that cannot be bound, 130 Ctrl+C
(128 + the number of the signal that stopped it)."""


def register(sub) -> None:
    parser = sub.add_parser("serve", help="serve the app to web browsers (textual-serve)", description=DESCRIPTION,
                            epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, local only)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on, 1-65535 (default: 8000)")
    parser.add_argument("--public-url", help="URL browsers use to reach it, if not http://HOST:PORT "
                        "(e.g. http://localhost:9000 behind ssh -L 9000:localhost:8000)")
    parser.add_argument("--max-sessions", type=int, default=4, metavar="N",
                        help="browser tabs (app processes) served at once, 1-64; the next is turned away (default: 4)")
    add_path_flags(parser)
    parser.set_defaults(handler=run)


def serve_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs for each browser tab: this app, with the same folders."""
    command = [sys.executable, "-m", "mnist_tui.cli", "--checkpoints", str(Path(args.checkpoints).resolve())]
    if args.preset:
        command += ["--preset", args.preset]
    if args.data_dir:
        command += ["--data-dir", str(Path(args.data_dir).resolve())]
    return shlex.join(command)


def run(args: argparse.Namespace) -> int:
    try:
        from ..serve_guard import GuardedServer, public_url_problem
    except ImportError:
        raise UsageError("serving needs textual-serve: pip install 'textual-serve>=1.1,<2'") from None
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {args.port}")
    if not 1 <= args.max_sessions <= 64:
        raise UsageError(f"--max-sessions must be between 1 and 64, got {args.max_sessions}")
    check_checkpoints_folder(Path(args.checkpoints), missing_ok=True)  # as the app does: not in every tab
    host_in_url = f"[{args.host}]" if ":" in args.host else args.host
    public_url = args.public_url if args.public_url is not None else f"http://{host_in_url}:{args.port}"
    problem = public_url_problem(public_url)
    if problem is not None:  # before the port is taken: every page would fail, or every browser be refused
        flag = f"--public-url {args.public_url}" if args.public_url is not None else f"--host {args.host}"
        raise UsageError(f"{flag}: {problem}")
    server = GuardedServer(serve_command(args), host=args.host, port=args.port, title="mnist-tui",
                           public_url=public_url, max_sessions=args.max_sessions)
    try:
        server.bind()
    except OSError as exc:  # a port in use, an address not on this machine, a name that does not resolve
        raise UsageError(f"cannot serve on {host_in_url}:{args.port}: {exc.strerror or exc}") from None
    print(start_banner(args, server.page_url, shutil.get_terminal_size().columns), flush=True)
    server.serve()  # adds "Press Ctrl+C to quit." once it listens
    return 128 + server.stopped_by if server.stopped_by else EXIT_OK


def start_banner(args: argparse.Namespace, page_url: str, width: int) -> str:
    """Who can connect, the session cap, the page to open (once, on a line of its own) and, for a loopback
    http page, the SSH tunnel that brings it to a laptop; prose wrapped to ``width`` columns."""
    from ..serve_guard import is_loopback, origin_of

    tabs = f"{args.max_sessions} browser tab{'' if args.max_sessions == 1 else 's'}"
    if args.host in LOOPBACK_HOSTS:
        who = "only this machine can connect."
    else:
        who = "anyone who can reach this port and has the URL below can train, evaluate and delete runs."
    lines = [_fill(f"mnist-tui: bound to {args.host} port {args.port}: {who} At most {tabs} at once, "
                   "each running its own app process. Open this page:", width), page_url]
    scheme, host, public_port = origin_of(page_url)
    if scheme == "http" and is_loopback(host):  # the browser's localhost:PUBLIC_PORT must reach this port
        lines.append(_fill(f"From a laptop: ssh -L {public_port}:localhost:{args.port} THIS_HOST, "
                           "then open it there.", width))
    return "\n".join(lines)


def _fill(text: str, width: int) -> str:
    return textwrap.fill(text, max(width, 20), break_long_words=False, break_on_hyphens=False)
