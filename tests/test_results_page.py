"""docs/results.md against the committed study: each block `experiments/report.py --results-page --plan` writes (the
headline table, TransfQMix beside the best run, the study's progress) is the one the committed CSVs give, so a chunk
committed without regenerating the page, or a hand edit inside a block, fails here."""

import shutil
import subprocess
from pathlib import Path

import pytest

from experiments.report import BLOCK_END, load, results_page_blocks, study_progress

ROOT = Path(__file__).resolve().parents[1]
STUDY = "results/study/vmas_spread"
CONFIG = "experiments/configs/study_spread.yaml"


def committed_chunks() -> list[str]:
    """The study's chunk folders git tracks, as the docs' report command names them (`results/study/vmas_spread/x/`)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the committed chunks are unknown")
    tracked = subprocess.run(["git", "ls-files", STUDY], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return sorted({"/".join(path.split("/")[:4]) + "/" for path in tracked.split() if path.count("/") == 4})


def block(page: str, marker: str) -> list[str]:
    start = page.index(marker) + len(marker)
    return page[start : page.index(BLOCK_END, start)].strip("\n").split("\n")


def test_the_results_pages_blocks_are_the_ones_the_committed_csvs_give(monkeypatch):
    monkeypatch.chdir(ROOT)
    folders = committed_chunks()
    found = load(folders)
    page = (ROOT / "docs/results.md").read_text()
    blocks = results_page_blocks(found, study_progress(found, folders, CONFIG))
    assert len(blocks) == 3, "headline, TransfQMix and progress"
    regenerate = (
        f"python experiments/report.py {STUDY}/*/ --out docs/study --results-page docs/results.md --plan {CONFIG}"
    )
    for marker, lines in blocks.items():
        assert block(page, marker) == lines, f"{marker} is stale: regenerate it with `{regenerate}`"
