"""The command line: dry runs, the truth file, and refusal of bad arguments."""

from __future__ import annotations

import orjson
import pytest

from simulators.meters.__main__ import main
from tests.simulators.conftest import ROOT

SITE = str(ROOT / "sites" / "demo.yaml")


def test_dry_run_prints_one_line_and_writes_truth(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    truth = tmp_path / "truth.jsonl"
    code = main(["--site", SITE, "--dry-run", "--days", "1", "--faults", "all", "--truth", str(truth)])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(out) == 1 and out[0].startswith("xdgov dry run:")
    lines = truth.read_bytes().splitlines()
    assert len(lines) > 40 * 96
    assert set(orjson.loads(lines[0])) == {"meter", "ts_ms", "raw", "unit", "value", "seq"}


@pytest.mark.parametrize(
    "argv",
    [
        ["--faults", "earthquake", "--dry-run"],
        ["--mode", "realtime", "--dry-run"],  # endless
        [],  # no secrets
    ],
)
def test_bad_arguments_exit_1(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(["--site", SITE, "--days", "1", *argv]) == 1
    assert capsys.readouterr().err.startswith("error:")
