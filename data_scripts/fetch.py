"""Fetch real corpora by hand, from a checkout, without the ``nlpseq`` command installed.

    python data_scripts/fetch.py --list              # the corpora and whether they are here
    python data_scripts/fetch.py mr conll2003        # fetch into data/NAME/ (or $NLPSEQ_DATA/NAME/)
    python data_scripts/fetch.py brown --force       # fetch again even when present
    python data_scripts/fetch.py lohelp-fr-en --from DIR   # archives you already have

A thin shim over ``nlpseq data``: ``--list`` (or ``list``) is ``nlpseq data list``, anything else is
``nlpseq data fetch ARGS`` (``fetch`` first is accepted too), with the command line's own flags,
messages and exit status. The corpus code lives in ``nlpseq/corpora`` (see ``data_scripts/README.md``).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a checkout: use the nlpseq beside this folder, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlpseq import cli  # after the path above


def cli_args(argv: list[str]) -> list[str]:
    """The ``nlpseq`` arguments this script's arguments stand for."""
    if "--list" in argv:
        return ["data", "list", *(a for a in argv if a != "--list")]
    if argv and argv[0] in ("list", "fetch"):
        return ["data", *argv]
    return ["data", "fetch", *argv]


def main(argv: list[str] | None = None) -> int:
    return cli.main(cli_args(sys.argv[1:] if argv is None else list(argv)))


if __name__ == "__main__":
    sys.exit(main())
