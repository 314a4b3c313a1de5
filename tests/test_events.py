"""The event stream: header first, one whole JSON object per line, readable
while written, and readers that skip what they cannot parse."""

from __future__ import annotations

import json

from engine.events import SCHEMA, VERSION, EventFileReader, EventWriter


def test_header_then_records_each_flushed_at_once(tmp_path):
    path = tmp_path / "events.jsonl"
    writer = EventWriter(path, run_id="r1")
    writer.emit("step", step=1, loss=0.5)
    # Readable before the writer closes: every line is flushed as it is written.
    lines = path.read_text().splitlines()
    header, step = (json.loads(line) for line in lines)
    assert header == {
        **header,
        "type": "header",
        "schema": SCHEMA,
        "version": VERSION,
        "run_id": "r1",
    }
    assert step["type"] == "step" and step["loss"] == 0.5 and step["t"] > 0
    writer.close()


def test_listeners_see_every_record(tmp_path):
    seen = []
    writer = EventWriter(tmp_path / "e.jsonl", run_id="r")
    writer.listeners.append(seen.append)
    writer.emit("log", message="hello")
    assert [e["type"] for e in seen] == ["log"]


def test_reader_follows_a_growing_file_and_skips_garbled_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "header", "t": 1}\n{"type": "step", "t": 2, "st')
    reader = EventFileReader(path)
    assert [e["type"] for e in reader.read_new()] == ["header"]  # partial line waits
    with open(path, "a") as fh:
        fh.write('ep": 1}\nnot json at all\n{"no_type": 1}\n{"type": "eval", "t": 3}\n')
    assert [e["type"] for e in reader.read_new()] == ["step", "eval"]
    assert reader.bad_lines == 2 and reader.bad_line_numbers == [3, 4]
    assert reader.read_new() == []


def test_unknown_types_and_keys_pass_through(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "future_thing", "t": 1, "new_key": [1, 2]}\n')
    (record,) = EventFileReader(path).read_new()
    assert record["new_key"] == [1, 2]
