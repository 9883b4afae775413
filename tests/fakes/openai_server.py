"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 for tests driven by the real `openai` client.

Each POST to /v1/chat/completions takes the next `Reply` from the script: a JSON completion, an
SSE stream (tool-call arguments in fragments, usage in the final chunk), an HTTP error with
optional Retry-After, a malformed body, or a reply that stalls. Every request is recorded
(path, headers, JSON body) so tests can check what the client sent.

    with FakeOpenAIServer([tool_call_reply("get_positions", "{}"), text_reply("flat")]) as srv:
        client = LLMClient(LLMConfig(base_url=srv.base_url, model="fake"), env={"OPENAI_API_KEY": "k"})
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FakeOpenAIServer",
    "RecordedRequest",
    "Reply",
    "error_reply",
    "raw_reply",
    "stream_reply",
    "text_chunks",
    "text_reply",
    "tool_call_chunks",
    "tool_call_reply",
]

MODEL = "fake-model"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON reply (dict) when sse is None
    sse: list[Any] | None = None  # chunks (dicts, or raw str data lines) for a stream
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    raw: bytes | None = None  # exact body bytes (malformed replies)
    done: bool = True  # send `data: [DONE]` after the chunks


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any


def _completion(message: dict[str, Any], finish: str, usage: tuple[int, int] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage is not None:
        body["usage"] = _usage(usage)
    return body


def _usage(usage: tuple[int, int]) -> dict[str, int]:
    return {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}


def text_reply(content: str, usage: tuple[int, int] | None = (10, 5)) -> Reply:
    return Reply(body=_completion({"role": "assistant", "content": content}, "stop", usage))


def tool_call_reply(
    name: str, arguments: str, call_id: str = "call_1", usage: tuple[int, int] | None = (20, 8)
) -> Reply:
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    msg = {"role": "assistant", "content": None, "tool_calls": [call]}
    return Reply(body=_completion(msg, "tool_calls", usage))


def error_reply(status: int, message: str = "error", retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(status=status, body={"error": {"message": message, "type": "fake", "code": status}}, headers=headers)


def raw_reply(data: bytes, status: int = 200, content_type: str = "application/json") -> Reply:
    return Reply(status=status, raw=data, headers={"Content-Type": content_type})


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def text_chunks(pieces: Sequence[str], finish: str = "stop") -> list[dict[str, Any]]:
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": p}) for p in pieces]
    chunks.append(_chunk({}, finish))
    return chunks


def tool_call_chunks(
    calls: Sequence[tuple[str, str, Sequence[str]]], finish: str = "tool_calls"
) -> list[dict[str, Any]]:
    """Chunks for tool calls given as (id, name, argument fragments), interleaved by `index`."""
    chunks = [_chunk({"role": "assistant", "content": None})]
    for index, (call_id, name, _) in enumerate(calls):
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        chunks.append(_chunk({"tool_calls": [head]}))
    longest = max((len(f) for _, _, f in calls), default=0)
    for step in range(longest):  # round-robin so fragments of different calls interleave
        for index, (_, _, fragments) in enumerate(calls):
            if step < len(fragments):
                part = {"index": index, "function": {"arguments": fragments[step]}}
                chunks.append(_chunk({"tool_calls": [part]}))
    chunks.append(_chunk({}, finish))
    return chunks


def stream_reply(chunks: list[Any], usage: tuple[int, int] | None = None, done: bool = True) -> Reply:
    """An SSE stream; with usage, a last chunk with empty choices carries it (include_usage)."""
    chunks = list(chunks)
    if usage is not None:
        chunks.append({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
                       "model": MODEL, "choices": [], "usage": _usage(usage)})  # fmt: skip
    return Reply(sse=chunks, done=done)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every request pays ~45 ms of Nagle + delayed ACK

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "fake"}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self._record(body)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        reply = self.server.owner.next_reply()
        if reply.delay:
            time.sleep(reply.delay)
        if reply.raw is not None:
            self._send(reply.status, reply.raw, reply.headers)
        elif reply.sse is not None:
            self._sse(reply)
        else:
            self._json(reply.status, reply.body, reply.headers)

    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.owner.requests.append(RecordedRequest(self.command, self.path, headers, body))

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self._send(status, data, {"Content-Type": "application/json", **(headers or {})})

    def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # the body ends when the connection does
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.close_connection = True
        for chunk in reply.sse or []:
            data = chunk if isinstance(chunk, str) else json.dumps(chunk)
            self.wfile.write(f"data: {data}\n\n".encode())
            self.wfile.flush()
        if reply.done:
            self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out has hung up before a delayed reply: expected, not noise.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class FakeOpenAIServer:
    """Start with `with FakeOpenAIServer(script) as srv:`; `srv.base_url` ends in /v1."""

    def __init__(self, script: Iterable[Reply] = ()) -> None:
        self._script: list[Reply] = list(script)
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.rstrip("/") == "/v1/chat/completions"]

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    def next_reply(self) -> Reply:
        with self._lock:
            if self._script:
                return self._script.pop(0)
        return error_reply(500, "fake server: script exhausted")

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
