"""docs/configuration.md lists every setting, as the settings classes define them today: a
setting added, renamed or re-described without `torchquiz settings --write` fails here."""

from __future__ import annotations

import re

from app.configuration import DOC, SECTIONS, settings_table


def test_the_settings_table_in_the_docs_is_up_to_date() -> None:
    assert DOC.read_text() == settings_table(), (
        "docs/configuration.md is out of date: run `torchquiz settings --write`"
    )


def test_every_variable_of_every_settings_class_is_in_the_table_with_a_meaning() -> None:
    table = settings_table()
    for _, cls in SECTIONS:
        prefix = cls.model_config.get("env_prefix", "")
        for name in cls.model_fields:
            assert f"`{prefix}{name.upper()}`" in table, name
    for row in re.findall(r"^\| `TORCHQUIZ_.*$", table, flags=re.MULTILINE):
        variables, default, meaning = row.strip("|").split(" | ")
        assert meaning.strip(), f"no meaning for {variables}"
        assert "/work/" not in default and "/home/" not in default, "a path of this machine"


def test_a_comment_above_several_adjacent_fields_covers_them_all() -> None:
    table = settings_table()
    host = next(line for line in table.splitlines() if "`TORCHQUIZ_HOST`" in line)
    assert "`TORCHQUIZ_PORT`" in host and "Where `torchquiz serve` listens" in host
