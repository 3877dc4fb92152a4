"""Raw meter frames from transparent gateways: DL/T 645-2007 and CJ/T 188-2004 codecs and their parser."""

from ingest.frames.common import FrameError
from ingest.frames.parse import parse_frames

__all__ = ["FrameError", "parse_frames"]
