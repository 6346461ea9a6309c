"""The generated protocol pages are current and say what the tables and the catalogue say."""

from __future__ import annotations

import pytest

from conformance.protocol import TABLES, catalogue, docs


@pytest.mark.parametrize("name", docs.pages())
def test_the_page_in_the_repository_is_up_to_date(name: str) -> None:
    path = docs.DOCS_DIR / f"{name}.md"
    assert path.exists(), f"run python -m conformance.protocol.docs --write ({path} is missing)"
    assert path.read_text(encoding="utf-8") == docs.render(name), (
        "run python -m conformance.protocol.docs --write"
    )


@pytest.mark.parametrize("name", list(TABLES))
def test_a_page_shows_states_messages_limits_and_requirements(name: str) -> None:
    page = docs.render(name)
    table = TABLES[name]
    for state in table.states:
        assert f"`{state.name}`" in page
    for message in table.messages:
        assert message in page
    for entry in catalogue.for_protocol(name):
        assert f"`{entry.id}`" in page


def test_spec_values_are_shown_beside_the_node_values() -> None:
    assert "3 373 s (spec: 3 673 s)" in docs.render("chain-sync")
    assert "65 535 bytes (spec: 5 760 bytes)" in docs.render("tx-submission2")
    assert "23 068 694 (spec: 230 686 940)" in docs.render("mux")


def test_unknown_page_and_check_mode(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="no page"):
        docs.render("chain-sink")
    assert docs.stale() == []
    assert docs.main(["--check"]) == 0
