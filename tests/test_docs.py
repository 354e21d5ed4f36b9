"""The documentation site builds with warnings as errors (broken links, pages missing from the navigation, API
reference entries that no longer resolve), and README keeps its two commands on top."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_docs_site_builds_with_warnings_as_errors(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert (tmp_path / "site" / "api" / "index.html").read_text().count("rl_algos.qmix.learner") > 0


def test_readme_opens_with_the_two_commands_and_links_every_docs_page():
    readme = (ROOT / "README.md").read_text()
    commands = readme.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[:2] for line in commands] == [["bash", "scripts/run.sh"], ["bash", "scripts/test.sh"]]
    pages = {path.name for path in (ROOT / "docs").glob("*.md")} - {"index.md", "api.md"}
    assert {page for page in pages if f"(docs/{page}" not in readme} == set()
