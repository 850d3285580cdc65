"""report.html: self-contained (no network), every plot present and decodable, and it renders in headless
Chromium to a non-blank page with no image failing to load (skipped with a reason where Chromium is absent).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from rewardlab.evaluate.runner import EvalConfig, run
from rewardlab.types import Score

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class WordCount:
    """Reward = number of words in the response (no model needed; the report is what is under test)."""

    name = "test:words"

    def score(self, samples):
        return [Score(float(len(s.response.split()))) for s in samples]


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    """A run over all three benchmark kinds: pairwise, best-of-N (with Ties) and RM-Bench (a tiny file in
    RM-Bench's own layout, written here: the real data is never copied)."""
    root = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(0)
    words = lambda n: " ".join(["word"] * int(n))  # noqa: E731
    pairs = _jsonl(root / "pairs.jsonl", [
        {"id": str(i), "prompt": "p", "chosen": words(rng.integers(1, 30)), "rejected": words(rng.integers(1, 30)),
         "subset": ["alpacaeval-easy", "mt-bench-hard", "donotanswer"][i % 3]} for i in range(60)])
    groups = _jsonl(root / "bon.jsonl", [
        {"id": f"g{i}", "prompt": "p", "chosen": [words(rng.integers(1, 9))],
         "rejected": [words(rng.integers(1, 9)) for _ in range(3)], "subset": ["Focus", "Math"][i % 2]}
        for i in range(20)] + [
        {"id": "ref:1", "prompt": "t", "chosen": [words(6)], "rejected": [words(2), words(3)], "subset": "Ties"},
        {"id": "tied:1", "prompt": "t", "chosen": [words(6), words(5)], "rejected": [words(3)], "subset": "Ties"}])
    rm = root / "data" / "RM-Bench" / "data"
    rm.mkdir(parents=True)
    (rm / "chat_filtered.json").write_text(json.dumps([
        {"id": str(i), "prompt": "p", "subset": "x", "chosen": [words(rng.integers(1, 20)) for _ in range(3)],
         "rejected": [words(rng.integers(1, 20)) for _ in range(3)]} for i in range(12)]))
    config = EvalConfig(reward="test:words", benches=[str(pairs), str(groups), "rm-bench"], out=root / "out",
                        data_root=root / "data", progress=False, report=True)
    run(config, reward=WordCount())
    return root / "out"


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)]


def test_report_is_self_contained_with_every_plot(report_dir):
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    images = _images(html)
    # summary 1 + pairwise 4 (subsets, histograms, reliability, length) + best-of-N 5 (+ curve) + RM-Bench 5
    assert len(images) == 15 == html.count("<img ")
    assert all(img.startswith(b"\x89PNG\r\n\x1a\n") and len(img) > 2000 for img in images)
    assert not re.search(r"""(src|href)\s*=\s*['"]?\s*(https?:|//|file:)""", html, re.I)
    assert "url(" not in html and "@import" not in html and "<script" not in html and "<link" not in html
    for text in ("Summary", "RewardBench v1 score", "RewardBench 2 score", "RM-Bench difficulty", "Best-of-N",
                 "Provenance", "sha256", "Reliability".lower()):
        assert text.lower() in html.lower(), text


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report_dir, tmp_path):
    shot = tmp_path / "report.png"
    page = (report_dir / "report.html").resolve()
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=1200,3000", page.as_uri()], capture_output=True, timeout=120, check=True)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (3000, 1200)
    non_white = (pixels < 245).mean()
    assert non_white > 0.05 and pixels.std() > 20, f"screenshot looks blank ({non_white:.3f} non-white)"
    # nothing failed to load: a probe copy of the page counts images that did not decode after load
    probe = tmp_path / "probe.html"
    script = ("<script>window.addEventListener('load',()=>{const i=[...document.images];document.body.dataset"
              ".images=i.length;document.body.dataset.broken=i.filter(x=>!x.complete||x.naturalWidth===0).length;"
              "});</script></body>")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", script), encoding="utf-8")
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", "--virtual-time-budget=5000",
                          "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    assert 'data-images="15"' in dom and 'data-broken="0"' in dom, dom[-500:]
