"""Check `mnist-tui serve` end to end in headless Chromium and save a screenshot.

    .venv/bin/python benchmarks/serve_check.py [--checkpoints DIR] [--data-dir DIR] [--out serve.png] [--draw]

Starts `mnist-tui serve` on a free port of 127.0.0.1, opens the page in headless
Chromium (Debian package `chromium`) through the DevTools protocol, waits in real
time until the browser's terminal shows the app's tab bar, saves a screenshot,
closes the tab and checks that its app process exits, then stops the server.
With --draw it also opens Draw from Runs (the newest run's model: f4, w), drags
the mouse across the canvas to draw a 7 and saves a second screenshot
(``*-draw.png``) and a third with the model input shown (``*-input.png``).
Prints one line per step; exit 0 when every check passed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
APP_TEXT = "Train"  # the first tab's label: the app itself drew the page, not only the splash
FIRST_BYTE_JS = "document.body.classList.contains('-first-byte')"  # textual.js sets it on the app's first output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class DevTools:
    """The few Chrome DevTools Protocol calls this check needs."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.received = []  # what the page's websocket received from the app (terminal output, as text)
        self.terminal_size: tuple[int, int] | None = None  # columns, rows the page asked the app for

    def _event(self, data: dict) -> None:
        if data.get("method") == "Network.webSocketCreated":
            query = dict(re.findall(r"(\w+)=(\d+)", data["params"]["url"].split("?", 1)[-1]))
            if "width" in query and "height" in query:
                self.terminal_size = int(query["width"]), int(query["height"])
        if data.get("method") == "Network.webSocketFrameReceived":
            response = data["params"]["response"]
            payload = response["payloadData"]
            raw = base64.b64decode(payload) if response.get("opcode") == 2 else payload.encode()
            self.received.append(raw.decode("utf-8", errors="ignore"))

    @property
    def terminal_output(self) -> str:
        return "".join(self.received)

    async def call(self, method: str, session: str | None = None, **params):
        message_id = next(self.ids)
        message = {"id": message_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.ws.send_json(message)
        async for reply in self.ws:
            data = reply.json()
            self._event(data)
            if data.get("id") == message_id:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data.get("result", {})
        raise RuntimeError("DevTools connection closed")


SCREEN_RECT_JS = ("(() => { const r = document.querySelector('.xterm-screen').getBoundingClientRect();"
                  " return [r.left, r.top, r.width, r.height]; })()")
SEVEN = [(7, 5), (21, 5), (12, 24)]  # a 7 in canvas pixels (28x28), drawn as two strokes


FOCUS_JS = "document.querySelector('.xterm-helper-textarea').focus()"  # where xterm.js takes keys


async def key(cdp: DevTools, session: str, name: str, code: int, text: str = "") -> None:
    await cdp.call("Runtime.evaluate", session, expression=FOCUS_JS)
    physical = name if len(name) > 1 else f"Key{name.upper()}"
    await cdp.call("Input.dispatchKeyEvent", session, type="keyDown", key=name, code=physical,
                   windowsVirtualKeyCode=code, text=text)
    await cdp.call("Input.dispatchKeyEvent", session, type="keyUp", key=name, code=physical,
                   windowsVirtualKeyCode=code)
    await asyncio.sleep(1.0)  # the app process answers over the websocket; give it real time


async def draw_seven(cdp: DevTools, session: str) -> None:
    """Drag the mouse over the Draw view's canvas (content starts at cell column 2, row 2)."""
    left, top, width, height = (await cdp.call("Runtime.evaluate", session, expression=SCREEN_RECT_JS,
                                               returnByValue=True))["result"]["value"]
    columns, rows = cdp.terminal_size
    cell_w, cell_h = width / columns, height / rows

    def at(px: float, py: float) -> tuple[float, float]:
        return left + (2 + px + 0.5) * cell_w, top + (2 + py / 2 + 0.25) * cell_h

    (x0, y0), *rest = SEVEN
    x, y = at(x0, y0)
    await cdp.call("Input.dispatchMouseEvent", session, type="mouseMoved", x=x, y=y)
    await cdp.call("Input.dispatchMouseEvent", session, type="mousePressed", x=x, y=y, button="left", buttons=1,
                   clickCount=1)
    previous = (x0, y0)
    for point in rest:
        for step in range(1, 13):
            t = step / 12
            x, y = at(previous[0] + (point[0] - previous[0]) * t, previous[1] + (point[1] - previous[1]) * t)
            await cdp.call("Input.dispatchMouseEvent", session, type="mouseMoved", x=x, y=y, button="left",
                           buttons=1)
            await asyncio.sleep(0.03)
        previous = point
    await cdp.call("Input.dispatchMouseEvent", session, type="mouseReleased", x=x, y=y, button="left", buttons=0,
                   clickCount=1)
    await asyncio.sleep(2.0)


async def screenshot(cdp: DevTools, session: str, path: Path) -> None:
    shot = await cdp.call("Page.captureScreenshot", session, format="png")
    path.write_bytes(base64.b64decode(shot["data"]))


def app_processes_of(server_pid: int) -> list[int]:
    """The app processes (not their /bin/sh wrappers) the server started, one per open tab."""
    found = []
    for pid in descendants(server_pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"mnist_tui.cli" in argv and not argv[0].endswith(b"sh"):
            found.append(pid)
    return found


async def open_tab(cdp: DevTools, page_url: str, timeout: float) -> tuple[str, str, bool]:
    """A new tab on ``page_url``: (target, session, whether the app drew in it before ``timeout``)."""
    target = (await cdp.call("Target.createTarget", url="about:blank"))["targetId"]
    session = (await cdp.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
    await cdp.call("Page.enable", session)
    await cdp.call("Network.enable", session)
    await cdp.call("Emulation.setDeviceMetricsOverride", session, width=1200, height=800, deviceScaleFactor=1,
                   mobile=False)
    seen_before = len(cdp.received)
    await cdp.call("Page.navigate", session, url=page_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await cdp.call("Runtime.evaluate", session, expression=FIRST_BYTE_JS, returnByValue=True)
        if result.get("result", {}).get("value") and APP_TEXT in "".join(cdp.received[seen_before:]):
            await asyncio.sleep(2.0)  # let the first frames settle before the picture
            return target, session, True
        await asyncio.sleep(0.5)
    return target, session, False


async def browse(devtools_url: str, page_url: str, out: Path, timeout: float,
                 server_pid: int, draw: bool = False) -> tuple[bool, str, list[int]]:
    async with aiohttp.ClientSession() as http, http.ws_connect(devtools_url, max_msg_size=0) as ws:
        cdp = DevTools(ws)
        target, session, first_byte = await open_tab(cdp, page_url, timeout)
        await screenshot(cdp, session, out)
        if first_byte:  # a second tab gets an app process of its own
            other, _, drawn = await open_tab(cdp, page_url, timeout)
            apps = app_processes_of(server_pid)
            print(f"second tab: {'app rendered' if drawn else 'app NOT rendered'}; "
                  f"{len(apps)} app processes for 2 tabs")
            first_byte = drawn and len(apps) == 2
            await cdp.call("Target.closeTarget", targetId=other)
        if draw and first_byte:
            await key(cdp, session, "F4", 115)
            await key(cdp, session, "w", 87, "w")
            await asyncio.sleep(2.0)  # the model loads in a worker
            await draw_seven(cdp, session)
            await screenshot(cdp, session, out.with_name(out.stem + "-draw.png"))
            await key(cdp, session, "i", 73, "i")
            await screenshot(cdp, session, out.with_name(out.stem + "-input.png"))
        app_processes = descendants(server_pid)  # the tab's app (and the shell textual-serve starts it with)
        await cdp.call("Target.closeTarget", targetId=target)
        return first_byte, cdp.terminal_output, app_processes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", default=str(REPO / "checkpoints"))
    parser.add_argument("--data-dir")
    parser.add_argument("--out", default="serve-check.png")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the app in the page")
    parser.add_argument("--draw", action="store_true", help="also draw a 7 with the mouse in the Draw view")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium:
        print("no chromium on PATH (Debian: apt-get install chromium)")
        return 2
    port = free_port()
    command = [sys.executable, "-m", "mnist_tui.cli", "--checkpoints", args.checkpoints]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    server = subprocess.Popen([*command, "serve", "--port", str(port)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True, cwd=REPO)
    profile = tempfile.mkdtemp(prefix="serve-check-chromium-")
    browser = None
    app_processes: list[int] = []
    ok = True
    try:
        first = server.stdout.readline().strip()  # printed before it listens, then the page URL on its own line
        print(f"server: {first}")
        ok &= "bound to 127.0.0.1" in first
        match = None
        for line in server.stdout:
            match = re.fullmatch(r"(http://\S+/\?token=[\w-]+)", line.strip())
            if match or line.startswith("Press Ctrl+C"):
                break
        if match is None:
            print("the server printed no page URL with a token")
            return 1
        url = match.group(1)
        wait_until(lambda: http_ok(url), 30, "the server")
        ok &= not http_ok(url.split("?")[0])  # without the token: no page
        browser = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--remote-debugging-port=0", "--window-size=1200,800", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        devtools_url = None
        for line in browser.stderr:
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                devtools_url = match.group(1)
                break
        if devtools_url is None:
            print("chromium did not start its DevTools endpoint")
            return 1
        started = time.monotonic()
        first_byte, output, app_processes = asyncio.run(
            browse(devtools_url, url, Path(args.out), args.timeout, server.pid, args.draw))
        seen = first_byte and APP_TEXT in output
        ok &= seen
        words = sorted({w for w in ("Train", "Results", "Misclassified", "Runs", "Ready") if w in output})
        print(f"page: {'app rendered' if seen else 'app NOT rendered'} after {time.monotonic() - started:.1f}s; "
              f"{len(output):,} characters of terminal output, showing {', '.join(words) or 'none of the tabs'}")
        print(f"screenshot: {Path(args.out).resolve()}")
        # the tab is closed: its app process must go (checked by pid: an orphan has another parent)
        print(f"app processes while the tab was open: {app_processes}")
        ok &= bool(app_processes)
        try:
            wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in app_processes), 30,
                       "the tab's app process to exit")
            print("tab closed: its app process exited")
        except TimeoutError as exc:
            ok = False
            print(f"tab closed: {exc}; still running: {[p for p in app_processes if Path(f'/proc/{p}').exists()]}")
    finally:
        if browser is not None:
            os.killpg(browser.pid, signal.SIGTERM)
            browser.wait(10)
        for pid in descendants(server.pid) + app_processes:
            try:
                os.kill(pid, signal.SIGKILL)  # only what this check started
            except ProcessLookupError:
                pass
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        shutil.rmtree(profile, ignore_errors=True)
    print("serve check:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
