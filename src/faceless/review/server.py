"""The studio's HTTP side: a Starlette app over one ReviewSession, guarded, and its server.

Bound to 127.0.0.1 only: the footage is unredacted, so it must not be reachable from the
network. Every request needs the run's random token (in the printed URL, then a cookie), a
Host naming this server (no DNS rebinding) and, for writes, an Origin of this server (no
cross-site requests). Only the page's own files and the case's frames are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faceless.core.errors import FacelessError, OutputExistsError
from faceless.review.frames import JpegCache, jpeg
from faceless.review.session import ReviewSession

STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
SAFE_METHODS = frozenset({"GET", "HEAD"})
SECURITY_HEADERS = {
    # Nothing from anywhere else: no CDN, no network, no framing by another page.
    "content-security-policy": "default-src 'self'; img-src 'self'; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class Guard:
    """ASGI middleware: token, Host and Origin checked on every request before any route."""

    def __init__(self, app: ASGIApp, token: str, hosts: Iterable[str]) -> None:
        self.app = app
        self.token = token
        self.hosts = frozenset(hosts)
        self.origins = frozenset(f"http://{h}" for h in self.hosts)
        self.cookie = "faceless_review_" + hashlib.sha256(token.encode()).hexdigest()[:12]

    def _token_ok(self, value: str | None) -> bool:
        return value is not None and secrets.compare_digest(value.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request = Request(scope)
        why = self._refuse(headers, scope["method"])
        if why is None and not self._token_ok(request.cookies.get(self.cookie)):
            query = request.query_params.get("token")
            if self._token_ok(query) and scope["method"] in SAFE_METHODS:
                # First load: swap the token in the URL for a cookie and drop it from the bar.
                resp: Response = RedirectResponse(request.url.remove_query_params("token")
                                                  .path or "/", status_code=303)
                resp.set_cookie(self.cookie, self.token, httponly=True, samesite="strict")
                await _secured(resp)(scope, receive, send)
                return
            why = "this studio needs the link its command printed (with its token)"
        if why is not None:
            await _secured(PlainTextResponse(f"forbidden: {why}\n", 403))(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    if k not in h:
                        h[k] = v
            await send(message)

        await self.app(scope, receive, send_secured)

    def _refuse(self, headers: Headers, method: str) -> str | None:
        if headers.get("host", "") not in self.hosts:
            return "unexpected Host header"
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins:
            return "request from another site"
        if method not in SAFE_METHODS and origin is None:
            return "a change needs an Origin header of this studio"
        return None


def _secured(resp: Response) -> Response:
    for k, v in SECURITY_HEADERS.items():
        resp.headers.setdefault(k, v)
    return resp


def _error(err: Exception) -> JSONResponse:
    status = 409 if isinstance(err, OutputExistsError) else 400
    return JSONResponse({"error": str(err)}, status)


def create_app(sessions: ReviewSession | Sequence[ReviewSession], token: str,
               hosts: Iterable[str]) -> ASGIApp:
    """The studio app for one case or a folder's cases (`?item=N` picks one; 0 by default),
    answering only requests for `hosts` with `token`."""
    items = [sessions] if isinstance(sessions, ReviewSession) else list(sessions)
    if not items:
        raise ValueError("a studio needs at least one case")
    jpegs = JpegCache()
    # Thumbnails apart from frames, so a long track list does not push the frames out.
    thumbs = JpegCache(size=1024)

    async def cached(cache: JpegCache, key: tuple[object, ...], make: Callable[..., bytes],
                     *args: object) -> Response:
        """A JPEG from `cache`, made by `make(*args)` in a worker thread the first time."""
        data = cache.get(key)
        if data is None:
            try:
                data = await run_in_threadpool(make, *args)
            except FacelessError as err:
                return _error(err)
            cache.put(key, data)
        return Response(data, media_type="image/jpeg")

    def pick(request: Request) -> ReviewSession:
        try:
            n = int(request.query_params.get("item", "0"))
        except ValueError:
            n = -1
        if not 0 <= n < len(items):
            raise LookupError(f"no item {request.query_params.get('item')!r} in this studio")
        return items[n]

    def static_file(name: str) -> bytes:
        return (resources.files("faceless.review") / "static" / name).read_bytes()

    async def index(request: Request) -> Response:
        return Response(static_file("index.html"), media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:  # a fixed list: no path from the request reaches the disk
            return PlainTextResponse("not found\n", 404)
        return Response(static_file(name), media_type=STATIC[name])

    async def summary(request: Request) -> Response:
        session = pick(request)
        data = await run_in_threadpool(session.summary)
        data["items"] = len(items)
        return JSONResponse(data)

    async def warnings(request: Request) -> Response:
        try:
            return JSONResponse(await run_in_threadpool(pick(request).warnings))
        except FacelessError as err:  # a malformed region, found as the plan is built
            return _error(err)

    async def suspects(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(pick(request).suspect_list))

    async def suspect(request: Request) -> Response:
        payload = await body(request)
        session = pick(request)
        try:
            entry = await run_in_threadpool(session.suspect_edit, request.path_params["id"],
                                            request.path_params["action"],
                                            str(payload.get("reason", "")))
        except KeyError as err:
            return JSONResponse({"error": str(err.args[0])}, 404)
        except (FacelessError, TypeError, ValueError) as err:
            return _error(err)
        return JSONResponse({"edit": entry, "version": session.version})

    async def listing(request: Request) -> Response:
        return JSONResponse([await run_in_threadpool(s.item) for s in items])

    async def thumb(request: Request) -> Response:
        session = pick(request)
        return await cached(jpegs, ("thumb", items.index(session), session.version),
                            session.thumbnail)

    async def track_thumb(request: Request) -> Response:
        # Kept in memory only: these show faces, and must not land in any file (the page
        # gets them with no-store, so the browser keeps no copy on disk either).
        session = pick(request)
        track = request.path_params["track"]
        try:
            where = await run_in_threadpool(session.thumb_region, track)
        except KeyError:
            return JSONResponse({"error": f"no track {track} in the plan"}, 404)
        except FacelessError as err:
            return _error(err)
        return await cached(thumbs, (items.index(session), where), session.track_thumbnail,
                            *where)

    async def regions(request: Request) -> Response:
        session = pick(request)
        index = request.path_params["index"]
        try:
            with session.lock:
                found = session.frame_plan_regions(index)
        except KeyError:
            return JSONResponse({"error": f"no frame {index} in the plan"}, 404)
        except FacelessError as err:
            return _error(err)
        return JSONResponse([{"kind": str(r.kind), "box": [round(v, 2) for v in r.box],
                              "score": round(r.score, 4), "origin": str(r.origin),
                              "decision": str(r.decision), "track": r.track_id,
                              "reason": r.reason} for r in found])

    pending: dict[tuple[object, ...], asyncio.Future[bytes]] = {}

    async def picture(session: ReviewSession, index: int, view: str) -> bytes:
        """The frame's JPEG, from the cache, or made once however many ask for it at once."""
        # A preview depends on the edits so far; the source never changes.
        key = (items.index(session), index, view, session.version if view == "preview" else 0)
        data = jpegs.get(key)
        if data is not None:
            return data
        if key in pending:
            return await asyncio.shield(pending[key])
        made: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        pending[key] = made
        try:
            image = await run_in_threadpool(session.image, index, view)
            data = await run_in_threadpool(jpeg, image)
            jpegs.put(key, data)
            made.set_result(data)
            return data
        except BaseException as err:
            made.set_exception(err)
            made.exception()  # retrieved: a prefetch nobody waited for is no error
            raise
        finally:
            del pending[key]

    async def prefetch(session: ReviewSession, index: int, view: str) -> None:
        # The next frame, made while the page shows this one: a step forward is then ready.
        with contextlib.suppress(Exception):
            await picture(session, index, view)

    async def frame(request: Request) -> Response:
        session = pick(request)
        index = request.path_params["index"]
        view = request.query_params.get("view", "source")
        if view not in ("source", "preview"):
            return JSONResponse({"error": "view is source or preview"}, 400)
        try:
            data = await picture(session, index, view)
        except KeyError:
            return JSONResponse({"error": f"no frame {index} in the plan"}, 404)
        except FacelessError as err:
            return _error(err)
        ahead = index + 1 if session.has_frame(index + 1) else None
        return Response(data, media_type="image/jpeg", background=None if ahead is None
                        else BackgroundTask(prefetch, session, ahead, view))

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            data = None
        return data if isinstance(data, dict) else {}

    async def edit(request: Request) -> Response:
        track = request.path_params.get("track")
        action = request.path_params.get("action", "add")
        payload = await body(request)
        session = pick(request)
        if "n" in request.path_params:  # one region of one frame, tracked or not
            payload.update(frame=request.path_params["index"], region=request.path_params["n"])
            action = f"{action}-region"
        try:
            entry = await run_in_threadpool(session.edit, action, track, payload)
        except (FacelessError, KeyError, TypeError, ValueError) as err:
            return _error(err)
        return JSONResponse({"edit": entry, "version": session.version})

    async def save(request: Request) -> Response:
        session = pick(request)
        try:
            return JSONResponse(await run_in_threadpool(session.save))
        except FacelessError as err:
            return _error(err)

    async def audio(request: Request) -> Response:
        payload = await body(request)
        session = pick(request)
        if "id" in request.path_params:
            payload, action = {"id": request.path_params["id"]}, "unmute"
        else:
            action = str(payload.get("action", "mute"))
            if action not in ("mute", "bleep"):
                return JSONResponse({"error": "action is mute or bleep"}, 400)
        try:
            entry = await run_in_threadpool(session.edit, action, None, payload)
        except (FacelessError, KeyError, TypeError, ValueError) as err:
            return _error(err)
        return JSONResponse({"edit": entry, "version": session.version})

    async def render(request: Request) -> Response:
        payload = await body(request)
        overwrite = bool(payload.get("overwrite", False))
        keep = payload.get("keep_audio")
        session = pick(request)
        try:
            result = await run_in_threadpool(session.render, overwrite,
                                             None if keep is None else bool(keep))
        except FacelessError as err:
            return _error(err)
        return JSONResponse({"output": result.dst.name, "frames": result.frames,
                             "regions": result.regions})

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/plan", summary),
        Route("/api/items", listing),
        Route("/api/thumb.jpg", thumb),
        Route("/api/frames/{index:int}/regions/{n:int}/{action}", edit, methods=["POST"]),
        Route("/api/warnings", warnings),
        Route("/api/suspects", suspects),
        Route("/api/suspects/{id:int}/{action}", suspect, methods=["POST"]),
        Route("/api/frames/{index:int}/regions", regions),
        Route("/api/frames/{index:int}.jpg", frame),
        Route("/api/tracks", edit, methods=["POST"]),
        Route("/api/tracks/{track:int}/thumb.jpg", track_thumb),
        Route("/api/tracks/{track:int}/{action}", edit, methods=["POST"]),
        Route("/api/audio", audio, methods=["POST"]),
        Route("/api/candidates/{action}", edit, methods=["POST"]),
        Route("/api/audio/{id:int}/delete", audio, methods=["POST"]),
        Route("/api/save", save, methods=["POST"]),
        Route("/api/render", render, methods=["POST"]),
    ]
    async def unknown_item(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, 404)

    return Guard(Starlette(routes=routes, exception_handlers={LookupError: unknown_item}),
                 token, hosts)


def bind(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 (port 0: a free one), bound before the URL is printed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


class Studio:
    """The uvicorn server of one session, on its own socket, with its own token."""

    def __init__(self, session: ReviewSession | Sequence[ReviewSession], port: int = 0) -> None:
        self.session = session
        self.sock = bind(port)
        self.port = int(self.sock.getsockname()[1])
        self.token = secrets.token_urlsafe(24)
        hosts = [f"127.0.0.1:{self.port}", f"localhost:{self.port}"]
        config = uvicorn.Config(create_app(session, self.token, hosts), log_level="warning",
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        one = [session] if isinstance(session, ReviewSession) else list(session)
        if len(one) == 1:
            one[0].warm()  # its first frame, decoded while the browser starts

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def run(self) -> None:
        """Serve until interrupted (Ctrl+C)."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def start(self) -> None:
        """Serve from a background thread (tests, scripts); returns once it answers."""
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the review server stopped while starting")
            threading.Event().wait(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


__all__ = ["Guard", "Studio", "bind", "create_app"]
