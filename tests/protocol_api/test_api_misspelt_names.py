"""A misspelt method of a protocol object names the closest one the object has, in the
run's one error line, as Python itself suggests in a traceback; ``hasattr`` and
``getattr(x, name, default)`` work as for any object."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from labrun.cli.main import main
from protocol_api.execute import open_context

PROTOCOL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_20ul", 1)
    p20 = ctx.load_instrument("p20_single_gen2", "left", tip_racks=[tips])
    %s
'''


@pytest.mark.parametrize(("call", "said"), [
    ("p20.pick_up_tips()", "'InstrumentContext' object has no attribute 'pick_up_tips'; did "
                           "you mean 'pick_up_tip'?"),
    ("ctx.comentt('x')", "'ProtocolContext' object has no attribute 'comentt'; did you mean "
                         "'comment'?"),
    ("tips.well_by_name()", "'Labware' object has no attribute 'well_by_name'; did you mean "
                            "'wells_by_name'?"),
    ("p20.xyzzy()", "'InstrumentContext' object has no attribute 'xyzzy'"),
])
def test_a_misspelt_method_names_the_closest_one(
        call: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(PROTOCOL % call))
    assert main(["simulate", str(path)]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {path}:7: AttributeError: {said}"


def test_hasattr_and_getattr_with_a_default_work_and_the_error_pickles() -> None:
    with open_context() as ctx:
        p20 = ctx.load_instrument("p20_single_gen2", "left")
        assert not hasattr(p20, "pick_up_tips") and getattr(ctx, "comentt", 7) == 7
        with pytest.raises(AttributeError) as caught:
            p20._private_thing  # noqa: B018
        assert str(caught.value) == ("'InstrumentContext' object has no attribute "
                                     "'_private_thing'")
        with pytest.raises(AttributeError) as caught:
            p20.pick_up_tips  # noqa: B018
        copy = pickle.loads(pickle.dumps(caught.value))
        assert type(copy) is AttributeError and str(copy) == str(caught.value)


@pytest.mark.parametrize(("level", "call", "said"), [
    ("2.15", "plate.display_name", "'Labware' object has no attribute 'display_name'; did "
                                   "you mean 'load_name'?"),
    ("2.13", "plate.display_name", "'Labware' object has no attribute 'display_name'; did "
                                   "you mean 'load_name'?"),
    ("2.16", "ctx.fixed_trash.display_name", "'TrashBin' object has no attribute "
                                             "'display_name'"),  # it has no load_name
    ("2.15", "ctx.load_module('magnetic module gen2', 4).display_name",
     "'MagneticModuleContext' object has no attribute 'display_name'"),
])
def test_display_name_is_a_wells_only_as_in_opentrons(
        level: str, call: str, said: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Opentrons' labware, trash bin and module contexts have no ``display_name`` (only a
    Well has one): a protocol reading it fails there, so it fails here, at its line."""
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(f'''
        metadata = {{"apiLevel": "{level}"}}

        def run(ctx):
            plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
            assert plate["A1"].display_name.startswith("A1 of Corning 96 Well Plate")
            print({call})
        '''))
    assert main(["simulate", str(path)]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {path}:7: AttributeError: {said}"
