"""What the Tune view asks before a key would end a running study (quitting the app, leaving the view), or
start one beside a run the app trains."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..widgets.dialogs import ConfirmScreen


def quit_question() -> ConfirmScreen:
    return ConfirmScreen("Quit while tuning?", "The running trials stop, save a resumable last.pt (marked "
                         "interrupted), and then the app quits.", yes="Stop and quit", no="Keep tuning")


def leave_question() -> ConfirmScreen:
    """Leaving Tune (escape, enter on a trial, Use best) stops its study: the search runs in this view's child."""
    return ConfirmScreen("Leave while tuning?", "The study stops: its running trials save a resumable last.pt "
                         "(marked interrupted); its finished trials stay in its storage.", yes="Stop and leave",
                         no="Keep tuning")


def busy_question(run_name: str, title: str = "Tune while a run trains?", who: str = "The study's trials",
                  paused: bool = False) -> ConfirmScreen:
    """Start pressed while the app trains a run: the study (or the lr finder's range test) would share the
    machine with it (a paused run shares it once resumed)."""
    now = "is paused. {who} would share the CPU with it once it resumes" if paused else \
        "is training. {who} would share the CPU with it"
    return ConfirmScreen(title, f"{run_name} {now.format(who=who)}, and both would run slower.", yes="Start anyway",
                         no="Wait")


def unless_busy(app, then: Callable[[], object], title: str = "Tune while {what} trains?",
                who: str = "The study's trials") -> None:
    """Run ``then``, which starts a training beside the app's (a study, the lr finder's range test), at once, or
    while the app trains a run (or the Tune view a study) once the user says so (they started beside it without
    a word; the lr finder beside a study, walk30 F4). ``title``'s ``{what}`` is "a run" or "a study"."""
    controller = getattr(app, "controller", None)
    study = next((s for s in app.screen_stack if isinstance(s, LeaveQuestions) and s.running), None)
    if study is not None:
        app.busy_question = busy_question(f"Study {study.study_name()}", title.format(what="a study"), who)
        app.push_screen(app.busy_question, lambda yes: then() if yes else None)
    elif controller is not None and controller.active:
        name = Path(controller.run_dir).name if controller.run_dir else "A run"
        app.busy_question = busy_question(name, title.format(what="a run"), who,
                                          paused=controller.state.value == "paused")
        app.push_screen(app.busy_question, lambda yes: then() if yes else None)
    else:
        then()


def busy_question_answered(app) -> None:
    """The run ended while the busy question was open: it said the run trained; what was asked for starts."""
    dialog, app.busy_question = getattr(app, "busy_question", None), None
    if dialog is not None and app.screen is dialog:
        dialog.dismiss(True)


class LeaveQuestions:
    """The Tune screen's questions before a key ends its running study (mixed into TuneScreen)."""

    def ask_quit(self) -> None:
        """ctrl+q while the study runs (the app asks here): confirm, stop it as Stop does, quit once it has ended."""
        if self._quit_when_stopped:  # already stopping to quit: a second ctrl+q quits at once
            self.app.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._quit_when_stopped = True
                if not self.running:
                    self.app.exit()
                    return
                self.action_stop()  # the app quits once the study's process has ended (seconds): say so meanwhile
                self.query_one("#tune-status").update("stopping: the running trials save and end, then the app quits")
                self.refresh_bindings()  # no Start into a window about to go

        self._question = quit_question()
        self.app.push_screen(self._question, answered)

    def _leave(self, then: Callable[[], object]) -> None:
        """Run ``then``, which leaves the view, at once, or while a study runs once the user says stop it (it
        stopped without a word on escape, enter on a trial and Use best)."""
        if self.running:
            self._question = leave_question()
            self.app.push_screen(self._question, lambda yes: then() if yes else None)
        else:
            then()

    def _leave_once_stopped(self, then: Callable[[], object], said: str) -> None:
        """Like :meth:`_leave`, but ``then`` waits for the study's end: it needs what the stop saves (enter on the
        training trial opened its run before its last.pt was written, walk30 F2). ``said``: what comes then."""
        def stop() -> None:
            self._when_stopped = then
            self.action_stop()
            self.query_one("#tune-status").update(f"stopping: the running trials save and end, then {said}")
        self._leave(stop)

    def _study_ended(self) -> None:
        """The study's process has ended: what waited for it (:meth:`_leave_once_stopped`) goes on."""
        then, self._when_stopped = getattr(self, "_when_stopped", None), None
        if then is not None:
            then()
        else:
            self._study_ended_under_question()

    def _study_ended_under_question(self) -> None:
        """The study ended while "Quit (or Leave) while tuning?" was open: nothing is left to stop, so what the key
        asked for is done (the question stayed up, saying the study would stop)."""
        dialog, self._question = getattr(self, "_question", None), None
        if dialog is not None and self.app.screen is dialog:
            if dialog.title_text.startswith("Leave"):  # say how it ended (the view went without a word, walk41 F6)
                outcome = str(self.query_one("#tune-status").render()).splitlines()[0]
                self.app.notify(f"The study ended while you were asked, so Tune closed: {outcome}", timeout=10)
            dialog.dismiss(True)
