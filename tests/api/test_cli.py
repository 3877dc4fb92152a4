"""`python -m api rollup` and its argument checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from api.__main__ import main
from core.config import SiteConfig
from tests.conftest import InfluxTarget


def site_file(site: SiteConfig, tmp_path: Path) -> str:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site.model_dump(mode="json")), encoding="utf-8")
    return str(path)


@pytest.mark.integration
def test_rollup_on_an_empty_database_has_nothing_to_do(
    test_site: SiteConfig, influx_db: InfluxTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["rollup", "--site", site_file(test_site, tmp_path), "--influx-url", influx_db.url]
    main([*args, "--influx-db", influx_db.database])
    assert capsys.readouterr().out.strip() == "nothing to roll up"
    with pytest.raises(SystemExit, match="--from 2024-03-01T10:30: must be a whole local hour"):
        main([*args, "--influx-db", influx_db.database, "--from", "2024-03-01T10:30"])


def test_a_bad_site_file_is_reported_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text("site: {id: x}\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["rollup", "--site", str(bad)])
    assert exc.value.code == 2
    assert "invalid site file" in capsys.readouterr().err
