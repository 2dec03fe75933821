"""`grader review`: a page on this machine for marking the free-text answers of a batch.

One free-text item at a time, every student's answer under the item's prompt, with a points
box and a comment box each; every change is posted as JSON and stored through
`grader.manual.GradedBatch` (atomically, in `OUT_DIR/manual.json`, the gradebook rewritten),
so closing the page loses nothing and opening it again shows the marks given so far.

Why the standard library's `http.server` and no web framework: one person, on their own
machine, a page and two small JSON requests. A framework would be a dependency (and its
updates) for nothing this needs. `ThreadingHTTPServer` rather than `HTTPServer`, because a
browser opens speculative connections it may never use; served one at a time, an idle one
would hold up every save. `http.server` is not hardened for the internet, and this is not on
it. What keeps the answers (which are the students' and may be hostile) and the marks safe:

* the server listens on 127.0.0.1 only;
* every URL carries a random token (`secrets`) in its path; without it nothing is served or
  stored, so neither another user of the machine nor a web page in the same browser can read
  the answers or post marks (cross-site requests cannot learn the token);
* a request whose `Host` is not `127.0.0.1:<port>` or `localhost:<port>` is refused: a DNS
  name rebound to 127.0.0.1 (DNS rebinding) cannot reach the page as its own origin; a POST
  must be JSON and, if the browser says where it comes from (`Origin`), come from the page;
* the page holds no student data; it fetches it and sets it with `textContent` only, and the
  Content-Security-Policy allows no script or style but the page's own (by a per-response
  nonce) and no requests but to this server; nothing is cached and no referrer is sent;
* requests are not logged (their paths carry the token).
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import sys
import urllib.parse
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any

from .manual import GradedBatch, ManualError

HOST = "127.0.0.1"
MAX_BODY = 256 * 1024  # bytes: a mark is a number and a comment
PAGE_CSP = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; "
    "img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"


def page_template() -> str:
    return files("grader").joinpath("review_page.html").read_text(encoding="utf-8")


def state(batch: GradedBatch) -> dict[str, Any]:
    """Everything the page shows: the items, the students in order, their answers, the marks."""
    titles = {e.id: e.title for e in batch.rubric.exercises}
    students = batch.students
    return {
        "assignment": batch.rubric.id,
        "title": f"{batch.rubric.section} {batch.rubric.title}",
        "items": [
            {
                "id": item.id,
                "exercise": item.exercise,
                "exercise_title": titles.get(item.exercise, item.exercise),
                "prompt": item.prompt,
                "max": item.points,
            }
            for item in batch.items
        ],
        "students": students,
        "answers": {item.id: [batch.answer(s, item.id) for s in students] for item in batch.items},
        "marks": {s: {i: m.to_dict() for i, m in items.items()} for s, items in batch.marks.marks.items()},
    }


class ReviewServer(ThreadingHTTPServer):
    """The review page for one batch folder, on 127.0.0.1 (`port` 0: any free port)."""

    daemon_threads = True  # a half-open connection never keeps Ctrl-C waiting (saves are awaited instead)

    def __init__(self, batch: GradedBatch, port: int = 0) -> None:
        self.batch = batch
        self.token = secrets.token_urlsafe(32)
        self.template = page_template()
        super().__init__((HOST, port), ReviewHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/{self.token}/"

    def close(self) -> None:
        """Stop listening, then wait for a save in progress to finish writing."""
        self.server_close()
        with self.batch.saving:
            pass


class ReviewHandler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "grader-review"
    sys_version = ""
    timeout = 30  # seconds a connection may sit idle before its thread gives up on it

    def log_message(self, format: str, *args: Any) -> None:
        """Nothing is logged: request lines carry the token."""

    # ------------------------------------------------------------------ checks
    def _host_allowed(self) -> bool:
        port = self.server.port
        return self.headers.get("Host", "") in (f"{HOST}:{port}", f"localhost:{port}")

    def _route(self) -> str | None:
        """What follows the token in the path; None when the token is missing or wrong."""
        path = urllib.parse.urlsplit(self.path).path
        token, _, rest = path.lstrip("/").partition("/")
        if not hmac.compare_digest(token.encode("utf-8", "replace"), self.server.token.encode()):
            return None
        return rest

    # ------------------------------------------------------------------ replies
    def _send(self, status: int, body: bytes, content_type: str, csp: str = DATA_CSP) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode("utf-8"), "application/json; charset=utf-8")

    def _refuse(self, status: int, message: str) -> None:
        self._send(status, (message + "\n").encode("utf-8"), "text/plain; charset=utf-8")

    # ------------------------------------------------------------------ methods
    def do_GET(self) -> None:
        route = self._route()
        if not self._host_allowed():
            self._refuse(403, "wrong Host: open the address `grader review` printed")
        elif route == "":
            nonce = secrets.token_urlsafe(18)
            page = self.server.template.replace("{{nonce}}", nonce).encode("utf-8")
            self._send(200, page, "text/html; charset=utf-8", PAGE_CSP.format(nonce=nonce))
        elif route == "state":
            self._json(200, state(self.server.batch))
        else:
            self._refuse(404, "not found")

    def do_POST(self) -> None:
        port = self.server.port
        origin = self.headers.get("Origin")
        length = self.headers.get("Content-Length", "")
        if not self._host_allowed():
            self._refuse(403, "wrong Host")
        elif self._route() != "mark":
            self._refuse(404, "not found")
        elif origin is not None and origin not in (f"http://{HOST}:{port}", f"http://localhost:{port}"):
            self._refuse(403, "cross-origin request")
        elif self.headers.get_content_type() != "application/json":
            self._refuse(415, "expected application/json")
        elif not length.isdigit():
            self._refuse(411, "Content-Length required")
        elif int(length) > MAX_BODY:
            self._refuse(413, "request too large")
        else:
            self._json(*self._mark(self.rfile.read(int(length))))

    def _mark(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Store one mark posted by the page: (HTTP status, reply)."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return 400, {"error": "not JSON"}
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("student"), str)
            or not isinstance(data.get("item"), str)
        ):
            return 400, {"error": "expected {student, item, points, comment}"}
        batch = self.server.batch
        try:
            mark = batch.set_mark(data["student"], data["item"], data.get("points"), data.get("comment", ""))
        except ManualError as exc:
            return 400, {"error": str(exc)}
        except OSError as exc:
            return 500, {"error": f"could not write the marks: {exc.strerror or exc}"}
        totals = batch.totals(data["student"])
        return 200, {"mark": mark.to_dict(), "total": totals.total, "max": totals.max}


def _can_open_browser() -> bool:
    """Whether `webbrowser` would open a window rather than a text browser in this terminal
    (on Linux without a display it falls back to lynx or w3m, which would take the terminal)."""
    if os.environ.get("BROWSER") or not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def serve(batch: GradedBatch, port: int = 0, open_browser: bool = True, echo: Callable[[str], None] = print) -> None:
    """Serve the review page until interrupted (KeyboardInterrupt reaches the caller, after
    the server has stopped and any save in progress is written)."""
    server = ReviewServer(batch, port)
    try:
        echo(f"Reviewing {len(batch.items)} free-text item(s) of {len(batch.students)} student(s) at")
        echo(f"  {server.url}")
        echo("(marks are saved as you go; Ctrl-C stops the server)")
        if open_browser:
            if _can_open_browser():
                webbrowser.open(server.url)
            else:
                echo("no display to open a browser on: open the address above")
        server.serve_forever()
    finally:
        server.close()
