"""The log formats: text showing the service, JSON lines with the device fields passed via `extra=`."""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from core.logs import FORMAT_ENV, JsonFormatter, add_log_args, setup_logging, text_formatter


def record(msg: str = "hello %s", args: tuple[object, ...] = ("world",), **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("ingest.pipeline", logging.WARNING, __file__, 42, msg, args, None)
    rec.created = 1_764_000_000.123456  # 2025-11-24T16:00:00.123Z
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_has_the_fixed_fields_exactly() -> None:
    doc = json.loads(JsonFormatter("collector").format(record()))
    assert doc == {
        "timestamp": "2025-11-24T16:00:00.123+00:00",
        "level": "WARNING",
        "service": "collector",
        "logger": "ingest.pipeline",
        "message": "hello world",
    }


def test_json_carries_the_device_fields_passed_as_extra_and_nothing_else() -> None:
    rec = record(gateway="gw-a", meter="B1-E", camera=None, topic="vigil/s/gateways/gw-a/readings", secret="x")
    doc = json.loads(JsonFormatter("collector").format(rec))
    assert doc["gateway"] == "gw-a" and doc["meter"] == "B1-E"
    assert doc["topic"] == "vigil/s/gateways/gw-a/readings"
    assert "camera" not in doc  # None is left out
    assert "secret" not in doc  # only the known fields
    assert doc["message"] == "hello world"


def test_json_is_one_line_with_unicode_and_exceptions() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        rec = logging.LogRecord("video", logging.ERROR, __file__, 1, "摄像头 %s\n失败", ("cam-s1",), sys.exc_info())
    rec.camera = "cam-s1"
    line = JsonFormatter("video").format(rec)
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["message"] == "摄像头 cam-s1\n失败" and doc["camera"] == "cam-s1"
    assert "摄像头" in line  # not \u-escaped
    assert doc["exception"].startswith("Traceback") and "ValueError: bad" in doc["exception"]


def test_json_stringifies_odd_field_values() -> None:
    doc = json.loads(JsonFormatter("alerts").format(record(gateway=("gw", 1), meter=7)))
    assert doc["gateway"] == "('gw', 1)" and doc["meter"] == 7


def test_text_shows_the_service_name() -> None:
    line = text_formatter("camera-simulator").format(record())
    assert line.endswith(" WARNING camera-simulator ingest.pipeline: hello world")


def test_text_survives_a_percent_in_the_service_name() -> None:
    assert " 100% ingest.pipeline: hello world" in text_formatter("100%").format(record())


@pytest.fixture
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in saved:
                root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.usefixtures("root_handlers")
def test_setup_logging_writes_json_lines_and_a_second_call_replaces_its_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("collector", "json", stream=first)
    setup_logging("collector", "json", "debug", stream=second)
    logging.getLogger("collectors.meters").debug("x %d", 1, extra={"gateway": "gw-b"})
    assert first.getvalue() == ""
    doc = json.loads(second.getvalue())
    assert (doc["service"], doc["level"], doc["message"], doc["gateway"]) == ("collector", "DEBUG", "x 1", "gw-b")


@pytest.mark.usefixtures("root_handlers")
def test_setup_logging_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="log format"):
        setup_logging("collector", "xml")
    with pytest.raises(ValueError, match="service"):
        setup_logging("", "text")


def test_log_format_option_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    monkeypatch.setenv(FORMAT_ENV, "json")
    add_log_args(parser)
    assert parser.parse_args([]).log_format == "json"
    assert parser.parse_args(["--log-format", "text"]).log_format == "text"
    monkeypatch.delenv(FORMAT_ENV)
    fresh = argparse.ArgumentParser()
    add_log_args(fresh)
    assert fresh.parse_args([]).log_format == "text"
    with pytest.raises(SystemExit):
        fresh.parse_args(["--log-format", "yaml"])


@pytest.mark.usefixtures("root_handlers")
def test_httpx_request_lines_are_kept_out_unless_debugging() -> None:
    httpx_logger = logging.getLogger("httpx")
    saved = httpx_logger.level
    try:
        setup_logging("collector", stream=io.StringIO())
        assert httpx_logger.getEffectiveLevel() == logging.WARNING
    finally:
        httpx_logger.setLevel(saved)
