"""server.channel: bodies kept in memory (issue #15, a read-only root has no /tmp)."""

from __future__ import annotations

from io import BytesIO

import pytest
from twisted.web import resource

from selfemployed_gateway.server.channel import InMemoryBodySite


@pytest.mark.parametrize("length", [None, 0, 99_999, 100_000, 64 * 1024 * 1024])
def test_every_body_goes_to_memory_never_to_a_temporary_file(length: int | None) -> None:
    """Twisted's own choice is a TemporaryFile for chunked bodies and from 100 kB."""
    site = InMemoryBodySite(resource.Resource())
    assert type(site.getContentFile(length)) is BytesIO
