"""Shared test setup: the tests never touch the network.

``datasets`` and ``huggingface_hub`` read their offline switches once, at import, so they are set here
(conftest is imported before any test module) rather than in a fixture.
"""

import os

os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
