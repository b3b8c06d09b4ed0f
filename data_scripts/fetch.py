"""Fetch real corpora by hand, from a checkout, without the ``nlpseq`` command.

    python data_scripts/fetch.py --list              # the corpora and whether they are here
    python data_scripts/fetch.py mr conll2003        # fetch into data/NAME/ (or $NLPSEQ_DATA/NAME/)
    python data_scripts/fetch.py brown --force       # fetch again even when present

The corpus code itself lives in ``nlpseq/corpora`` (see ``data_scripts/README.md``); this script
only calls it, exactly as ``nlpseq data list|fetch`` does.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

# Run from a checkout: use the nlpseq beside this folder, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlpseq.corpora import CORPORA, corpus_dir, fetch_corpus, is_fetched
from nlpseq.errors import NlpseqError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch the real corpora nlpseq trains on.")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"corpora: {', '.join(sorted(CORPORA))}")
    parser.add_argument("--list", action="store_true", help="list the corpora and whether they are here")
    parser.add_argument("--force", action="store_true", help="fetch again even when present")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    if args.list:
        for name, corpus in sorted(CORPORA.items()):
            state = "fetched" if is_fetched(name) else "not fetched"
            print(f"{name:12} {state:12} {corpus.description} -> {corpus_dir(name)}")
        return 0
    if not args.names:
        parser.error("name at least one corpus, or pass --list")
    try:
        for name in args.names:
            print(fetch_corpus(name, force=args.force))
    except NlpseqError as error:
        print(f"fetch.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
