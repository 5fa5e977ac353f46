import pytest

from pixelpad.eval.games.supertux import FinishedWithKill, PanelShown, SecretFound


@pytest.mark.parametrize(("fixture", "shown"), [("supertux_panel_yes", True), ("supertux_panel_no", False)])
def test_end_of_level_panel(frame, fixture, shown):
    assert PanelShown()(frame(fixture), {}) is shown


@pytest.mark.parametrize(("fixture", "found"), [("supertux_secret_yes", True), ("supertux_secret_no", False)])
def test_secret_area_message(frame, fixture, found):
    assert SecretFound()(frame(fixture), {}) is found


def test_panel_values_are_not_a_secret_message(frame):
    # the panel's pale-yellow values share the message's colour but not its width
    assert not SecretFound()(frame("supertux_panel_yes"), {})


@pytest.mark.parametrize(("fixture", "won"), [("supertux_panel_badguy", True), ("supertux_panel_yes", False),
                                              ("supertux_panel_no", False)])  # fmt: skip
def test_finished_with_a_kill(frame, fixture, won):
    # supertux_panel_yes reads "Badguys 0/14"; supertux_panel_badguy "1/15"
    assert FinishedWithKill()(frame(fixture), {}) is won
