"""What every resource shares: a reference to its client's transport."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._http import HTTPTransport
    from ..client import DeepInfraClient


class Resource:
    """A group of API calls bound to one client."""

    __slots__ = ("_client",)

    def __init__(self, client: DeepInfraClient) -> None:
        self._client = client

    @property
    def _transport(self) -> HTTPTransport:
        return self._client._transport
