import json

from conftest import SEEDS, run_qa


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


def test_add_list_remove_and_index_name_every_refused_file(seed_index_dir, tmp_path):
    """`qa add|list|remove` over a corpus folder and its index, with the rules and reasons of HTTP, and `qa index`'s
    one line per skipped file and its count."""
    import shutil

    from bench.sample_documents import REPORT_FACTS, news_page_html, report_pdf, scanned_pdf

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    shutil.copy(SEEDS / "000_8b6f645272f1e33c.txt", corpus)
    shutil.copytree(seed_index_dir, index)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "ward.html").write_text(news_page_html(), encoding="utf-8")
    (incoming / "westmoor.pdf").write_bytes(report_pdf(pages=3))
    (incoming / "scan.pdf").write_bytes(scanned_pdf())
    (incoming / "notes.exe").write_bytes(b"MZ")
    where = ["--corpus-dir", str(corpus), "--index-dir", str(index)]

    added = run_qa("add", str(incoming), *where)
    assert added.returncode == 1, added.stderr  # some files were refused
    assert "added ward (" in added.stdout and "added westmoor (" in added.stdout
    assert "scan.pdf: no text layer" in added.stderr and "notes.exe: unsupported type (.exe)" in added.stderr
    assert "2 of 4 files refused" in added.stderr and "Traceback" not in added.stderr
    again = run_qa("add", str(incoming / "westmoor.pdf"), "--date", "2024-03-20", *where)
    assert again.returncode == 0 and again.stdout.startswith("updated westmoor"), again.stderr

    listed = json.loads(run_qa("list", "--json", *where).stdout)
    by_id = {d["doc_id"]: d for d in listed}
    assert by_id["westmoor"]["pages"] == 3 and by_id["westmoor"]["date"] == "2024-03-20"
    assert by_id["ward"]["type"] == "html" and "000_8b6f645272f1e33c" in by_id

    asked = json.loads(run_qa("ask", next(iter(REPORT_FACTS)), "--json", *where).stdout)
    assert asked["answers"][0]["citation"]["doc_id"] == "westmoor" and asked["answers"][0]["citation"]["page"] == 2

    removed = run_qa("remove", "westmoor", "no-such-doc", *where)
    assert removed.returncode == 1 and "removed westmoor" in removed.stdout
    assert "no document with id 'no-such-doc'" in removed.stderr
    assert not (corpus / "westmoor.pdf").exists()

    shutil.copy(incoming / "scan.pdf", corpus)
    shutil.copy(incoming / "notes.exe", corpus)
    indexed = run_qa("index", *where)
    assert indexed.returncode == 0, indexed.stderr
    assert "indexed 2 documents" in indexed.stdout
    assert (
        "skipped 2 files: notes.exe (unsupported type" in indexed.stderr and "scan.pdf (no text layer" in indexed.stderr
    )
