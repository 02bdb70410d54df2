"""``ScriptedModelServer``: a model that says what its script says, on loopback.

It speaks the OpenAI Chat Completions and the Anthropic Messages wire formats, plain and
streamed (SSE), so the official SDKs talk to it as to the real services::

    with ScriptedModelServer([reply(tool_calls=[tool_call("check", {"sku": "A1"})]), reply("ok")]) as server:
        agent = Agent(..., provider_base_url=server.openai_base_url)

1. A request arrives (``POST /v1/chat/completions`` or ``POST /v1/messages``); it is kept
   in ``requests``, in arrival order, whatever is answered.
2. The script gives the answer: the next answer scripted for the requested model (a
   dict script, or ``add(..., model=)``), else the next of the list, or what a callable
   returns.
3. A ``Reply`` is written in the request's format, streamed when it asked for a stream;
   ``Failure`` is an HTTP error in the provider's error format; ``Raw`` is sent as is.
   With no answer left, the server answers 400 saying so, which no SDK retries.

The server runs on a thread, so a test can drive it from any event loop or process.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import anthropic_wire, openai_wire
from .script import Failure, Raw, Reply, Script, ScriptedRequest


class ScriptedModelServer:
    def __init__(self, script: Script | None = None, *, host: str = "127.0.0.1", port: int = 0):
        self._lock = threading.Lock()
        self._callable = script if callable(script) else None
        self._queue: list = list(script) if isinstance(script, (list, tuple)) else []
        self._by_model: dict[str, list] = (
            {model: list(answers) for model, answers in script.items()} if isinstance(script, dict) else {}
        )
        self.requests: list[ScriptedRequest] = []
        self._http = ThreadingHTTPServer((host, port), _handler_for(self))
        self._http.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> ScriptedModelServer:
        self._thread = threading.Thread(target=self._http.serve_forever, name="scripted-model", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- where to point an SDK -------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        """``base_url`` for ``openai.AsyncOpenAI`` (and ``provider_base_url`` of an OpenAI agent)."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """``base_url`` for ``anthropic.AsyncAnthropic``."""
        return self.url

    # -- the script ------------------------------------------------------------------------

    def add(self, *answers, model: str | None = None) -> None:
        """Append answers: for any model, or for requests of ``model`` only (taken first)."""
        with self._lock:
            (self._queue if model is None else self._by_model.setdefault(model, [])).extend(answers)

    def requests_for(self, model: str) -> list[ScriptedRequest]:
        with self._lock:
            return [r for r in self.requests if r.model == model]

    def _answer(self, request: ScriptedRequest):
        with self._lock:
            self.requests.append(request)
            number = len(self.requests)
            if self._callable is not None:
                return number, self._callable(request)
            for queue in (self._by_model.get(request.model), self._queue):
                if queue:
                    return number, queue.pop(0)
            return number, None


def _handler_for(server: ScriptedModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # headers and body go out as separate writes: without this, Nagle's algorithm
            # and the client's delayed ACK add 40 ms to every answer
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args) -> None:  # quiet: tests read ``requests`` instead
            pass

        def do_POST(self) -> None:
            api = {openai_wire.PATH: "openai", anthropic_wire.PATH: "anthropic"}.get(self.path.split("?")[0])
            length = int(self.headers.get("content-length") or 0)
            text = self.rfile.read(length).decode() if length else ""
            if api is None:
                self._json(404, {"error": {"message": f"no such path {self.path}"}})
                return
            try:
                body = json.loads(text or "{}")
            except ValueError:
                self._json(400, {"error": {"message": "the request body is not JSON"}})
                return
            request = ScriptedRequest(api, self.path, body, {k.lower(): v for k, v in self.headers.items()})
            number, answer = server._answer(request)
            try:
                self._send_answer(api, request, number, answer)
            finally:
                request.answered.set()

        def _send_answer(self, api: str, request: ScriptedRequest, number: int, answer) -> None:
            wire = openai_wire if api == "openai" else anthropic_wire
            if answer is None:
                message = (
                    f"scripted model server: no scripted answer left for request {number} (model {request.model!r})"
                )
                self._json(400, wire.error_body(Failure(400, message)))
            elif isinstance(answer, Failure):
                headers = {} if answer.retry_after_s is None else {"retry-after": str(answer.retry_after_s)}
                self._json(answer.status, wire.error_body(answer), headers)
            elif isinstance(answer, Raw):
                self._send(answer.status, answer.body.encode(), answer.content_type)
            elif isinstance(answer, Reply):
                self._reply(api, request, answer, number)
            else:
                self._json(500, {"error": {"message": f"the script gave {answer!r}, not a reply"}})

        def _reply(self, api: str, request: ScriptedRequest, answer: Reply, number: int) -> None:
            model = request.model
            if not request.stream:
                body = (
                    openai_wire.completion(answer, model, number)
                    if api == "openai"
                    else anthropic_wire.message(answer, model, number)
                )
                self._json(200, body)
                return
            if api == "openai":
                usage = bool((request.body.get("stream_options") or {}).get("include_usage"))
                frames = openai_wire.stream_frames(answer, model, number, usage)
            else:
                frames = anthropic_wire.stream_frames(answer, model, number)
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("connection", "close")
            self.end_headers()
            self.close_connection = True
            for frame in frames:
                self.wfile.write(frame.encode())
                self.wfile.flush()
                if answer.chunk_delay_s:
                    time.sleep(answer.chunk_delay_s)

        def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
            self._send(status, json.dumps(body).encode(), "application/json", headers)

        def _send(self, status: int, data: bytes, content_type: str, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
