"""The Monitor log's search line: "/", the query, and where the last jump
landed among the matches ("3/17")."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Static


class LogSearchBar(Horizontal):
    DEFAULT_CSS = """
    LogSearchBar {
        height: 1;
        display: none;
    }
    LogSearchBar.-shown {
        display: block;
    }
    LogSearchBar > .log-search-prompt {
        width: 2;
        text-style: bold;
    }
    LogSearchBar > Input {
        width: 1fr;
        height: 1;
        border: none;
        padding: 0;
    }
    LogSearchBar > .log-search-count {
        width: auto;
        min-width: 10;
        padding-left: 1;
        text-align: right;
        color: $text-muted;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("/", classes="log-search-prompt")
        yield Input(
            placeholder="search the log; enter: next match", id="log-search-input"
        )
        yield Static("", id="log-search-count", classes="log-search-count")

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")

    def open(self) -> None:
        self.add_class("-shown")
        self.query_one(Input).focus()

    def close(self) -> None:
        self.remove_class("-shown")
        self.query_one(Input).value = ""

    def show_count(self, position: int | None, total: int, query: str) -> None:
        """ "3/17" after a jump; before one, how many there are."""
        if not query:
            text = ""
        elif not total:
            text = "no match"
        elif position is None:
            text = f"{total} match{'es' if total != 1 else ''}"
        else:
            text = f"{position}/{total}"
        self.query_one("#log-search-count", Static).update(text)
