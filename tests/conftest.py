import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


import zlib  # noqa: E402

import pytest  # noqa: E402


def deflaters() -> list:
    """zlib, and ISA-L's deflater when it is installed (the ``fast`` extra, part of the test install)."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover
        return [zlib]
    return [zlib, isal_zlib]


@pytest.fixture(params=deflaters(), ids=lambda c: c.__name__.split(".")[-1])
def codec(request, monkeypatch):
    """Each deflater (and CRC-32) the library may use (:data:`closebatch.io.deflate.CODEC`)."""
    from closebatch.io import deflate

    monkeypatch.setattr(deflate, "CODEC", request.param)
    return request.param
