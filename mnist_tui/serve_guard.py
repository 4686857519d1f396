"""textual-serve with a lock on the door: origin check, URL token, session cap, and app processes that always end.

textual-serve (1.1) accepts a WebSocket from any page in any browser tab, starts
one app process per connection without limit, and never waits for or kills those
processes. ``GuardedServer`` keeps its page and terminal protocol and adds:

- a per-server secret token: the page needs ``/?token=T`` and its WebSocket
  ``/ws/T`` (textual.js appends ``?width=..`` to the socket URL, so the token
  rides in the path);
- the WebSocket's ``Origin`` must be the public URL's origin (or, for a loopback
  public URL, the same scheme and port on another loopback name);
- at most ``max_sessions`` app processes at once; the next page or socket is told so;
- when a socket closes, its app is asked to quit, then terminated, then killed.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import re
import os
import secrets
import signal
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

log = logging.getLogger("textual-serve")

DEFAULT_MAX_SESSIONS = 4
QUIT_GRACE_S = 10.0  # seconds an app gets to quit when asked (this app takes ~4 s to shut down)
TERM_GRACE_S = 3.0  # then seconds it gets after SIGTERM, before SIGKILL
MAX_COLUMNS, MAX_ROWS = 500, 200  # a browser asking for more gets this much (3000x1000 frames choke the pipe)
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
PUBLIC_URL_HELP = "give an http:// or https:// URL with a host (and a port 1-65535)"


def new_token() -> str:
    """A fresh secret for one server's URLs (like Jupyter's)."""
    return secrets.token_urlsafe(24)


class TokenRedactor(logging.Filter):
    """Each access-log line held the token (`GET /?token=T`, `/ws/T`): a pasted log let its reader in."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "[token]"), ()
        return True


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL or an Origin header, default ports filled in; None if it has no host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.scheme not in DEFAULT_PORTS:
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def public_url_problem(url: str) -> str | None:
    """Why browsers could not be pointed at ``url`` (the page, its socket and the Origin check are built
    from it), or None: it must be http or https, with a host, a port in 1-65535 if any, no query."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port out of 0-65535 or not a number
    except ValueError:
        return PUBLIC_URL_HELP
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0 or any(c.isspace() for c in url):
        return PUBLIC_URL_HELP
    if parts.query or parts.fragment:
        return "give it without a ?query or #fragment (the token is added to it)"
    return None


def is_loopback(host: str) -> bool:
    """Whether a URL's host name or address is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_origins(public_url: str) -> set[tuple[str, str, int]]:
    """The Origins a WebSocket may come from: the page's own, and its loopback aliases if it is on loopback."""
    own = origin_of(public_url)
    if own is None:
        return set()
    scheme, host, port = own
    if is_loopback(host):
        return {(scheme, name, port) for name in LOOPBACK_NAMES} | {own}
    return {own}


def clamp_size(width: Any, height: Any) -> tuple[int, int]:
    """A terminal size the app can draw: at least 1x1, at most MAX_COLUMNS x MAX_ROWS."""
    width = to_int(str(width), 80)
    height = to_int(str(height), 24)
    return min(max(width, 1), MAX_COLUMNS), min(max(height, 1), MAX_ROWS)


def _page(title: str, text: str, status: int) -> web.Response:
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body style='font-family: sans-serif; margin: 3em'><h1>{title}</h1><p>{text}</p></body></html>")
    return web.Response(text=body, status=status, content_type="text/html",
                        headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})


