"""`make package`: every JS bundle (one per js/src/*.ts) is inside the sdist and the wheel in the given folder.

python scripts/check_dist.py dist
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def expected_bundles() -> set[str]:
    """The bundle names `npm run build` writes: one per top-level js/src/*.ts."""
    return {f"{p.stem}.js" for p in (ROOT / "js" / "src").glob("*.ts") if not p.name.endswith(".d.ts")}


def bundles_in(archive: Path) -> dict[str, int]:
    """Bundle file name -> size in bytes, for the featureviz/static/*.js files inside a wheel or an sdist."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            members = [(i.filename, i.file_size) for i in z.infolist()]
    else:
        with tarfile.open(archive) as t:
            members = [(m.name, m.size) for m in t.getmembers()]
    return {Path(name).name: size for name, size in members if "featureviz/static/" in name and name.endswith(".js")}


def main(folder: str) -> int:
    archives = sorted(Path(folder).glob("*.whl")) + sorted(Path(folder).glob("*.tar.gz"))
    if len(archives) != 2:
        print(f"expected one wheel and one sdist in {folder}, found {[a.name for a in archives]}")
        return 1
    want, status = expected_bundles(), 0
    for archive in archives:
        found = bundles_in(archive)
        missing = sorted(want - set(found))
        print(
            f"{archive.name}: {archive.stat().st_size / 1e6:.1f} MB, {len(found)} bundles "
            f"({sum(found.values()) / 1024:.0f} KiB)" + (f", MISSING {missing}" if missing else "")
        )
        status |= bool(missing)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "dist"))
