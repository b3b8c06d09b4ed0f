"""Issue 22 item 12: a fetch follows only http(s) links on the index's host, stops an endless page,
an endless archive and a slow drip, and leaves nothing behind: not after SIGTERM, and what a kill -9
left is removed by the next fetch."""

from __future__ import annotations

import hashlib
import http.server
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlpseq.corpora import CORPORA, Corpus, download, fetch_corpus
from nlpseq.corpora.staging import remove_leftovers
from nlpseq.errors import NlpseqError, Terminated

ARCHIVE = b"pinned archive bytes"
SHA256 = hashlib.sha256(ARCHIVE).hexdigest()
LINKS = {"good": "/files/good.tar.gz", "filelink": "file:///etc/passwd",
         "otherhost": "http://example.invalid/files/good.tar.gz", "endless": "/files/endless",
         "drip": "/files/drip"}


class Index(http.server.BaseHTTPRequestHandler):
    """A fake package index: /simple/NAME/ lists one file, /files/... serves it (or never ends)."""

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        try:
            if self.path == "/simple/bigpage/":
                while True:
                    self.wfile.write(b"<p>" + b"x" * 65536 + b"</p>")
            name = self.path.strip("/").split("/")[-1]
            if self.path.startswith("/simple/"):
                self.wfile.write(f'<a href="{LINKS[name]}">a-1.0.tar.gz</a>'.encode())
            elif name == "good.tar.gz":
                self.wfile.write(ARCHIVE)
            elif name == "endless":
                while True:
                    self.wfile.write(b"\0" * 65536)
            elif name == "drip":
                for _ in range(200):  # 20 s at most, a byte at a time
                    self.wfile.write(b"\0")
                    self.wfile.flush()
                    time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
    monkeypatch.setenv("PIP_INDEX_URL", url)
    yield url
    server.shutdown()
    server.server_close()


def test_a_pinned_file_on_the_index_host_downloads(index: str, tmp_path: Path) -> None:
    path = download.download_pypi_file("good", "a-1.0.tar.gz", SHA256, tmp_path, size=len(ARCHIVE))
    assert path.read_bytes() == ARCHIVE


@pytest.mark.parametrize(("project", "why"), [("filelink", "only http"),
                                              ("otherhost", "leaves the index's host")])
def test_links_off_the_index_are_refused(index: str, tmp_path: Path, project: str, why: str) -> None:
    with pytest.raises(NlpseqError, match=f"refusing the link .*{why}"):
        download.download_pypi_file(project, "a-1.0.tar.gz", SHA256, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_endless_archive_stops_at_the_pinned_size(index: str, tmp_path: Path) -> None:
    with pytest.raises(NlpseqError, match=r"/files/endless: the archive is larger than 100,000 bytes"):
        download.download_pypi_file("endless", "a-1.0.tar.gz", SHA256, tmp_path, size=100_000)
    assert list(tmp_path.iterdir()) == []  # the partial download is gone


def test_an_endless_archive_without_a_pinned_size_stops_at_the_default_cap(
        index: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "MAX_DOWNLOAD_BYTES", 300_000)
    with pytest.raises(NlpseqError, match=r"larger than 300,000 bytes"):
        download.download_pypi_file("endless", "a-1.0.tar.gz", SHA256, tmp_path)


def test_a_slow_drip_stops_at_the_total_time_limit(index: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(NlpseqError, match=r"/files/drip: the archive took longer than 0.5 s; stopped"):
        download.download_pypi_file("drip", "a-1.0.tar.gz", SHA256, tmp_path, total_timeout=0.5)
    # Not the drip's 20 s: each byte comes well within the socket timeout, the total limit stops it.
    assert time.monotonic() - started < 10


def test_an_endless_index_page_is_not_read_into_memory(index: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "MAX_INDEX_PAGE_BYTES", 1_000_000)
    page_error = r"/simple/bigpage/: the package index page is larger than 1,000,000 bytes"
    with pytest.raises(NlpseqError, match=page_error):
        download.download_pypi_file("bigpage", "a-1.0.tar.gz", SHA256, tmp_path)


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)


def test_leftovers_of_dead_fetches_go_and_live_ones_stay(tmp_path: Path) -> None:
    dead = _dead_pid()
    left = [tmp_path / f".fake.tmp-{dead}-0123abcd", tmp_path / f".fake.scratch-{dead}-89abcdef",
            tmp_path / ".fake.old-fedcba98"]  # the last: an earlier version's name, without a PID
    live = [tmp_path / f".fake.tmp-{os.getpid()}-00000000", tmp_path / f".fakeish.tmp-{dead}-0123abcd"]
    for folder in left + live:
        (folder / "inner").mkdir(parents=True)
    assert sorted(remove_leftovers(tmp_path / "fake")) == sorted(left)
    assert [folder.exists() for folder in left + live] == [False, False, False, True, True]


def _fake_corpus(fetch: object) -> Corpus:
    return Corpus(name="fake", description="", source="a test", licence="", files=("train.txt",), fetch=fetch)


def test_the_next_fetch_removes_what_a_kill_9_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = _dead_pid()
    (tmp_path / f".fake.tmp-{dead}-0123abcd" / "half").mkdir(parents=True)
    seen: dict[str, str] = {}

    def fetch(out_dir: Path) -> None:
        seen["tmp"] = tempfile.gettempdir()
        (out_dir / "train.txt").write_text("a\n", encoding="utf-8")

    monkeypatch.setitem(CORPORA, "fake", _fake_corpus(fetch))
    fetch_corpus("fake", root=tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fake"]
    assert Path(seen["tmp"]).parent == tmp_path  # temporary files of the fetch stayed beside it
    assert tempfile.gettempdir() != seen["tmp"]  # and tempfile points back where it did


def test_sigterm_during_a_fetch_removes_its_staging_and_temporary_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        pytest.skip("a SIGTERM handler is installed in this process")
    seen: dict[str, Path] = {}

    def fetch(out_dir: Path) -> None:
        (out_dir / "train.txt").write_text("half", encoding="utf-8")
        with tempfile.TemporaryDirectory(prefix="nlpseq-fake-") as scratch:
            seen["scratch"] = Path(scratch)
            (Path(scratch) / "partial.tar.gz").write_bytes(b"\0" * 1000)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the signal's exception ends this at once
        raise AssertionError("SIGTERM did not unwind the fetch")

    monkeypatch.setitem(CORPORA, "fake", _fake_corpus(fetch))
    with pytest.raises(Terminated):
        fetch_corpus("fake", root=tmp_path)
    assert list(tmp_path.iterdir()) == [] and not seen["scratch"].exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
