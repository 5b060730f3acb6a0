"""Refuse request bodies over a size limit while they stream in, with or without a Content-Length.

Starlette spools a multipart upload to disk before any endpoint runs, so a check in the endpoint would
come after a chunked multi-GB upload had already filled the disk. This ASGI wrapper reads at most
`limit` bytes, answers 413 past that, and replays the buffered body to the app otherwise.
"""

from __future__ import annotations

from starlette.responses import JSONResponse


class BodySizeLimit:
    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def _reject(self, scope, receive, send) -> None:
        body = {"detail": f"upload larger than {self.limit} bytes", "reason": "too_large"}  # schemas.Error
        await JSONResponse(body, status_code=413)(scope, receive, send)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            return await self._reject(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await self._reject(scope, receive, send)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        return await self.app(scope, replay, send)
