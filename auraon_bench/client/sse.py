"""Incremental Server-Sent Events (SSE) decoding with per-event arrival times.

Implements the event-stream interpretation algorithm of the WHATWG HTML Living
Standard, section 9.2.6 "Interpreting an event stream":

* lines end with CRLF, LF or CR; a CR that ends one chunk and an LF that opens the
  next form a single CRLF terminator;
* a leading UTF-8 byte order mark at the very start of the stream is dropped;
* a line starting with ``:`` is a comment;
* ``field:value`` has at most one space after the colon removed; a line without a
  colon is a field with an empty value; unknown fields are ignored;
* ``data`` lines accumulate and are joined with LF; ``event`` sets the event type
  (``"message"`` when unset); ``id`` sets the last event ID unless it contains NUL;
  ``retry`` sets the reconnection time when it is all ASCII digits;
* a blank line dispatches the event, unless no ``data`` line was seen since the
  previous blank line.

Deviation from the standard, on purpose: at end of stream the standard discards an
event that was not terminated by a blank line. :meth:`SSEDecoder.close` instead
returns it with ``complete=False`` so that the caller can classify a truncated stream.

Timing: each event carries the ``t_ns`` of the chunk holding the byte that
terminated its blank line, i.e. the moment the event became decodable.

Bytes are decoded as UTF-8 (``errors="replace"``) only once a line is complete, so a
multi-byte character split across chunks is never damaged. Each fed chunk is scanned
once with C-level ``bytes`` methods; bytes of an unterminated line are kept in a
``bytearray`` so a long line arriving in many small chunks costs linear time.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["DONE", "SSEDecoder", "SSEEvent"]

DONE = "[DONE]"
"""``data`` payload with which OpenAI-compatible servers end a streamed response."""

_LF = 0x0A
_BOM = "\ufeff"


class SSEEvent(NamedTuple):
    """One dispatched event (immutable; a NamedTuple because the hot path makes one per event).

    ``id`` and ``retry`` are stream state at dispatch time, as in the standard: the
    last event ID and reconnection time seen so far (``None`` if never sent), not
    only the values sent inside this event.
    """

    data: str
    t_ns: int
    event: str = "message"
    id: str | None = None
    retry: int | None = None
    complete: bool = True


class SSEDecoder:
    """Turns arbitrarily chunked bytes of an ``text/event-stream`` body into events.

    Call :meth:`feed` for every received chunk with its arrival time, then
    :meth:`close` once at end of body. ``comments`` counts comment lines seen.
    """

    __slots__ = (
        "_at_stream_start",
        "_closed",
        "_data_lines",
        "_event_type",
        "_last_event_id",
        "_partial_line",
        "_retry_ms",
        "_skip_leading_lf",
        "comments",
    )

    def __init__(self) -> None:
        self._partial_line = bytearray()
        self._skip_leading_lf = False
        self._at_stream_start = True
        self._closed = False
        self._data_lines: list[str] = []
        self._event_type = ""
        self._last_event_id: str | None = None
        self._retry_ms: int | None = None
        self.comments = 0

    @property
    def has_buffered_bytes(self) -> bool:
        """True if bytes of a line not yet terminated are waiting for more input."""
        return bool(self._partial_line)

    @property
    def has_partial_event(self) -> bool:
        """True if ``data`` lines were decoded that no blank line has dispatched yet."""
        return bool(self._data_lines)

    def feed(self, data: bytes, t_ns: int) -> list[SSEEvent]:
        """Consume one chunk received at ``t_ns``; return the events it completed."""
        if self._closed:
            raise RuntimeError("SSEDecoder.feed() called after close()")
        if not data:
            return []
        if not isinstance(data, bytes):
            data = bytes(data)
        if self._skip_leading_lf:
            # The previous chunk ended in CR: this LF completes that CRLF, it is not
            # a blank line (which would dispatch an event too early).
            self._skip_leading_lf = False
            if data[0] == _LF:
                data = data[1:]
        if b"\r" in data:
            self._skip_leading_lf = data[-1] == 0x0D
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        last_lf = data.rfind(b"\n")
        if last_lf < 0:
            self._partial_line += data
            return []
        partial = self._partial_line
        if partial:
            partial += memoryview(data)[:last_lf]
            text = partial.decode("utf-8", "replace")
        else:
            text = str(memoryview(data)[:last_lf], "utf-8", "replace")
        self._partial_line = bytearray(memoryview(data)[last_lf + 1 :])
        # LF never occurs inside a multi-byte UTF-8 sequence, so decoding all
        # complete lines at once equals decoding them one by one.
        return self._interpret_lines(text.split("\n"), t_ns)

    def close(self, t_ns: int) -> list[SSEEvent]:
        """Signal end of body at ``t_ns``.

        Returns the event still being assembled, if it has data, with
        ``complete=False``. An unterminated last line is interpreted first, so a
        truncated ``data:`` line still shows up in that event's data.
        """
        if self._closed:
            return []
        self._closed = True
        self._skip_leading_lf = False
        lines: list[str] = []
        if self._partial_line:
            lines.append(self._partial_line.decode("utf-8", "replace"))
            self._partial_line = bytearray()
        events = self._interpret_lines(lines, t_ns)
        if self._data_lines:
            events.append(self._make_event(t_ns, complete=False))
        return events

    def _make_event(self, t_ns: int, *, complete: bool) -> SSEEvent:
        lines = self._data_lines
        event = SSEEvent(
            lines[0] if len(lines) == 1 else "\n".join(lines),
            t_ns,
            self._event_type or "message",
            self._last_event_id,
            self._retry_ms,
            complete,
        )
        self._data_lines = []
        self._event_type = ""
        return event

    def _interpret_lines(self, lines: list[str], t_ns: int) -> list[SSEEvent]:
        if lines and self._at_stream_start:
            self._at_stream_start = False
            if lines[0].startswith(_BOM):
                lines[0] = lines[0][1:]
        events: list[SSEEvent] = []
        for line in lines:
            if line[:6] == "data: ":  # the common case, first
                self._data_lines.append(line[6:])
                continue
            if not line:
                if self._data_lines:
                    events.append(self._make_event(t_ns, complete=True))
                else:
                    self._event_type = ""
                continue
            if line[0] == ":":
                self.comments += 1
                continue
            name, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                self._data_lines.append(value)
            elif name == "event":
                self._event_type = value
            elif name == "id":
                if "\0" not in value:
                    self._last_event_id = value
            elif name == "retry" and value.isascii() and value.isdigit():
                self._retry_ms = int(value)
        return events
