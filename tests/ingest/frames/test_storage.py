"""Line protocol of frame readings (flags, tariffs) and instantaneous values; the Ingestor stores both."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from core.types import InboundMessage, InstantReading, Item, Kind, Reading
from ingest.deadletter import DeadLetterStore
from ingest.frames import dlt645
from ingest.influx import InfluxClient, InfluxSettings
from ingest.lineprotocol import UnencodableValue, format_string, instant_to_line_protocol, to_line_protocol
from ingest.pipeline import Ingestor
from ingest.spool import Spool
from tests.ingest.frames.site import frames_site
from tests.ingest.test_pipeline import FakeInflux

TS = 1_764_000_000_000


def reading(**more: object) -> Reading:
    return Reading("xd", "B01", "W1", Kind.WATER, Item.WATER, TS, 12.5, 12.5, "m3", "gw-1", **more)  # type: ignore[arg-type]


def test_flags_are_a_string_field_when_the_meter_reports_a_status() -> None:
    head = "meter_register,building=B01,item=02,kind=water,meter=W1,site=xd value=12.5,raw=12.5"
    assert to_line_protocol(reading()) == f"{head} {TS}"
    assert to_line_protocol(reading(flags=())) == f'{head},flags="" {TS}'
    flags = ("battery_low", "valve_closed")
    assert to_line_protocol(reading(flags=flags)) == f'{head},flags="battery_low,valve_closed" {TS}'


def test_tariffs_are_float_fields() -> None:
    line = to_line_protocol(reading(tariffs=(1.0, 2.5), seq=3))
    assert line.endswith(" value=12.5,raw=12.5,seq=3i,tariff1=1.0,tariff2=2.5 1764000000000")


def test_string_fields_are_quoted_and_refuse_control_characters() -> None:
    assert format_string('a "b" \\c') == '"a \\"b\\" \\\\c"'
    with pytest.raises(UnencodableValue):
        format_string("a\nb")


def test_instant_line() -> None:
    instant = InstantReading(
        "xd", "P01", "P01-E-EV2", Kind.ELECTRICITY, Item.SPECIAL, TS, "active_power", 246.912, 12.3456, "kW", "gw-dtu"
    )
    assert instant_to_line_protocol(instant) == (
        "meter_instant,building=P01,item=01D,kind=electricity,meter=P01-E-EV2,quantity=active_power,site=xd"
        " value=246.912,raw=12.3456 1764000000000"
    )


def test_ingestor_stores_registers_and_instants_and_dead_letters_bad_frames(tmp_path: Path) -> None:
    fake = FakeInflux()
    client = InfluxClient(InfluxSettings(url="http://influx.test"), transport=httpx.MockTransport(fake.handler))
    dead = DeadLetterStore(tmp_path / "dead.db")
    ingestor = Ingestor(frames_site("t1"), client, Spool(tmp_path / "spool.db"), dead, rng=random.Random(1))
    topic = "vigil/t1/gateways/gw-645/frames/dlt645"
    now = 1_795_565_730_000
    energy = dlt645.encode_reply("202300001001", dlt645.FORWARD_ACTIVE_TOTAL, (100,))
    power = dlt645.encode_reply("202300001001", dlt645.ACTIVE_POWER_TOTAL, (5,))
    messages = [
        InboundMessage(topic, energy.hex().encode(), now),
        InboundMessage(topic, power, now),
        InboundMessage(topic, energy[:-2] + b"\x00\x16", now),
    ]
    outcome = ingestor.store(messages)
    assert (outcome.written, outcome.rejected) == (2, 1)
    assert fake.lines == [
        "meter_register,building=P1,item=01D,kind=electricity,meter=EV1,site=t1 value=20.0,raw=1.0 1795565700000",
        "meter_instant,building=P1,item=01D,kind=electricity,meter=EV1,quantity=active_power,site=t1"
        " value=0.01,raw=0.0005 1795565700000",
    ]
    (letter,) = dead.list()
    assert letter.reason.startswith("DL/T 645 checksum 0x00 does not match")
    ingestor.close()
