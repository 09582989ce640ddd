"""A smaller ICU data library for the Linux bundle (PySide6's ``libicudata.so.73``: 30.6 MB).

    python packaging/icu_data.py SOURCE.so OUTPUT.so      (build.spec calls ``trimmed``)

Qt6Core links ICU for exactly these calls (``nm -D --undefined-only libQt6Core.so.6``):
case mapping (``u_strToUpper/Lower``), collation (``ucol_*``, QCollator), time-zone ids and
display names (``ucal_*``) and codecs QStringConverter does not have itself (``ucnv_*``).
Nothing calls break iterators, transliteration, number spelling or unit/currency/language
names, and the console is English only. So the data keeps every core table (properties,
case, normalization, converter aliases, time-zone rules, root collation...), the ``root``
and ``en*`` locales of each tree and the single-byte code pages; it drops the other locales,
``brkitr/``, ``translit/``, ``rbnf/`` and the large CJK code-page tables. A lookup of a
dropped locale falls back to root (English names, root collation order), as ICU does for
any locale it has no data for. ~31 MB becomes ~3 MB.

The library is the original's ``icudt73_dat`` symbol (an ICU "CmnD" package: a header, a
table of contents sorted by name, then the items) re-packed and assembled with binutils.
"""

from __future__ import annotations

import itertools
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

#: A locale bundle's name ("de", "zh_Hant_TW", "sr_Latn"...) as opposed to a table's name
#: ("supplementalData", "zoneinfo64", "root", "pool"...).
_LOCALE = re.compile(r"[a-z]{2,3}(_[A-Za-z0-9]+)*")
_KEEP_LOCALES = ("root", "en", "res_index", "pool")
_DROP_TREES = ("brkitr/", "translit/", "rbnf/")
#: Single-byte code pages are a few KB each; the multi-byte CJK tables are 50-550 KB.
_MAX_CODEPAGE = 20_000


def keep(name: str, size: int) -> bool:
    """Whether the item ``name`` (``icudt73l/coll/de.res``) stays in the trimmed data."""
    path = name.split("/", 1)[1]
    if path.startswith(_DROP_TREES):
        return False
    if path.endswith(".cnv"):
        return size <= _MAX_CODEPAGE
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if path.endswith(".res") and _LOCALE.fullmatch(stem):
        return stem in _KEEP_LOCALES or stem.startswith("en_")
    return True


def _elf_symbol(data: bytes, suffix: bytes) -> tuple[bytes, bytes]:
    """(name, bytes) of the dynamic symbol ending in ``suffix`` in an ELF64 library."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]
    dynsym = next(s for s in sections if s[1] == 11)  # SHT_DYNSYM
    strtab = sections[dynsym[6]]
    for i in range(dynsym[5] // 24):
        name_at, _, _, index, value, size = struct.unpack_from("<IBBHQQ", data,
                                                                 dynsym[4] + i * 24)
        start = strtab[4] + name_at
        name = data[start:data.index(b"\0", start)]
        if name.endswith(suffix):
            section = sections[index]
            offset = section[4] + value - section[3]
            return name, data[offset:offset + size]
    raise ValueError(f"no symbol *{suffix.decode()} in the library")


def items(blob: bytes) -> list[tuple[str, bytes]]:
    """The (name, bytes) items of the CmnD package ``blob``, in its (sorted) order."""
    header_size, magic1, magic2 = struct.unpack_from("<HBB", blob, 0)
    if (magic1, magic2) != (0xDA, 0x27) or blob[12:16] != b"CmnD":
        raise ValueError("not an ICU common data package")
    count, = struct.unpack_from("<I", blob, header_size)
    entries = [struct.unpack_from("<II", blob, header_size + 4 + 8 * i) for i in range(count)]
    ends = [*sorted(offset for _, offset in entries), len(blob) - header_size]
    end_of = dict(itertools.pairwise(ends))
    found = []
    for name_at, offset in entries:
        start = header_size + name_at
        name = blob[start:blob.index(b"\0", start)].decode("ascii")
        found.append((name, blob[header_size + offset:header_size + end_of[offset]]))
    return found


def repack(blob: bytes) -> tuple[bytes, int, int]:
    """The CmnD package ``blob`` without the items ``keep`` refuses; (data, kept, total)."""
    header_size, = struct.unpack_from("<H", blob, 0)
    every = items(blob)
    kept = [(name.encode("ascii"), body) for name, body in every if keep(name, len(body))]
    toc_size = 4 + 8 * len(kept)
    names = b""
    name_offsets = []
    for name, _ in kept:
        name_offsets.append(toc_size + len(names))
        names += name + b"\0"
    names += b"\0" * (-(toc_size + len(names)) % 16)
    toc = bytearray(struct.pack("<I", len(kept)))
    bodies = bytearray()
    for (_, body), name_at in zip(kept, name_offsets, strict=True):
        toc += struct.pack("<II", name_at, toc_size + len(names) + len(bodies))
        bodies += body + b"\0" * (-len(body) % 16)
    return bytes(blob[:header_size] + toc + names + bodies), len(kept), len(every)


def trimmed(source: str | Path, output: str | Path) -> str:
    """Write the trimmed copy of the ICU data library ``source`` to ``output``; a summary."""
    symbol, blob = _elf_symbol(Path(source).read_bytes(), b"_dat")
    data, kept, total = repack(blob)
    output = Path(output)
    soname = Path(source).name
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "icu.dat").write_bytes(data)
        asm = Path(tmp, "icu.s")
        asm.write_text(
            f'\t.section .rodata\n\t.globl {symbol.decode()}\n'
            f'\t.type {symbol.decode()}, @object\n\t.balign 16\n{symbol.decode()}:\n'
            f'\t.incbin "{Path(tmp, "icu.dat")}"\n'
            f'\t.size {symbol.decode()}, {len(data)}\n'
            '\t.section .note.GNU-stack,"",@progbits\n')
        subprocess.run(["as", "-o", str(Path(tmp, "icu.o")), str(asm)], check=True)
        subprocess.run(["ld", "-shared", "-soname", soname, "-s", "-o", str(output),
                        str(Path(tmp, "icu.o"))], check=True)
    return (f"{soname}: {kept} of {total} ICU data items kept, {len(blob) / 1e6:.1f} MB -> "
            f"{output.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    print(trimmed(sys.argv[1], sys.argv[2]))
