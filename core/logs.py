"""Logging of every Vigil service: one setup call; text showing the service name, or one JSON object a line.

Device-related log calls pass the device as fields, e.g.
`logger.info("rejected from gateway %s ...", gw, extra={"gateway": gw, "topic": topic})`: the message keeps
the id for people reading text, and the JSON format carries it as a field a log store can filter on.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import TextIO

#: The `extra=` fields the JSON format carries when a log call passes them.
FIELDS = ("gateway", "meter", "camera", "topic")
FORMATS = ("text", "json")
#: Environment variable giving the default of --log-format (a deployment sets it once for every service).
FORMAT_ENV = "VIGIL_LOG_FORMAT"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp, level, service, logger, message, and any device fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        doc: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                doc[name] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        # ensure_ascii=False keeps Chinese names readable; json escapes newlines, so a record stays one line.
        return json.dumps(doc, ensure_ascii=False, default=str)


class _VigilHandler(logging.StreamHandler[TextIO]):
    """The handler setup_logging installs (so a second call can find and replace it)."""


def text_formatter(service: str) -> logging.Formatter:
    """Return the human format: time, level, service, logger and message."""
    return logging.Formatter(f"%(asctime)s %(levelname)s {service.replace('%', '%%')} %(name)s: %(message)s")


def add_log_args(parser: argparse.ArgumentParser) -> None:
    """Add --log-format (text or json; default from VIGIL_LOG_FORMAT, else text)."""
    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        default=os.environ.get(FORMAT_ENV, "text"),
        help=f"text for people, json for a log store: one object per line (default ${FORMAT_ENV} or text)",
    )


def setup_logging(
    service: str, log_format: str = "text", level: int | str = logging.INFO, stream: TextIO | None = None
) -> None:
    """Send every record to stderr (or `stream`) in `log_format`, labelled with `service`.

    Calling it again replaces the handler it installed before; handlers installed by others (a test
    runner's capture, say) are left alone.
    """
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    if not service:
        raise ValueError("service name must not be empty")
    handler = _VigilHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service) if log_format == "json" else text_formatter(service))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _VigilHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # httpx logs every request at INFO: one line per InfluxDB write under load. Only debugging wants that.
    if root.getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)
