"""A campaign whose rules require a recording notice refuses, before its first dial, a script
that would record without one (duncall/compose/campaign.py runs this check)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dialer.store.testing import temporary_database
from duncall.scripts_runtime import check_recording_notices
from foundation import paths
from foundation.errors import ConfigError

pytestmark = pytest.mark.unit

STEMS = [("early_collection", "en"), ("early_collection", "zh"), ("no_such_script", "en")]


def test_a_script_without_the_notice_stops_the_run_before_it_dials(tmp_path: Path) -> None:
    published = tmp_path / "scripts"
    published.mkdir()
    for name in ("early_collection.en.yaml", "early_collection.zh.yaml"):
        shutil.copy(paths.scripts_dir() / name, published / name)
    with temporary_database("sqlite", tmp_path) as engine:
        # The shipped scripts pass; a script no file has is left to the call that needs it.
        assert check_recording_notices(engine, "c1", STEMS, published) == 2
        zh = published / "early_collection.zh.yaml"
        zh.write_text(
            "".join(
                line
                for line in zh.read_text(encoding="utf-8").splitlines(keepends=True)
                if not line.startswith("recording_notice:")
            ),
            encoding="utf-8",
        )
        with pytest.raises(ConfigError, match=r"early_collection\.zh@v0:5: no recording_notice") as err:
            check_recording_notices(engine, "c1", STEMS, published)
        assert "\n" not in err.value.what
