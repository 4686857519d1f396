"""``mnist-tui serve``: the app in web browsers through textual-serve."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .common import EXIT_OK, UsageError, add_path_flags

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def register(sub) -> None:
    parser = sub.add_parser("serve", help="serve the app to web browsers (textual-serve)",
                            description="Serve the terminal app over HTTP; every browser tab runs its own app "
                            "process. Binds to 127.0.0.1 (this machine only) unless --host says otherwise.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, local only)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument("--public-url", help="URL browsers use to reach it, if not http://HOST:PORT "
                        "(e.g. http://localhost:9000 behind ssh -L 9000:localhost:8000)")
    parser.add_argument("--max-sessions", type=int, default=4, metavar="N",
                        help="browser tabs (app processes) served at once; the next is turned away (default: 4)")
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
        from ..serve_guard import GuardedServer
    except ImportError:
        raise UsageError("serving needs textual-serve: pip install 'textual-serve>=1.1,<2'") from None
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {args.port}")
    if not 1 <= args.max_sessions <= 64:
        raise UsageError(f"--max-sessions must be between 1 and 64, got {args.max_sessions}")
    host_in_url = f"[{args.host}]" if ":" in args.host else args.host
    public_url = args.public_url or f"http://{host_in_url}:{args.port}"
    server = GuardedServer(serve_command(args), host=args.host, port=args.port, title="mnist-tui",
                           public_url=public_url, max_sessions=args.max_sessions)
    try:
        server.bind()
    except OSError as exc:  # a port in use, an address not on this machine, a name that does not resolve
        raise UsageError(f"cannot serve on {host_in_url}:{args.port}: {exc.strerror or exc}") from None
    tabs = f"{args.max_sessions} browser tab{'' if args.max_sessions == 1 else 's'}"
    if args.host in LOOPBACK_HOSTS:
        print(f"mnist-tui: serving on {server.page_url}, bound to {args.host}: only this machine can connect.\n"
              f"From a laptop: ssh -L {args.port}:localhost:{args.port} THIS_HOST, then open "
              f"http://localhost:{args.port}/?token={server.token}. At most {tabs} "
              "at once, each running its own app process.", flush=True)
    else:
        print(f"mnist-tui: serving on {server.page_url}, bound to {args.host}: anyone who can reach port "
              f"{args.port} here and has this URL can train, evaluate and delete runs. At most "
              f"{tabs} at once, each running its own app process.", flush=True)
    server.serve()
    return EXIT_OK
