"""The generated configuration reference: every key described, the docs page up to date, and the
source reading (comments, help metadata, ranges, Literal choices) on a made-up dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from nlpseq import config_reference
from nlpseq.ranges import matching, ranged
from tests.helpers import ROOT

PAGE = ROOT / "docs" / "configuration-reference.md"


def test_every_config_key_has_a_description():
    missing = config_reference.missing_descriptions()
    assert missing == [], ("config fields without a description (write a `# comment` directly above "
                           "each, or metadata help):\n" + "\n".join(missing))


def test_reference_page_is_up_to_date():
    assert PAGE.read_text(encoding="utf-8") == config_reference.reference_markdown(), (
        "docs/configuration-reference.md is stale: run "
        "`python -m nlpseq.config_reference > docs/configuration-reference.md`")


@dataclass
class _Inner:
    """The inner section."""

    # How deep.
    depth: int = ranged(2, ge=1, le=8)


@dataclass
class _Made:
    """A made-up section."""

    # The kind of thing,
    # on two lines.
    kind: Literal["a", "b"] = "a"
    size: int = ranged(4, gt=0)  # trailing words
    # a comment that the help metadata overrides
    name: str = field(default="x", metadata={"help": "the help text"})
    device: str = matching("cpu", r"cpu|gpu", "a device (cpu or gpu)")
    # grouped
    # First of the group.
    first: float | None = None
    second: bool = False
    inner: _Inner = field(default_factory=lambda: _Inner(depth=3))


def test_descriptions_ranges_and_choices_are_read_from_the_source():
    keys = {key.name: key for key in config_reference.section_keys(_Made, "made")}
    assert list(keys) == ["made.kind", "made.size", "made.name", "made.device", "made.first",
                          "made.second", "made.inner", "made.inner.depth"]
    assert keys["made.kind"].description == "The kind of thing, on two lines."
    assert keys["made.kind"].allowed == "`a`, `b`"
    assert keys["made.kind"].default == "`a`"
    assert keys["made.size"].description == "trailing words"
    assert keys["made.size"].allowed == "> 0"
    assert keys["made.name"].description == "the help text"
    assert keys["made.device"].allowed == "a device (cpu or gpu)"
    assert keys["made.first"].description == "(grouped) First of the group."
    assert keys["made.first"].type == "float or None"
    assert keys["made.first"].default == "`null`"
    assert keys["made.second"].description == ""
    assert keys["made.inner"].section and keys["made.inner"].description == "The inner section."
    depth = keys["made.inner.depth"]
    assert (depth.description, depth.allowed) == ("How deep.", ">= 1 and <= 8")
    # A section the recipe writes starts from the class defaults; left out, from the default factory.
    assert depth.default == "`2` (`3` when the recipe has no `made.inner` section)"


def test_markdown_table_cells_are_escaped():
    markdown = "\n".join(config_reference._table(config_reference.section_keys(_Made, "made")))
    assert "| `made.first` | float or None | `null` |  | (grouped) First of the group. |" in markdown
    assert config_reference._cell("a <unk> | `x|<y>`") == "a &lt;unk> \\| `x\\|<y>`"
