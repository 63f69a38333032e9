"""Device profiles: the shipped files load, bad files are named with their bad field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from objectives.hardware import (
    DEVICE_TABLE_COLUMNS,
    ProfileError,
    UnknownDeviceError,
    device_table,
    known_devices,
    load_device,
)

SHIPPED = (
    "cortex_m0plus",
    "cortex_m4",
    "cortex_m7",
    "cortex_m33",
    "cortex_m55",
    "ethos_u55",
    "edge_soc",
    "host",
)


def shipped_yaml(name: str) -> dict:
    text = resources.files("objectives.hardware.profiles").joinpath(f"{name}.yaml").read_text()
    return yaml.safe_load(text)


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_required_device_is_shipped_and_valid() -> None:
    assert set(SHIPPED) <= set(known_devices())
    for name in known_devices():
        assert load_device(name).name == name


def test_clocks_and_idle_currents_follow_the_sources() -> None:
    # devices.md section 1 clocks; CONTEXT.md idle currents x 3.3 V.
    clocks = {"cortex_m0plus": 64, "cortex_m4": 120, "cortex_m7": 280, "cortex_m33": 160}
    for name, mhz in clocks.items():
        assert load_device(name).clock_mhz == mhz
    for name, milliamps in {"cortex_m4": 0.30, "cortex_m7": 1.60, "cortex_m0plus": 4.20}.items():
        profile = load_device(name)
        assert profile.idle_power_mW == pytest.approx(milliamps * profile.supply_V, rel=1e-3)


def test_every_number_in_a_profile_has_a_source_comment() -> None:
    for name in SHIPPED:
        text = resources.files("objectives.hardware.profiles").joinpath(f"{name}.yaml")
        for line in text.read_text().splitlines():
            key, _, value = line.partition(":")
            number = value.split("#")[0].strip()
            if number.replace(".", "", 1).isdigit() and key.strip() in (
                "clock_mhz",
                "flash_kB",
                "sram_kB",
                "active_power_mW",
                "idle_power_mW",
            ):
                assert "#" in value, f"{name}: '{line.strip()}' has no source"


def test_unknown_device_lists_the_known_ones() -> None:
    with pytest.raises(UnknownDeviceError, match=r"'cortex_m99'.*cortex_m0plus, cortex_m33"):
        load_device("cortex_m99")


def test_unknown_device_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="known devices"):
        load_device("esp32")


def test_profile_missing_a_field_names_file_and_field(tmp_path: Path) -> None:
    data = shipped_yaml("cortex_m4")
    del data["sram_kB"]
    path = write(tmp_path, data)
    with pytest.raises(ProfileError, match=r"board\.yaml: field 'sram_kB': Field required"):
        load_device(str(path))


def test_profile_missing_a_nested_field_names_its_path(tmp_path: Path) -> None:
    data = shipped_yaml("cortex_m7")
    del data["compute"]["bytes_per_cycle"]
    with pytest.raises(ProfileError, match=r"field 'compute\.bytes_per_cycle'"):
        load_device(str(write(tmp_path, data)))


@pytest.mark.parametrize("field", ["clock_mhz", "active_power_mW", "idle_power_mW"])
@pytest.mark.parametrize("value", [0, -5.0])
def test_zero_or_negative_clock_or_power_names_file_and_field(
    tmp_path: Path, field: str, value: float
) -> None:
    data = shipped_yaml("cortex_m33")
    data[field] = value
    with pytest.raises(ProfileError, match=rf"board\.yaml: field '{field}': .*greater than 0"):
        load_device(str(write(tmp_path, data)))


def test_zero_mac_rate_is_rejected(tmp_path: Path) -> None:
    data = shipped_yaml("cortex_m4")
    data["compute"]["macs_per_cycle"]["fp32"] = 0
    with pytest.raises(ProfileError, match=r"macs_per_cycle\.fp32 must be > 0"):
        load_device(str(write(tmp_path, data)))


def test_misspelled_field_is_an_error(tmp_path: Path) -> None:
    data = shipped_yaml("cortex_m4")
    data["clock_mhzz"] = data.pop("clock_mhz")
    with pytest.raises(ProfileError, match="clock_mhz"):
        load_device(str(write(tmp_path, data)))


def test_missing_profile_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"nowhere\.yaml: cannot read"):
        load_device(str(tmp_path / "nowhere.yaml"))


def test_device_table_has_a_row_per_profile_with_key_numbers() -> None:
    rows = {row["device"]: row for row in device_table()}
    assert set(rows) == set(known_devices())
    m7 = rows["cortex_m7"]
    assert (m7["clock_mhz"], m7["flash_kB"], m7["sram_kB"]) == (280, 2048, 1218)
    assert m7["idle_power_mW"] == pytest.approx(5.28)
    assert m7["int8_macs_per_cycle"] == load_device("cortex_m7").compute.macs_per_cycle["int8"]
    assert rows["edge_soc"]["int8_macs_per_cycle"] is None
    assert all(list(row) == list(DEVICE_TABLE_COLUMNS) for row in rows.values())
