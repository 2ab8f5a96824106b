import json
import subprocess
import sys

from conftest import ROOT, SEEDS


def run_qa(*args, env=None):
    import os

    return subprocess.run([sys.executable, "-m", "qa_cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_ask_json(seed_index_dir):
    result = run_qa("ask", "How many births does Luton have annually?", "--json", "--index-dir", str(seed_index_dir))
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["answers"][0]["text"] in ("5,200", "around 5,200")


def test_bad_corpus_folder_is_named_in_the_error(tmp_path):
    result = run_qa("index", "--corpus-dir", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "idx"))
    assert result.returncode == 2
    assert "nope" in result.stderr and "Traceback" not in result.stderr


def test_stale_index_is_reported_when_auto_build_is_off(seed_index_dir, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text((SEEDS / "000_8b6f645272f1e33c.txt").read_text(encoding="utf-8") + "\nExtra.", encoding="utf-8")
    result = run_qa("ask", "Who?", "--corpus-dir", str(corpus), "--index-dir", str(seed_index_dir),
                    env={"QA_AUTO_BUILD": "false"})
    assert result.returncode == 2
    assert "out of date" in result.stderr and "corpus changed" in result.stderr
