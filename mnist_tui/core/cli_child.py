"""A ``mnist-tui <command> --json`` child process: its JSON lines in, SIGINT or SIGKILL out.

The app's Tune view runs ``tune --json`` and the lr finder ``lr-find --json`` this way, so
neither screen trains in the app's process. Textual-free: the screen reads :meth:`CliChild.records`
in a thread worker and posts what it needs; stopping and the child's last words live here, once.

``tune`` says when it has installed its SIGINT handler (a ``ready_event`` record). Before that a
SIGINT is lost or kills it unsaved, so :meth:`interrupt` waits for it: the reader sends it then.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from .process import cli_message


class CliChild:
    """One ``python -m mnist_tui.cli <args> --json`` process, in its own session (Ctrl+C in the
    terminal reaches the app, not it), its stderr kept for :meth:`message`."""

    def __init__(self, args: list[str], *, ready_event: str | None = None) -> None:
        """``args`` follow ``mnist-tui``. Raises OSError if the child cannot be started."""
        self.command = [sys.executable, "-m", "mnist_tui.cli", *args]
        self.ready_event = ready_event
        self._stderr = tempfile.TemporaryFile()
        self._lock = threading.Lock()
        self._ready = ready_event is None
        self.interrupted = False  # interrupt() was called (once sent, or waiting for the child to be ready)
        self._sent = False
        try:
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=self._stderr, text=True, start_new_session=True,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        except OSError:
            self._stderr.close()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def records(self) -> Iterator[dict[str, Any]]:
        """The child's JSON records as they come (lines that are not JSON objects are skipped), until it
        closes its output. Call from one thread (a worker): it blocks between lines."""
        for line in self.process.stdout:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(record, dict):
                continue
            if record.get("event") == self.ready_event:
                with self._lock:
                    self._ready = True
                    self._send_interrupt()
            yield record

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout)

    def interrupt(self, *, at_once: bool = False) -> bool:
        """Ctrl+C for the child: it stops as its command does on Ctrl+C (tune: the running trials save and are
        marked interrupted). Once: a second SIGINT tells ``tune`` to quit at once. False if already asked or
        ended. Sent when the child is ready, or now if ``at_once`` (leaving: an early one may kill it unsaved)."""
        with self._lock:
            if self.interrupted or not self.running:
                return False
            self.interrupted = True
            if at_once:
                self._ready = True
            self._send_interrupt()
            return True

    def _send_interrupt(self) -> None:  # with the lock held
        if self.interrupted and self._ready and not self._sent:
            self._sent = True
            self._signal(signal.SIGINT)

    def kill(self) -> None:
        """SIGKILL to the child's process group (its own session): for a child that saves nothing."""
        if not self.running:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.process.kill()

    def _signal(self, signum: int) -> None:
        try:
            self.process.send_signal(signum)
        except (ProcessLookupError, OSError):  # it has just ended
            pass

    def message(self) -> str:
        """What the child ended with on stderr (its ``mnist-tui: `` message, else its last line)."""
        return cli_message(self._stderr)


__all__ = ["CliChild"]
