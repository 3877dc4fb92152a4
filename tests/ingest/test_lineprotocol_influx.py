"""Line protocol against the real InfluxDB: hostile tag values neither create nor alter series."""

from __future__ import annotations

import pytest

from core.types import Item, Kind, Reading
from ingest.influx import InfluxClient, InfluxSettings
from ingest.lineprotocol import UnencodableValue, to_line_protocol

pytestmark = pytest.mark.integration

HOSTILE = ["a,b", "a b", "a=b", 'q"uote', "x,site=evil", "m value=1 1", "'single'", "ünï 中文", "end="]


def reading(meter: str, ts: int) -> Reading:
    return Reading(
        site="s",
        building="B1",
        meter=meter,
        kind=Kind.ELECTRICITY,
        item=Item.POWER,
        ts_ms=ts,
        value=1.5,
        raw=1.5,
        unit="kWh",
        gateway="g",
    )


def test_hostile_tag_values_round_trip_exactly(influx_db) -> None:
    with InfluxClient(InfluxSettings(url=influx_db.url, database=influx_db.database)) as client:
        lines = [to_line_protocol(reading(m, 1_700_000_000_000 + i)) for i, m in enumerate(HOSTILE)]
        client.write_lines(lines)
        values = client.query('SHOW TAG VALUES FROM "meter_register" WITH KEY = "meter"')[0]["values"]
        assert sorted(v[1] for v in values) == sorted(HOSTILE)
        sites = client.query('SHOW TAG VALUES FROM "meter_register" WITH KEY = "site"')[0]["values"]
        assert [v[1] for v in sites] == ["s"]
        assert [v[0] for v in client.query("SHOW MEASUREMENTS")[0]["values"]] == ["meter_register"]
        count = client.query('SELECT count("value") FROM "meter_register"')[0]["values"][0][1]
        assert count == len(HOSTILE)


@pytest.mark.parametrize("meter", ["a\nweather,city=x temp=1 1", "trail\\", "cr\rlf"])
def test_injection_attempts_are_refused_before_the_database(meter: str) -> None:
    with pytest.raises(UnencodableValue):
        to_line_protocol(reading(meter, 1))
