"""Shared test setup: the tests never touch the network.

``datasets`` and ``huggingface_hub`` read their offline switches once, at import, so they are set here
(conftest is imported before any test module) rather than in a fixture.
"""

import os

os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
# The test models are tiny: more threads cost more than they save, and on a 2-core machine they spin
# against each other. Read by torch when it is first imported, which is after this file.
os.environ.setdefault("OMP_NUM_THREADS", "1")
