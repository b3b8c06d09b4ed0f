"""Read files out of a Debian ``.deb`` in Python alone: no dpkg, nothing of the package ever runs.

A ``.deb`` is an ``ar`` archive (``!<arch>\\n`` then 60-byte member headers) holding
``debian-binary``, ``control.tar.*`` and ``data.tar.{xz,gz,zst}``; the files the package installs are
the members of ``data.tar.*``. :func:`read_members` checks every member name of that tar before it
reads anything (no absolute paths, no ``..``, no links, no devices) and returns the wanted regular
files' bytes by name: nothing is extracted onto the disk, so a hostile archive can write nowhere.

Debian compresses ``data.tar`` with xz (bookworm; the LibreOffice help packages) and newer releases
with zstd, which Python's standard library cannot read: then the ``zstandard`` package is needed and
its absence is one clear line.
"""

from __future__ import annotations

import io
import lzma
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from nlpseq.errors import DataError

AR_MAGIC = b"!<arch>\n"
_HEADER = 60


def ar_members(path: Path) -> dict[str, bytes]:
    """The members of an ``ar`` archive: name -> bytes (GNU ``name/`` endings stripped)."""
    raw = Path(path).read_bytes()
    if not raw.startswith(AR_MAGIC):
        raise DataError("not a Debian package (no ar archive header)", path)
    members: dict[str, bytes] = {}
    offset = len(AR_MAGIC)
    while offset < len(raw):
        header = raw[offset:offset + _HEADER]
        if len(header) < _HEADER or header[58:60] != b"`\n":
            raise DataError(f"corrupt ar member header at byte {offset}", path)
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise DataError(f"corrupt ar member size at byte {offset}", path) from None
        start = offset + _HEADER
        if start + size > len(raw):
            raise DataError(f"ar member {name!r} runs past the end of the file", path)
        members[name] = raw[start:start + size]
        offset = start + size + (size % 2)  # members are 2-byte aligned
    return members


def _decompressor(name: str, path: Path) -> Callable[[bytes], bytes]:
    if name.endswith(".xz"):
        return lzma.decompress
    if name.endswith(".gz"):
        import gzip

        return gzip.decompress
    if name.endswith(".zst"):
        try:
            import zstandard
        except ImportError:
            raise DataError(f"{name} is zstd-compressed: `pip install zstandard` to read it", path) from None
        return lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data)
    if name.endswith(".tar"):
        return lambda data: data
    raise DataError(f"unsupported data member {name!r} (expected data.tar.xz, .gz or .zst)", path)


def check_member(member: tarfile.TarInfo, path: Path) -> None:
    """Refuse a tar member that could write outside its folder or is not a plain file or folder."""
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        raise DataError(f"unsafe member path {member.name!r} in the package", path)
    if not (member.isfile() or member.isdir()):
        kind = "link" if member.issym() or member.islnk() else "special file"
        raise DataError(f"refusing {kind} member {member.name!r} in the package", path)


def normalise_name(name: str) -> str:
    """``./usr/share/x`` -> ``usr/share/x``."""
    return name[2:] if name.startswith("./") else name


def read_members(deb: Path, wanted: Callable[[str], bool]) -> dict[str, bytes]:
    """The regular files of ``deb``'s ``data.tar.*`` whose (``./``-less) name ``wanted`` accepts.

    Every member is checked by :func:`check_member` first, so one unsafe member refuses the package
    whole. Symbolic links inside the help trees would be refused too: these packages have none
    under the paths read.
    """
    members = ar_members(deb)
    data_names = [name for name in members if name.startswith("data.tar")]
    if len(data_names) != 1:
        raise DataError(f"expected one data.tar member, found {', '.join(members) or 'none'}", deb)
    data = _decompressor(data_names[0], deb)(members[data_names[0]])
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        infos = archive.getmembers()
        for info in infos:
            if wanted(normalise_name(info.name)):
                check_member(info, deb)
        for info in infos:
            name = normalise_name(info.name)
            if info.isfile() and wanted(name):
                handle = archive.extractfile(info)
                assert handle is not None  # a regular file always has a handle
                files[name] = handle.read()
    return files


def html_pages(deb: Path, prefix: str, package: str, strict: bool = True) -> dict[str, str]:
    """The ``.html`` members under ``prefix`` of a ``.deb``, keyed by their path below it.

    ``strict``: a page that is not UTF-8 is a DataError naming it; otherwise bad bytes are replaced.
    No page at all means the file is not ``package``: one line says so.
    """
    files = read_members(deb, lambda name: name.startswith(prefix) and name.endswith(".html"))
    if not files:
        raise DataError(f"no help pages under {prefix} (is this {package}?)", deb)
    pages = {}
    for name, raw in files.items():
        try:
            pages[name[len(prefix):]] = raw.decode("utf-8", "strict" if strict else "replace")
        except UnicodeDecodeError:
            raise DataError(f"{name} is not UTF-8", deb) from None
    return pages
