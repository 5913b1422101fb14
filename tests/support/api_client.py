"""The HTTP API as the tests call it: a Litestar test client and one bearer token per user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Api:
    client: Any
    tokens: dict[str, str]

    @property
    def components(self) -> Any:
        return self.client.app.state.components

    def call(self, user: str | None, method: str, path: str, **kwargs: Any) -> Any:
        """A request as ``user`` (its bearer token), or without any token when ``user`` is None."""
        headers = {**({"Authorization": f"Bearer {self.tokens[user]}"} if user else {}), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)
