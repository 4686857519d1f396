"""Keys the pushed views share."""

from __future__ import annotations

from textual.binding import Binding

# ctrl+q quits from every view (the app's own binding still runs it), but a view's footer keeps its room
# for the view's keys and the run's (f6 Pause, f7 Stop while a run trains): "esc Back" is the way out shown
QUIT_NOT_SHOWN = Binding("ctrl+q", "app.quit", "Quit", show=False, priority=True)
