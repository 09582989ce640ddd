"""packaging/: the smoke test's stderr rules and the trimmed ICU data of the Linux bundle."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"


def _load(name: str) -> ModuleType:
    # packaging/ is a folder of scripts, not a package (and "packaging" is a PyPI name).
    spec = importlib.util.spec_from_file_location(f"netmon_packaging_{name}",
                                                  PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


smoke = _load("smoke")
icu_data = _load("icu_data")


def test_info_log_records_on_stderr_are_not_failures() -> None:
    info = "2026-11-29 07:21:06,922 INFO    netmon.demo: demo servers on 127.0.0.1: http 40095"
    warning = "2026-11-29 07:21:06,922 WARNING netmon.monitor: RESILIENT: cannot write log"
    text = "\n".join([info, "This plugin does not support propagateSizeHints()", warning,
                      "Traceback (most recent call last):"])
    assert smoke.unexpected_stderr(text) == [warning, "Traceback (most recent call last):"]


@pytest.mark.parametrize(("name", "size", "kept"), [
    ("icudt73l/coll/root.res", 100, True),
    ("icudt73l/coll/ucadata.icu", 200_000, True),
    ("icudt73l/coll/de.res", 100, False),
    ("icudt73l/zone/en_GB.res", 100, True),
    ("icudt73l/zone/zh_Hant_TW.res", 100, False),
    ("icudt73l/res_index.res", 100, True),
    ("icudt73l/pool.res", 100, True),
    ("icudt73l/zoneinfo64.res", 150_000, True),
    ("icudt73l/supplementalData.res", 150_000, True),
    ("icudt73l/fr.res", 100, False),
    ("icudt73l/brkitr/cjdict.dict", 2_000_000, False),
    ("icudt73l/translit/root.res", 100, False),
    ("icudt73l/ibm-5348_P100-1997.cnv", 1_500, True),
    ("icudt73l/gb18030.cnv", 230_000, False),
    ("icudt73l/uprops.icu", 140_000, True),
])
def test_icu_items_kept(name: str, size: int, kept: bool) -> None:
    assert icu_data.keep(name, size) is kept


def _package(entries: list[tuple[str, bytes]]) -> bytes:
    """A CmnD package as ICU's pkgdata lays it out (header, sorted ToC, names, items)."""
    header = struct.pack("<HBB", 32, 0xDA, 0x27) + struct.pack("<HHBBBB", 20, 0, 0, 0, 2, 0)
    header += b"CmnD" + bytes([1, 0, 0, 0]) + bytes(4)
    header += bytes(32 - len(header))
    toc_size = 4 + 8 * len(entries)
    names = b"".join(n.encode() + b"\0" for n, _ in entries)
    names += bytes(-(toc_size + len(names)) % 16)
    toc, bodies, name_at = struct.pack("<I", len(entries)), b"", toc_size
    for name, body in entries:
        toc += struct.pack("<II", name_at, toc_size + len(names) + len(bodies))
        name_at += len(name) + 1
        bodies += body + bytes(-len(body) % 16)
    return header + toc + names + bodies


def test_repack_keeps_the_wanted_items_whole_and_in_order() -> None:
    entries = [("icudt73l/coll/de.res", b"D" * 40), ("icudt73l/coll/root.res", b"R" * 17),
               ("icudt73l/fr.res", b"F" * 5), ("icudt73l/uprops.icu", b"U" * 33)]
    blob = _package(entries)
    assert icu_data.items(blob) == [(n, b + bytes(-len(b) % 16)) for n, b in entries]
    data, kept, total = icu_data.repack(blob)
    assert (kept, total) == (2, 4)
    assert [(n, b.rstrip(b"\0")) for n, b in icu_data.items(data)] == [
        ("icudt73l/coll/root.res", b"R" * 17), ("icudt73l/uprops.icu", b"U" * 33)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux wheel's ICU only")
def test_trimmed_library_of_the_installed_pyside6(tmp_path: Path) -> None:
    import PySide6

    source = Path(PySide6.__file__).parent / "Qt" / "lib" / "libicudata.so.73"
    if not source.exists():
        pytest.skip(f"this PySide6 has no {source.name}")
    output = tmp_path / source.name
    icu_data.trimmed(source, output)
    name, blob = icu_data._elf_symbol(output.read_bytes(), b"_dat")
    assert name == b"icudt73_dat"
    names = [n for n, _ in icu_data.items(blob)]
    assert names == sorted(names)
    assert {"icudt73l/coll/root.res", "icudt73l/coll/ucadata.icu", "icudt73l/cnvalias.icu",
            "icudt73l/zoneinfo64.res", "icudt73l/en.res"} <= set(names)
    assert output.stat().st_size < source.stat().st_size / 4
