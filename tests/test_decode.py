"""The compiled per-abbreviation DIE decoders agree with the generic one."""

from __future__ import annotations

import pytest

from batchver.dwarfdecode import WANTED
from batchver.dwarfreader import DwarfReader, read_uleb
from batchver.elfdata import ElfObject

from .conftest import CORPUS

FILES = sorted(CORPUS.glob("fixtures/*.o")) + [
    CORPUS / "debian-6.12.117-cloud/kernel/drivers/nvdimm/nd_virtio.ko",
    CORPUS / "linux-6.12-defconfig/objects/lib/dim/net_dim.o",
]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_compiled_decoder_matches_generic(path):
    reader = DwarfReader(ElfObject(str(path)))
    decoded = 0
    for unit in reader.units:
        pos = unit.die_offset
        while pos < unit.end:
            code, attrs_pos = read_uleb(unit.data, pos)
            if code == 0:
                pos = attrs_pos
                continue
            tag, children, specs = unit.abbrevs[code]
            fast = reader._decode(unit.key_base + pos, unit)
            slow = reader._decode_generic(unit.key_base + pos, unit, tag, children, specs, attrs_pos)
            assert fast.attrs == {k: v for k, v in slow.attrs.items() if k in WANTED}
            assert (fast.tag, fast.has_children, fast.end) == (slow.tag, slow.has_children, slow.end)
            decoded += 1
            pos = fast.end - unit.key_base
    assert decoded > 100