class GuardedAppService(AppService):
    """One app process, in its own process group, that ``end()`` always stops."""

    async def _open_app_process(self, width: int = 80, height: int = 24):
        environment = self._build_environment(width=width, height=height)
        self._process = process = await asyncio.create_subprocess_shell(
            f"exec {self.command}",  # the shell becomes the app: the process waited on is the app itself
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=environment, start_new_session=True)  # its own group: signalled with whatever it started
        self._stdin = process.stdin
        return process

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _signal(self, signum: int) -> None:
        try:
            os.killpg(self._process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    async def end(self, grace: float = QUIT_GRACE_S, term_grace: float = TERM_GRACE_S) -> None:
        """Ask the app to quit; SIGTERM its group after ``grace`` seconds, SIGKILL ``term_grace`` seconds later."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            try:  # the quit message may block on a full stdin pipe: bounded like the rest
                await asyncio.wait_for(self.send_meta({"type": "quit"}), grace)
            except (asyncio.TimeoutError, OSError, RuntimeError):
                pass
        for signum, wait in ((None, grace), (signal.SIGTERM, term_grace), (signal.SIGKILL, grace)):
            if signum is not None:
                self._signal(signum)
            try:
                await asyncio.wait_for(process.wait(), wait)
                break
            except asyncio.TimeoutError:
                continue
        self._signal(signal.SIGKILL)  # whatever else is left in its group
        if self._task is not None:  # it reads the dead app's pipes to their end, which closes them
            try:
                await asyncio.wait_for(self._task, grace)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
            self._task = None
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)

    def kill_now(self) -> None:
        """SIGKILL the group at once (server shutdown)."""
        if self._process is not None:
            self._signal(signal.SIGKILL)


class GuardedServer(Server):
    """textual-serve's Server with token, origin check, session cap and certain process ends."""

    def __init__(self, command: str, *, token: str | None = None, max_sessions: int = DEFAULT_MAX_SESSIONS,
                 quit_grace: float = QUIT_GRACE_S, term_grace: float = TERM_GRACE_S, **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        problem = public_url_problem(self.public_url)
        if problem is not None:  # every page would fail, or every socket be refused
            raise ValueError(f"public URL {self.public_url!r}: {problem}")
        self.token = token or new_token()
        self.max_sessions = max_sessions
        self.stopped_by: int | None = None  # the signal that ended serve(), if one did
        self.quit_grace, self.term_grace = quit_grace, term_grace
        self.sessions: set[GuardedAppService] = set()
        self.origins = allowed_origins(self.public_url)

    def bind(self) -> None:
        """Take the host's port now (every address it resolves to), so a port in use or an address
        not on this machine fails here with an OSError, before anything is printed; serve() uses it."""
        sockets: list[socket.socket] = []
        try:
            for family, kind, proto, _, address in dict.fromkeys(socket.getaddrinfo(
                    self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)):
                sock = socket.socket(family, kind, proto)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # the IPv4 socket serves IPv4
                sock.bind(address)
        except OSError:
            for sock in sockets:
                sock.close()
            raise
        self.sockets = sockets

    def initialize_logging(self) -> None:
        super().initialize_logging()
        logging.getLogger("aiohttp.access").addFilter(TokenRedactor(self.token))

    def serve(self, debug: bool = False) -> None:
        """textual-serve's serve(), on the sockets bind() took when it was called."""
        if not getattr(self, "sockets", None):
            super().serve(debug)
            return
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._stop_on, signum)
        web.run_app(self._make_app(), sock=self.sockets, handle_signals=False, loop=loop, print=lambda *args: None)

    def _stop_on(self, signum: int) -> None:
        self.stopped_by = signum  # `serve` exits 128 + it, as the shell says: 130 for Ctrl+C
        self.request_exit()

    @property
    def page_url(self) -> str:
        """The URL to open: the public URL with this server's token."""
        return f"{self.public_url.rstrip('/')}/?token={self.token}"

    async def _make_app(self) -> web.Application:
        app = web.Application()
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.handle_websocket, name="websocket_no_token"),
            web.get("/ws/{token}", self.handle_websocket, name="websocket"),
            web.get("/download/{key}", self.handle_download, name="download"),
            web.static("/static", self.statics_path, show_index=False, name="static"),
        ])
        app.on_startup.append(self.on_startup)
        app.on_shutdown.append(self.on_shutdown)
        return app

    async def on_startup(self, app: web.Application) -> None:
        # listening now; the URL and the limits were printed by whoever made the server (`mnist-tui serve`)
        self.console.print("Press Ctrl+C to quit.", style="cyan", highlight=False)

    async def on_shutdown(self, app: web.Application) -> None:
        for service in list(self.sessions):
            service.kill_now()

    def _token_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def refusal(self, request: web.Request, token: str | None) -> str | None:
        """Why this WebSocket handshake is refused (origin or token), or None."""
        origin = request.headers.get("Origin")
        if origin is None:
            return "no Origin header: only the page served here may connect"
        if origin_of(origin) not in self.origins:
            return f"Origin {origin} is not this server's page"
        if not self._token_ok(token):
            return "missing or wrong token: open the URL that `mnist-tui serve` printed"
        return None

    def _full_text(self) -> str:
        taken = f"All {self.max_sessions} sessions are" if self.max_sessions != 1 else "The one session is"
        return (f"{taken} in use (each browser tab runs its own app). "
                "Close another tab of this app, then reload this page.")

    async def handle_index(self, request: web.Request) -> web.Response:
        if not self._token_ok(request.query.get("token")):
            return _page("mnist-tui: token needed", "Open the URL that <code>mnist-tui serve</code> printed; "
                         "it ends with <code>?token=...</code>.", 403)
        if len(self.sessions) >= self.max_sessions:
            return _page("mnist-tui: server full", self._full_text(), 503)
        base = self.public_url.rstrip("/")
        ws_base = ("wss" if urlsplit(base).scheme == "https" else "ws") + base[base.index(":"):]
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{ws_base}/ws/{self.token}",
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        # the template's Roboto Mono came from fonts.googleapis.com on each load (the fallback is monospace)
        response.text = re.sub(r"<link[^>]*fonts\.googleapis\.com[^>]*>", "", response.text)
        response.headers["Referrer-Policy"] = "no-referrer"  # the token stays out of Referer headers
        response.headers["Cache-Control"] = "no-store"
        return response

    async def _process_messages(self, websocket: web.WebSocketResponse, app_service: AppService) -> None:
        """textual-serve's loop, with sizes clamped and malformed messages ignored."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
                kind, data = envelope[0], (envelope[1] if len(envelope) > 1 else None)
            except (ValueError, TypeError, IndexError, KeyError):
                continue
            if kind == "stdin" and isinstance(data, str):
                await app_service.send_bytes(data.encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                await app_service.set_terminal_size(*clamp_size(data.get("width"), data.get("height")))
            elif kind == "ping":
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await app_service.blur()
            elif kind == "focus":
                await app_service.focus()

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        reason = self.refusal(request, request.match_info.get("token"))
        if reason is not None:
            log.warning("refused a WebSocket from %s: %s", request.remote, reason)
            raise web.HTTPForbidden(text=f"mnist-tui: {reason}\n")
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        if len(self.sessions) >= self.max_sessions:
            await websocket.send_bytes(f"\r\n  mnist-tui: {self._full_text()}\r\n".encode())
            await websocket.close(code=1013, message=f"all {self.max_sessions} sessions in use".encode())
            return websocket

        async def write_bytes(data: bytes) -> None:
            # after the socket closes, the app's output is read and dropped, so it never blocks on the pipe
            if not websocket.closed:
                try:
                    await websocket.send_bytes(data)
                except ConnectionError:
                    pass

        async def write_str(data: str) -> None:
            if not websocket.closed:
                try:
                    await websocket.send_str(data)
                except ConnectionError:
                    pass

        service = GuardedAppService(self.command, write_bytes=write_bytes, write_str=write_str,
                                    close=websocket.close, download_manager=self.download_manager,
                                    debug=self.debug)
        self.sessions.add(service)
        try:
            await service.start(*clamp_size(request.query.get("width", 80), request.query.get("height", 24)))
            # an app that exits (or dies) closes its socket
            service._task.add_done_callback(lambda _: asyncio.ensure_future(websocket.close()))
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        except Exception as error:  # one session's failure must not take the server down
            log.exception(error)
        finally:
            try:
                await asyncio.shield(service.end(self.quit_grace, self.term_grace))
            finally:
                self.sessions.discard(service)
                if not websocket.closed:
                    await websocket.close()
        return websocket
