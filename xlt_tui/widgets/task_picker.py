"""A titled task list with type-to-filter and a count of ticked tasks.

The ticks live here, not in the list: a filter removes options from the
SelectionList, and a ticked task hidden by the filter must stay chosen (the
Launch form reads `ticked`, never the list's own selection).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, SelectionList
from textual.widgets.selection_list import Selection

from xlt_tui.widgets.ordered_input import OrderedInput
from xlt_tui.widgets.tick_marks import TickSelectionList


class TaskPicker(Vertical):
    DEFAULT_CSS = """
    TaskPicker { height: auto; width: 1fr; }
    TaskPicker > .picker-title {
        width: 100%; text-wrap: nowrap; text-overflow: ellipsis; padding-right: 1;
    }
    TaskPicker > .filter-row { height: 1; }
    TaskPicker > .filter-row > Input { width: 1fr; }
    TaskPicker > .filter-row > .hidden-note { width: auto; padding: 0 1; }
    """

    def __init__(self, title: str, list_id: str, *, tooltip: str | None = None):
        super().__init__(id=f"{list_id}-picker")
        self.title = title
        self.list_id = list_id
        self._tooltip = tooltip
        self.names: list[str] = []
        # Insertion order is the order the user (or the file) chose them in.
        self._ticked: dict[str, None] = {}

    def compose(self) -> ComposeResult:
        yield Label(self.title, classes="picker-title")
        with Horizontal(classes="filter-row"):
            yield OrderedInput(
                placeholder="type to filter",
                id=f"{self.list_id}-filter",
                compact=True,
            )
            # Beside the filter, not in the title: at 80 columns the title
            # has room for the count only.
            yield Label("", classes="hidden-note")
        task_list = TickSelectionList(id=self.list_id)
        if self._tooltip:
            task_list.tooltip = self._tooltip
        yield task_list

    @property
    def task_list(self) -> SelectionList[str]:
        return self.query_one(f"#{self.list_id}", SelectionList)

    @property
    def ticked(self) -> list[str]:
        """Every ticked task, shown or hidden by the filter."""
        self._sync_from_list()  # a select() whose event is still queued
        return list(self._ticked)

    @property
    def filter_text(self) -> str:
        return self.query_one(f"#{self.list_id}-filter", Input).value

    def set_tasks(self, names: list[str], ticked: list[str]) -> None:
        """Fill the list (the filter stays) and show the first ticked task."""
        self.names = list(names)
        self._ticked = dict.fromkeys(t for t in ticked if t in self.names)
        self._show()
        self.call_after_refresh(self.show_first_ticked)

    def show_first_ticked(self) -> None:
        """Scroll so the first ticked task is in view: a loaded config's
        tasks are often far down the list (the demo tasks come 21st)."""
        task_list = self.task_list
        for index in range(task_list.option_count):
            if task_list.get_option_at_index(index).value in self._ticked:
                task_list.highlighted = index
                # At the top, so the ticked tasks after it show too.
                task_list.scroll_to(y=index, animate=False)
                return

    def _shown_names(self) -> list[str]:
        words = self.filter_text.strip().lower().split()
        return [n for n in self.names if all(w in n.lower() for w in words)]

    def _show(self) -> None:
        task_list = self.task_list
        task_list.clear_options()
        task_list.add_options(
            [Selection(n, n, n in self._ticked) for n in self._shown_names()]
        )
        self._update_title()

    def _update_title(self) -> None:
        shown = {
            self.task_list.get_option_at_index(i).value
            for i in range(self.task_list.option_count)
        }
        hidden = sum(1 for t in self._ticked if t not in shown)
        count = f"{len(self._ticked)} of {len(self.names)} ticked"
        self.query_one(".picker-title", Label).update(f"{self.title} ({count})")
        self.query_one(".hidden-note", Label).update(
            f"{hidden} ticked, hidden" if hidden else ""
        )

    @on(Input.Changed)
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()  # the filter is not part of the form
        self._sync_from_list()  # a tick not yet reported must not be lost
        self._show()

    @on(Input.Submitted)
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.task_list.focus()  # enter: on to the (filtered) list

    @on(SelectionList.SelectedChanged)
    def _list_changed(self, event: SelectionList.SelectedChanged) -> None:
        # The event bubbles on, so the form reads the new `ticked`.
        self._sync_from_list()
        self._update_title()

    def _sync_from_list(self) -> None:
        """The shown options' ticks into `ticked`; hidden ones keep theirs."""
        task_list = self.task_list
        selected = set(task_list.selected)
        for index in range(task_list.option_count):
            name = task_list.get_option_at_index(index).value
            if name in selected:
                self._ticked.setdefault(name, None)
            else:
                self._ticked.pop(name, None)
