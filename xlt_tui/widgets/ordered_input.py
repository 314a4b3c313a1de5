"""An Input that applies its own editing keys in the order they arrive.

Textual resolves a focused widget's non-priority bindings (backspace, delete,
the cursor keys) only after the key has bubbled back up to the App, through
the App's message queue, while printable keys are inserted at once. When keys
arrive in a burst (a fast typist, a paste of keystrokes over SSH) the later
printable keys are already queued and overtake the backspaces: typing `3.5`,
three backspaces and `32` in one burst leaves `3.` (measured with textual
8.2.8; tests/tui/test_launch.py sends such bursts). Running the Input's own
bindings here, as each key is handled, keeps the user's order.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class OrderedInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable:
            bindings = self._bindings.key_to_bindings.get(event.key)
            if bindings:
                event.stop()
                event.prevent_default()
                await self.run_action(bindings[0].action)
                return
        await super()._on_key(event)
