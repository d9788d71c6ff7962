"""The app in-process: httpx over ``ASGITransport``, its lifespan run around the client.

Starlette's TestClient does the same but now warns unless the ``httpx2`` fork is installed;
this is the part of it the tests need, driven from plain sync tests through an anyio portal.
"""

from contextlib import ExitStack
from functools import partial

import httpx
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI


class InProcessClient:
    """``with InProcessClient(app, headers=...) as c: c.post(...)``: the app starts (its
    lifespan loads the model) on enter and stops on exit, like a server would; with
    ``lifespan=False`` the test puts a model in place itself."""

    def __init__(
        self, app: FastAPI, headers: dict[str, str] | None = None, *, lifespan: bool = True
    ) -> None:
        self.app = app
        self._headers = headers or {}
        self._lifespan = lifespan
        self._stack = ExitStack()

    def __enter__(self) -> "InProcessClient":
        portal = self._stack.enter_context(start_blocking_portal())
        if self._lifespan:
            self._stack.enter_context(
                portal.wrap_async_context_manager(self.app.router.lifespan_context(self.app))
            )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://in-process",
            headers=self._headers,
        )
        self._stack.enter_context(portal.wrap_async_context_manager(client))
        self._portal, self._client = portal, client
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: object) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: object) -> httpx.Response:
        return self.request("POST", url, **kwargs)
