"""``nlpseq serve``: trained run folders behind an HTTP API with dynamic batching, and a page to try them.

Modules: :mod:`~nlpseq.serve.config` (the server's settings), :mod:`~nlpseq.serve.models` (a run as the
server sees it, through the task contract only), :mod:`~nlpseq.serve.batching` (the dynamic batcher),
:mod:`~nlpseq.serve.schemas` (request and response bodies), :mod:`~nlpseq.serve.app` (the FastAPI app),
:mod:`~nlpseq.serve.runner` (uvicorn, one process or ``--workers K``), ``page/`` (the static page at
``/``).

Needs the ``serve`` extra (``pip install "nlpseq[serve]"``: FastAPI and uvicorn); nothing outside this
package imports it, so the base install never needs them.
"""

EXTRA_HINT = 'nlpseq serve needs FastAPI and uvicorn: pip install "nlpseq[serve]"'


def check_installed() -> None:
    """One :class:`~nlpseq.errors.NlpseqError` line naming the extra when FastAPI or uvicorn is missing."""
    import importlib.util

    from nlpseq.errors import NlpseqError

    missing = [name for name in ("fastapi", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise NlpseqError(f"{EXTRA_HINT} ({', '.join(missing)} not installed)")
