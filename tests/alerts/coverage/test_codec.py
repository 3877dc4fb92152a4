"""The coverage report's JSON, and reading camera health messages."""

from __future__ import annotations

import pytest

from alerts.coverage.codec import coverage_from_json, coverage_to_json, parse_health_state
from core.types import CameraState, CoverageReport, Stretch

REPORT = CoverageReport(
    computed_ms=1_700_000_000_000,
    perimeter_length_m=300.0,
    healthy=("a", "c"),
    unhealthy=("b",),
    blind=(Stretch(110.0, 220.5, (110.0, 0.0), (220.5, -1.25), ("gate", "fence"), ("b",)),),
    single=(Stretch(0.0, 110.0, (0.0, 0.0), (110.0, 0.0), ("fence",), ("a",)),),
)

EXPECTED = (
    b'{"computed_ms":1700000000000,"perimeter_length_m":300.0,"healthy":["a","c"],"unhealthy":["b"],'
    b'"blind":[{"start_m":110.0,"end_m":220.5,"length_m":110.5,"start_xy":[110.0,0.0],"end_xy":[220.5,-1.25],'
    b'"zones":["gate","fence"],"cameras":["b"]}],'
    b'"single":[{"start_m":0.0,"end_m":110.0,"length_m":110.0,"start_xy":[0.0,0.0],"end_xy":[110.0,0.0],'
    b'"zones":["fence"],"cameras":["a"]}]}'
)


def test_coverage_to_json_exact() -> None:
    assert coverage_to_json(REPORT) == EXPECTED


def test_round_trip() -> None:
    assert coverage_from_json(EXPECTED) == REPORT
    assert coverage_from_json(coverage_to_json(REPORT)) == REPORT
    empty = CoverageReport(0, 10.0, (), (), (), ())
    assert coverage_from_json(coverage_to_json(empty)) == empty


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"computed_ms":"1"}', "computed_ms"),
        (EXPECTED.replace(b'"healthy":["a","c"]', b'"healthy":"a"'), "healthy"),
        (EXPECTED.replace(b'"end_xy":[220.5,-1.25]', b'"end_xy":[220.5]'), r"blind\.0\.end_xy"),
        (EXPECTED.replace(b'"start_m":0.0', b'"start_m":null'), r"single\.0\.start_m"),
        (EXPECTED.replace(b'"single":[', b'"single":[1,'), r"single\.0"),
    ],
)
def test_bad_coverage_json_is_refused_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        coverage_from_json(payload)


TOPIC = "vigil/s1/cameras/cam-1/health"


def test_health_state_of_an_analyzer_message() -> None:
    payload = b'{"camera":"cam-1","state":"occluded","since":1700000000000,"features":{"edge":0.1}}'
    assert parse_health_state("s1", TOPIC, payload) == ("cam-1", CameraState.OCCLUDED)
    assert parse_health_state("s1", TOPIC, b'{"state":"ok"}') == ("cam-1", CameraState.OK)


def test_cleared_retained_health_means_unknown() -> None:
    assert parse_health_state("s1", TOPIC, b"") == ("cam-1", None)


@pytest.mark.parametrize(
    ("site", "topic", "payload", "reason"),
    [
        ("s2", TOPIC, b'{"state":"ok"}', "not a camera health topic"),
        ("s1", "vigil/s1/cameras/cam-1/status", b'{"state":"ok"}', "not a camera health topic"),
        ("s1", "vigil/s1/cameras//health", b'{"state":"ok"}', "not a camera health topic"),
        ("s1", TOPIC, b"\xff\xfe", "not JSON"),
        ("s1", TOPIC, b'"ok"', "not a JSON object"),
        ("s1", TOPIC, b'{"camera":"cam-2","state":"ok"}', "names camera"),
        ("s1", TOPIC, b'{"camera":"cam-1"}', "state"),
        ("s1", TOPIC, b'{"state":"fine"}', "unknown 'fine'"),
    ],
)
def test_bad_health_is_refused_with_a_reason(site: str, topic: str, payload: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_health_state(site, topic, payload)
