"""Running the app: the run folders loaded under their served names, uvicorn on one port.

One process (the default) loads the models once and serves them. ``workers`` K > 1 hands the port to
uvicorn's process manager: K processes, each loading every model (memory is K times one), started
from the same spec through an environment variable, since uvicorn imports the app by name in each.

SIGTERM (or Ctrl-C): uvicorn stops accepting connections, lets every request it accepted finish (their
batches included: the app's shutdown waits for the queues), then exits.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nlpseq.errors import ConfigError, NlpseqError
from nlpseq.serve.config import ServeConfig

log = logging.getLogger("nlpseq.serve")

SPEC_ENV = "NLPSEQ_SERVE_SPEC"  # what each worker process of --workers K loads (JSON)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a served name is one URL path segment


def served_names(specs: list[str]) -> dict[str, Path]:
    """``RUN_DIR`` or ``NAME=RUN_DIR`` arguments as served name -> run folder (the folder's own name
    when none is given); a bad or repeated name, or a folder that is no run, is one error line."""
    runs: dict[str, Path] = {}
    for spec in specs:
        name, equals, folder = spec.partition("=")
        if not equals or Path(spec).is_dir():  # a folder whose name holds "=" is a folder
            name, folder = Path(spec).resolve().name, spec
        if not _NAME.fullmatch(name):
            raise ConfigError(f"serve: {name!r}: a served name is letters, digits, '.', '_' and '-' "
                              f"(give NAME={folder})")
        if name in runs:
            raise ConfigError(f"serve: two runs would be served as {name!r}; name them: NAME=RUN_DIR")
        if not (Path(folder) / "config.yaml").is_file():
            raise NlpseqError(f"{folder}: not a run folder (config.yaml is missing)")
        runs[name] = Path(folder)
    return runs


def build_app(runs: dict[str, Path], config: ServeConfig, device: str = "auto", checkpoint: str = "best"
              ) -> Any:
    """Load every run (``nlpseq.load``) and make the app over them."""
    from nlpseq.api import load
    from nlpseq.serve.app import create_app

    predictors = {}
    for name, folder in runs.items():
        predictors[name] = load(folder, device=device, checkpoint=checkpoint)
        log.info("serving %s (%s) from %s", name, predictors[name].task.name, folder)
    return create_app(predictors, config)


def app_from_env() -> Any:
    """The app of one worker process of ``--workers K`` (uvicorn calls this factory in each)."""
    from nlpseq.cli_run import setup_logging

    setup_logging()  # a fresh (spawned) process: its log lines go to the same stderr
    spec = json.loads(os.environ[SPEC_ENV])
    return build_app({name: Path(folder) for name, folder in spec["runs"].items()},
                     ServeConfig(**spec["config"]), spec["device"], spec["checkpoint"])


def serve(runs: dict[str, Path], config: ServeConfig, device: str = "auto", checkpoint: str = "best") -> None:
    """Serve ``runs`` until SIGTERM or Ctrl-C."""
    import uvicorn

    if not config.loopback:
        log.warning("listening on %s: reachable from other machines (the default --host 127.0.0.1 keeps "
                    "it to this one); this server has no authentication", config.host)
    # uvicorn's own access lines carry no latency: the app writes its own (nlpseq.serve.access).
    options: dict[str, Any] = {"host": config.host, "port": config.port, "access_log": False,
                               "log_config": None, "timeout_graceful_shutdown": None}
    if config.workers > 1:
        os.environ[SPEC_ENV] = json.dumps({"runs": {n: str(p.resolve()) for n, p in runs.items()},
                                           "config": asdict(config), "device": device,
                                           "checkpoint": checkpoint})
        uvicorn.run("nlpseq.serve.runner:app_from_env", factory=True, workers=config.workers, **options)
    else:
        uvicorn.run(build_app(runs, config, device, checkpoint), **options)
