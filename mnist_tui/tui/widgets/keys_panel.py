"""The keys panel (``?``): Textual's help panel less the keys that only move about.

At 80x24 Textual's panel began with the focused widget's Scroll Left, Scroll Right, Scroll Home, Page Up,
Page Left ... (a form's, a table's), and the view's own keys, f5 Start or l Load, lay below the bottom
edge. Moving about (arrows, Home/End, PgUp/PgDn, tab) needs no panel; what is left fits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from itertools import groupby
from operator import itemgetter

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import HelpPanel, KeyPanel, Markdown
from textual.widgets._key_panel import BindingsTable

MOVING = ("scroll_", "page_", "cursor_")  # action prefixes of keys that only move about
# (f1-f4, show_tab, are on the tab bar: in the panel they pushed the last keys below its edge at 80x24)
MOVING_ACTIONS = {"focus_next", "focus_previous", "copy_text", "hide_help_panel", "toggle_keys", "show_tab"}
# the keys themselves (a grid's own move(1), Runs' first and last, Why's step to the next digit): shift+arrows
# stay, as they do more (Draw paints with them, the Map jumps 5 cells)
MOVING_KEYS = {"up", "down", "left", "right", "home", "end", "pageup", "pagedown", "tab", "shift+tab"}


# Textual's own palette key reads "palette" with a tooltip too long for the panel's column
PANEL_WORDS = {"command_palette": "Command palette"}


def in_words(binding: Binding) -> str:
    """What the panel says a key does: a key's tooltip, the words behind a footer's short label ("Del"), when
    it has one; else its description."""
    action = binding.action.rpartition(".")[2].partition("(")[0]
    return PANEL_WORDS.get(action) or binding.tooltip or binding.description


def moves_only(binding: Binding) -> bool:
    """Whether a key only moves the view, the cursor or the focus (or opens and closes this panel)."""
    action = binding.action.rpartition(".")[2].partition("(")[0]  # app.focus_next, show_tab('runs')
    keys = {key.strip() for key in binding.key.split(",")}
    return action.startswith(MOVING) or action in MOVING_ACTIONS or keys <= MOVING_KEYS


class ViewBindingsTable(BindingsTable):
    """Textual's table of the active bindings, grouped as it groups them, without the moving keys."""

    def render_bindings_table(self) -> Table:
        divider_transparent = self.get_component_styles("bindings-table--divider").color.a == 0
        table = Table(padding=(0, 0), show_header=False, box=box.SIMPLE if divider_transparent else box.HORIZONTALS,
                      border_style=self.get_component_rich_style("bindings-table--divider"))
        table.add_column("", justify="right")
        key_style = self.get_component_rich_style("bindings-table--key")
        description_style = self.get_component_rich_style("bindings-table--description")
        for namespace, group in groupby(self._shown_bindings(), key=itemgetter(0)):
            by_action: defaultdict[str, list[Binding]] = defaultdict(list)
            for _, binding, _enabled, _tooltip in group:
                if binding.system or moves_only(binding):
                    continue
                # one row for a family of keys, the first described (Draw's 0-9 are meant(0) ... meant(9))
                family = next((action for action in by_action if not binding.description
                               and action.partition("(")[0] == binding.action.partition("(")[0]), binding.action)
                by_action[family].append(binding)
            if not by_action:
                continue
            if namespace.BINDING_GROUP_TITLE:
                table.add_row("", Text(namespace.BINDING_GROUP_TITLE, style=self.get_component_rich_style(
                    "bindings-table--header"), end=""))
            for bindings in by_action.values():
                keys = " ".join(dict.fromkeys(self.app.get_key_display(b) for b in bindings))
                # the other keys of "m,space" (one key_display, for the footer's room: the panel listed m alone)
                also = [self.app.get_key_display(replace(b, key_display=None)) for b in bindings[1:]
                        if b.key_display and b.key_display == bindings[0].key_display]
                if len(bindings) > 2 and keys.replace(" ", "") == "0123456789"[:len(bindings)]:
                    keys = f"0-{len(bindings) - 1}"  # Draw's ten digit keys took two lines of the key column
                description = Text.from_markup(in_words(bindings[0]) + (f" (or {', '.join(also)})" if also else ""),
                                               end="", style=description_style)
                table.add_row(Text(keys, style=key_style), description)
            table.add_section()
        return table

    def _shown_bindings(self) -> list[tuple]:
        """The active bindings, escape as the view means it: while this panel is open the app's escape closes
        it, and the view's own (Back) was missing from every view's panel."""
        bindings_now = self.screen.active_bindings  # computed afresh on each read: read once
        active, escape = list(bindings_now.values()), bindings_now.get("escape")
        if escape is None or not escape.binding.action.endswith("hide_help_panel"):
            return active
        for node, bindings in self.screen._modal_binding_chain:  # Textual's: the chain active_bindings reads
            views = [b for b in bindings.key_to_bindings.get("escape", ()) if node is not self.app]
            if views and self.app._check_action_state(views[0].action, node) is not False:
                return [(node, views[0], True, views[0].tooltip) if entry is escape else entry for entry in active]
        return active


class ViewKeyPanel(KeyPanel):
    def compose(self) -> ComposeResult:
        yield ViewBindingsTable(shrink=True, expand=False)


class KeysPanel(HelpPanel):
    """Docked on the right as Textual's is (a widget's help above the keys)."""

    def compose(self) -> ComposeResult:
        yield Markdown(id="widget-help")
        yield ViewKeyPanel(id="keys-help")


__all__ = ["KeysPanel", "in_words", "moves_only"]
