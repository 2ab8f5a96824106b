import json
import subprocess
import sys

from conftest import ROOT, SEEDS


def run_qa(*args, env=None):
    import os

    return subprocess.run(
        [sys.executable, "-m", "qa_cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


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
    (corpus / "a.txt").write_text(
        (SEEDS / "000_8b6f645272f1e33c.txt").read_text(encoding="utf-8") + "\nExtra.", encoding="utf-8"
    )
    result = run_qa(
        "ask", "Who?", "--corpus-dir", str(corpus), "--index-dir", str(seed_index_dir), env={"QA_AUTO_BUILD": "false"}
    )
    assert result.returncode == 2
    assert "out of date" in result.stderr and "corpus changed" in result.stderr


def test_eval_seed_uses_the_reader_it_is_given(seed_index_dir, tmp_path):
    """--model takes effect for `qa eval seed` (it used to be accepted and ignored): a folder without a
    reader is refused, naming the folder."""
    result = run_qa(
        "eval",
        "seed",
        "--model",
        str(tmp_path / "no-reader"),
        "--index-dir",
        str(seed_index_dir),
        "--out",
        str(tmp_path / "out"),
    )
    assert result.returncode == 2
    assert "no-reader" in result.stderr and "Traceback" not in result.stderr


def test_each_evaluation_takes_only_its_own_flags():
    result = run_qa("eval", "news-check", "--model", "x")
    assert result.returncode == 2 and "unrecognized arguments: --model" in result.stderr
    result = run_qa("eval", "seed", "--help")
    assert result.returncode == 0 and "--all-articles" not in result.stdout and "--decision" in result.stdout
