"""Docs are executable (FastAPI ``docs_src`` style): a code block in README.md or docs/*.md marked
``<!-- snippet: PATH -->`` is exactly the text of PATH, and every such file is run here, offline. Every
```python block carries either that marker or ``<!-- not runnable here: REASON -->`` (a sketch needing a
GPU, a hub model or the user's own folders; the reason names the runnable version and its test).
"""

from __future__ import annotations

import ast
import json
import os
import re
import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!-- (snippet|not runnable here): (.+?) -->$")


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    marker: tuple[str, str] | None

    def where(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def fenced_blocks(doc: Path) -> list[Block]:
    """The ``` blocks of a markdown file, with the marker comment on the line just above each, if any."""
    lines = doc.read_text(encoding="utf-8").split("\n")
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].startswith("```"):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            above = MARKER.match(lines[i - 1]) if i else None
            blocks.append(Block(doc, i + 1, lines[i][3:].strip(), "\n".join(lines[i + 1:end]) + "\n",
                                above.groups() if above else None))
            i = end
        i += 1
    return blocks


BLOCKS = [b for doc in DOCS for b in fenced_blocks(doc)]
SNIPPETS = [b for b in BLOCKS if b.marker and b.marker[0] == "snippet"]


def test_every_python_block_is_a_tested_file_or_says_why_not():
    unmarked = [b.where() for b in BLOCKS if b.lang == "python" and b.marker is None]
    assert not unmarked, ("python blocks without <!-- snippet: docs/examples/FILE --> or <!-- not runnable here: "
                          f"REASON --> just above them: {unmarked}")
    assert all(len(b.marker[1]) > 20 for b in BLOCKS if b.marker and b.marker[0] == "not runnable here")


@pytest.mark.parametrize("block", SNIPPETS, ids=[b.where() for b in SNIPPETS])
def test_snippet_text_is_the_file(block):
    path = REPO / block.marker[1]
    assert path.is_file(), f"{block.where()}: snippet file {block.marker[1]} does not exist"
    assert block.text == path.read_text(encoding="utf-8"), (
        f"{block.where()} differs from {block.marker[1]}: edit the file, then copy it into the doc")


def test_every_snippet_file_is_run_here():
    shown = {b.marker[1] for b in SNIPPETS}
    assert shown <= set(RUNNERS), f"snippet files no test runs: {sorted(shown - set(RUNNERS))}"
    assert set(RUNNERS) <= shown, f"runners for files no doc shows: {sorted(set(RUNNERS) - shown)}"


def _run_python(relative: str, capsys) -> str:
    runpy.run_path(str(REPO / relative), run_name="__main__")
    return capsys.readouterr().out


def run_python_api(tmp_path, capsys, monkeypatch):
    value, components, error = _run_python("docs/examples/python_api.py", capsys).split(" ", 2)
    assert float(value) == float(value) and components.startswith("{") and error.strip() == "None"


def run_composite(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)  # the example names examples/composite_reward.yaml relative to the repository
    value, components = _run_python("docs/examples/composite_reward.py", capsys).strip().split("\n")
    parts = ast.literal_eval(components)  # the printed dict
    assert parts["correct"] == 1.0 and parts["format"] == 1.0 and parts["length"] == 0.0
    assert float(value) == pytest.approx(1.0 + 0.2 + 0.1 * parts["rm"])


def run_rule_math(tmp_path, capsys, monkeypatch):
    assert _run_python("docs/examples/rule_math.py", capsys).strip() == (
        "1.0 answer '42' (from answer phrase) equals reference '42' (string)")


def run_remote_client(tmp_path, capsys, monkeypatch):
    from rewardlab import Sample, load_reward
    from rewardlab.serve import ServerThread, create_app

    rule = load_reward("rule:regex,pattern=^4$")
    source = (REPO / "docs/examples/remote_client.py").read_text()
    assert "http://127.0.0.1:8000" in source
    with ServerThread(create_app(rule)) as server:  # the example's URL, pointed at a live server
        exec(compile(source.replace("http://127.0.0.1:8000", server.url), "remote_client.py", "exec"), {})
    offline = [s.value for s in rule.score([Sample("What is 2+2?", "4"), Sample("What is 2+2?", "5")])]
    assert json.loads(capsys.readouterr().out) == offline == [1.0, 0.0]


def run_master_keys(tmp_path, capsys, monkeypatch):
    assert _run_python("docs/examples/master_keys.py", capsys) == "worked solution: 1.0\naccepted keys: []\n"


def run_serve_in_thread(tmp_path, capsys, monkeypatch):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+\n", _run_python("docs/examples/serve_in_thread.py", capsys))


def run_cli_tour(tmp_path, capsys, monkeypatch):
    env = {**os.environ, "OUT": str(tmp_path / "tour"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", str(REPO / "docs/examples/cli_tour.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = tmp_path / "tour"
    assert len((out / "scores.jsonl").read_text().splitlines()) == 16
    for run in ("eval-verifier", "eval-length"):
        assert (out / run / "report.html").is_file()
    verifier = json.loads((out / "eval-verifier" / "results.json").read_text())
    assert verifier["summary"]["bon.jsonl"]["value"] == 1.0  # the verifier picks a correct answer every time
    assert "paired bootstrap" in done.stdout + done.stderr  # rich prints its tables to stderr


def run_shared_prompt(tmp_path, capsys, monkeypatch):
    assert _run_python("docs/examples/shared_prompt.py", capsys).split() == ["True", "True"]


def run_search_python(tmp_path, capsys, monkeypatch):
    out = _run_python("docs/examples/search_python.py", capsys)
    assert "q1 picked 2 answer 42 correct True" in out and "abstained: 1 " in out
    oracle = next(line for line in out.splitlines() if line.strip().startswith("oracle:"))
    assert oracle.split()[-1] == "1.00"  # 256 candidates hold a right one for every prompt


def run_genrm(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["genrm_train_and_score.py", str(tmp_path)])
    printed = _run_python("docs/examples/genrm_train_and_score.py", capsys)
    assert "trained 8 steps on" in printed and f"judge:hf:{(tmp_path / 'genrm').resolve()}" in printed
    values = [float(line.split()[-1]) for line in printed.splitlines() if line.startswith(("gold ", "wrong "))]
    assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values)  # P(Yes) of each


RUNNERS = {
    "docs/examples/python_api.py": run_python_api,
    "docs/examples/composite_reward.py": run_composite,
    "docs/examples/rule_math.py": run_rule_math,
    "docs/examples/remote_client.py": run_remote_client,
    "docs/examples/serve_in_thread.py": run_serve_in_thread,
    "docs/examples/shared_prompt.py": run_shared_prompt,
    "docs/examples/master_keys.py": run_master_keys,
    "docs/examples/search_python.py": run_search_python,
    "docs/examples/cli_tour.sh": pytest.param(run_cli_tour, marks=pytest.mark.slow),
    "docs/examples/genrm_train_and_score.py": pytest.param(run_genrm, marks=pytest.mark.slow),
}


@pytest.mark.parametrize("runner", list(RUNNERS.values()), ids=list(RUNNERS))
def test_snippet_file_runs(runner, tmp_path, capsys, monkeypatch):
    runner(tmp_path, capsys, monkeypatch)
