"""Route a gateway message to the parser of its format, chosen by topic."""

from __future__ import annotations

from collections.abc import Callable

from core import topics
from core.config import SiteConfig
from core.types import ParseResult, Rejection
from ingest.frames import parse_frames
from ingest.payload import parse_payload

#: A frame parser: (protocol, topic, payload, site, received_ms) -> ParseResult.
FrameParser = Callable[[str, str, bytes, SiteConfig, int], ParseResult]

#: Raw meter-frame protocols (topic `.../frames/{protocol}`) and their parsers.
FRAME_PARSERS: dict[str, FrameParser] = {"dlt645": parse_frames, "cjt188": parse_frames}


def parse_message(topic: str, payload: bytes, site: SiteConfig, received_ms: int) -> ParseResult:
    """Parse one gateway message: JSON readings, or raw meter frames of a known protocol."""
    protocol = topics.frame_protocol_of(topic)
    if protocol is None:
        return parse_payload(topic, payload, site, received_ms)
    parser = FRAME_PARSERS.get(protocol)
    if parser is None:
        reason = f"unsupported frame protocol {protocol[:32]!r}"
        return ParseResult((), (Rejection(topic, topics.gateway_of(topic), reason, payload, received_ms),))
    return parser(protocol, topic, payload, site, received_ms)
