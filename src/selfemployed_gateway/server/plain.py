"""Plain-text answers for what is no resource of ours: no server software's own error page.

Twisted's pages ("No Such Resource", "Your browser approached me…", "501 - Huh?") tell a
scanner which stack runs here as surely as a `Server` header (issue #13). Every node of both
listeners' trees is a `PlainNode`: an unknown path is a plain 404, a method the leaf does not
serve a plain 405.
"""

from __future__ import annotations

from typing import Any

from twisted.web import resource, server

NOT_FOUND = b"No such resource.\n"


def plain(request: server.Request, status: int, text: bytes) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
    return text


class NotFound(resource.Resource):
    isLeaf = True

    def render(self, request: server.Request) -> bytes:
        return plain(request, 404, NOT_FOUND)


class PlainNode(resource.Resource):
    """A node of a resource tree: its children, else a plain 404 (itself included)."""

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        return NotFound()

    def render(self, request: server.Request) -> bytes:
        return plain(request, 404, NOT_FOUND)


class GetOnly(resource.Resource):
    """A leaf that serves GET (and HEAD, as GET without a body): anything else, a plain 405."""

    isLeaf = True

    def render(self, request: server.Request) -> Any:
        if any(request.postpath or ()):  # /healthz/deeper is nothing of ours
            return plain(request, 404, NOT_FOUND)
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"Allow", b"GET, HEAD")
            return plain(request, 405, b"Only GET here.\n")
        return super().render(request)
