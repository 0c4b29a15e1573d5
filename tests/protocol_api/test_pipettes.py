"""OT-2 pipette specs against the numbers of Opentrons' pipette definitions."""

from __future__ import annotations

import pytest

from protocol_api.errors import InstrumentError
from protocol_api.pipettes import get_pipette, pipette_names


def test_every_ot2_pipette_loads_with_its_channels_and_nozzles() -> None:
    for name in pipette_names():
        spec = get_pipette(name)
        assert spec.name == name
        assert spec.channels == (8 if "multi" in name else 1)
        assert len(spec.nozzles) == spec.channels
        assert spec.nozzles[0][1] == spec.nozzle_offset  # A1 is the primary nozzle
        assert 0 < spec.min_volume < spec.max_volume
        assert spec.model.startswith(name.removesuffix("_gen2") + "_v")
        assert spec.model.split("_v")[1].startswith("2." if name.endswith("_gen2") else "1.")


@pytest.mark.parametrize(
    ("name", "model", "volumes", "rates"),
    [
        ("p20_single_gen2", "p20_single_v2.2", (1, 20), (7.56, 7.56, 7.56)),
        ("p300_single_gen2", "p300_single_v2.1", (20, 300), (92.86, 92.86, 92.86)),
        ("p1000_single_gen2", "p1000_single_v2.2", (100, 1000), (274.7, 274.7, 274.7)),
        ("p10_single", "p10_single_v1.5", (1, 10), (5, 10, 1000)),
        ("p50_single", "p50_single_v1.5", (5, 50), (25, 50, 1000)),
        ("p300_single", "p300_single_v1.5", (30, 300), (150, 300, 1000)),
        ("p1000_single", "p1000_single_v1.5", (100, 1000), (500, 1000, 1000)),
        ("p20_multi_gen2", "p20_multi_v2.1", (1, 20), (7.6, 7.6, 7.6)),
        ("p300_multi_gen2", "p300_multi_v2.1", (20, 300), (94, 94, 94)),
        ("p10_multi", "p10_multi_v1.6", (1, 10), (5, 10, 1000)),
        ("p50_multi", "p50_multi_v1.5", (5, 50), (25, 50, 1000)),
        ("p300_multi", "p300_multi_v1.5", (30, 300), (150, 300, 1000)),
    ],
)
def test_volumes_and_default_flow_rates(
    name: str, model: str, volumes: tuple[float, float], rates: tuple[float, float, float]
) -> None:
    spec = get_pipette(name)
    assert spec.model == model
    assert (spec.min_volume, spec.max_volume) == volumes
    assert (spec.aspirate_flow_rate, spec.dispense_flow_rate, spec.blow_out_flow_rate) == rates


@pytest.mark.parametrize(
    ("name", "before_2_6", "from_2_6"),
    [("p20_single_gen2", 3.78, 7.56), ("p300_single_gen2", 46.43, 92.86),
     ("p1000_single_gen2", 137.35, 274.7)],
)
def test_gen2_single_flow_rates_doubled_at_api_2_6(
    name: str, before_2_6: float, from_2_6: float
) -> None:
    assert get_pipette(name, (2, 5)).aspirate_flow_rate == before_2_6
    assert get_pipette(name, (2, 6)).aspirate_flow_rate == from_2_6
    assert get_pipette(name, (2, 20)).dispense_flow_rate == from_2_6
    assert get_pipette(name, (2, 0)).blow_out_flow_rate == before_2_6


def test_multi_channel_nozzles_are_9_mm_apart_back_to_front() -> None:
    spec = get_pipette("p300_multi_gen2")
    assert [n for n, _ in spec.nozzles] == ["A1", "B1", "C1", "D1", "E1", "F1", "G1", "H1"]
    assert spec.nozzle_offset == (0.0, 31.5, 35.52)
    ys = [offset[1] for _, offset in spec.nozzles]
    assert ys == [31.5 - 9 * i for i in range(8)]
    assert get_pipette("p300_single_gen2").nozzles == (("A1", (0.0, 0.0, 29.45)),)


@pytest.mark.parametrize(
    ("name", "rack", "overlap"),
    [
        ("p300_single_gen2", "opentrons/opentrons_96_tiprack_300ul/1", 8.2),
        ("p1000_single_gen2", "opentrons/opentrons_96_tiprack_1000ul/1", 11.5),
        ("p1000_single_gen2", "opentrons/geb_96_tiprack_1000ul/1", 9.5),
        ("p1000_single_gen2", "custom_beta/my_tips/1", 9.7),  # the pipette's default
        ("p10_single", "opentrons/geb_96_tiprack_10ul/1", 6.2),
        ("p50_multi", "opentrons/opentrons_96_tiprack_300ul/1", 7.47),
    ],
)
def test_tip_overlap_per_tip_rack_with_a_default(name: str, rack: str, overlap: float) -> None:
    assert get_pipette(name).tip_overlap(rack) == overlap


def test_effective_tip_length_is_the_racks_tip_length_less_the_overlap() -> None:
    spec = get_pipette("p300_single_gen2")
    # written as the definitions' figures say, not 59.3 - 8.2's 51.099999999999994
    assert spec.effective_tip_length(59.3, "opentrons/opentrons_96_tiprack_300ul/1") == 51.1
    assert spec.default_tip_length == 49.0
    assert "opentrons/opentrons_96_tiprack_300ul/1" in spec.default_tipracks


def test_an_unknown_pipette_lists_the_ot2_ones() -> None:
    with pytest.raises(InstrumentError, match=r"unknown instrument 'flex_1channel_50'; the "
                       r"OT-2 pipettes are p10_single, p10_multi, "):
        get_pipette("flex_1channel_50")


def test_specs_are_read_once_per_api_level() -> None:
    assert get_pipette("p20_multi_gen2") is get_pipette("p20_multi_gen2")


def test_volumes_keep_the_definitions_number_type_for_load_names_built_from_them() -> None:
    # Library protocols load f"opentrons_96_tiprack_{pipette.max_volume}ul".
    assert f"{get_pipette('p300_single').max_volume}" == "300"
    assert f"{get_pipette('p20_single_gen2').max_volume}" == "20"


def test_a_pipette_name_in_any_case_is_the_pipette_as_opentrons_takes_it() -> None:
    assert get_pipette("P300_Single_GEN2").name == "p300_single_gen2"
