"""The index: passages, FAISS vectors, BM25 and a manifest, built atomically; loaded, checked and kept fresh.

Layout under the index folder:
    CURRENT                 name of the build in use (replaced atomically once a build is complete)
    builds/<name>/          manifest.json, documents.jsonl, passages.jsonl, dense.faiss, bm25/
    .build.lock             held by the process building (one build at a time per folder, across processes)
A build is written to a fresh folder and only then named in CURRENT, so a crash or a failed build
leaves the previous index in use. The manifest records what the index was built from (embedding model,
passage settings, corpus fingerprint, format version) and a checksum of every file.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from pydantic import BaseModel, ValidationError

from qa.config import Settings
from qa.documents import Document, Passage
from qa.embedder import Embedder, TextEmbedder
from qa.ingest import Corpus, load_corpus
from qa.passages import split_corpus

log = logging.getLogger(__name__)

# 2: BM25 over title + passage text, Snowball-stemmed.
FORMAT_VERSION = 2
CURRENT_FILE = "CURRENT"
BUILDS_DIR = "builds"
BUILD_LOCK_FILE = ".build.lock"


class IndexProblem(RuntimeError):
    """Base of index problems; messages say what is wrong and what to do."""


class IndexMissingError(IndexProblem):
    pass


class IndexCorruptError(IndexProblem):
    pass


class IndexStaleError(IndexProblem):
    """The index does not match the corpus or settings, and rebuilding is not allowed."""


class IndexBuildBusy(IndexProblem):
    """Another process is building an index in the same folder."""


@contextmanager
def build_lock(index_dir: Path, wait: bool) -> Iterator[None]:
    """One build at a time per index folder, across processes: two servers sharing the folder, replicas, `qa index`
    beside a running service. (A second build would remove the first one's folder as an older build.) The OS drops
    the lock when its holder dies, so a killed build never leaves it held."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / BUILD_LOCK_FILE, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise IndexBuildBusy(
                f"another process is building the index in {index_dir}; try again when it has finished"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def build_running(index_dir: Path) -> bool:
    """Whether some process is building an index in `index_dir` now."""
    if not (Path(index_dir) / BUILD_LOCK_FILE).exists():
        return False
    try:
        with build_lock(index_dir, wait=False):
            return False
    except IndexBuildBusy:
        return True


class PassageSettings(BaseModel):
    sentences: int
    overlap: int
    max_chars: int


class IndexManifest(BaseModel):
    format_version: int
    built_at: str
    embedding_model: str
    dimensions: int
    index_type: str
    passage_settings: PassageSettings
    corpus_dir: str
    corpus_fingerprint: str
    documents: int
    passages: int
    skipped_files: list[str] = []
    files: dict[str, str]  # relative path -> sha256


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def bm25_tokenize(texts: list[str]) -> Any:
    """The one tokenizer for BM25, at build time and at question time: lower-cased, English stop words dropped,
    Snowball-stemmed ("visits" matches "visit")."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False)


def bm25_text(passage: Passage, document: Document) -> str:
    """What BM25 indexes for a passage: its document's title too, since questions often name the article's
    subject while the passage only says "it" or "the trust"."""
    return f"{document.title}\n{passage.text}" if document.title else passage.text


def _dense_index(vectors: np.ndarray, index_type: str):
    import faiss

    dimensions = vectors.shape[1]
    index: Any
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dimensions, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexFlatIP(dimensions)
    index.add(vectors)
    return index


def current_build_dir(index_dir: Path) -> Path | None:
    pointer = Path(index_dir) / CURRENT_FILE
    if not pointer.exists():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return Path(index_dir) / BUILDS_DIR / name if name else None


def build_index(
    corpus: Corpus,
    index_dir: Path,
    embedder: TextEmbedder,
    sentences: int,
    overlap: int,
    max_chars: int,
    index_type: str,
    corpus_dir: Path | str = "",
    progress: bool = True,
    lock_held: bool = False,
) -> IndexManifest:
    """Build a complete index in a new folder, then make it current; older builds are removed afterwards.
    IndexBuildBusy when another process is building in the same folder (`lock_held`: the caller holds the lock)."""
    if not lock_held:
        with build_lock(index_dir, wait=False):
            return build_index(
                corpus, index_dir, embedder, sentences, overlap, max_chars, index_type, corpus_dir, progress, True
            )
    import bm25s
    import faiss

    started = time.perf_counter()
    index_dir = Path(index_dir)
    builds = index_dir / BUILDS_DIR
    builds.mkdir(parents=True, exist_ok=True)
    name = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    staging = builds / (name + ".partial")
    staging.mkdir()
    try:
        passages = split_corpus(corpus.documents, sentences, overlap, max_chars)
        log.info("index build: %d documents -> %d passages", len(corpus.documents), len(passages))
        vectors = embedder.embed([p.text for p in passages], progress=progress)
        faiss.write_index(_dense_index(vectors, index_type), str(staging / "dense.faiss"))
        retriever = bm25s.BM25()
        documents = {d.id: d for d in corpus.documents}
        retriever.index(bm25_tokenize([bm25_text(p, documents[p.doc_id]) for p in passages]), show_progress=False)
        retriever.save(str(staging / "bm25"), show_progress=False)
        with (staging / "documents.jsonl").open("w", encoding="utf-8") as handle:
            for document in corpus.documents:
                handle.write(document.model_dump_json() + "\n")
        with (staging / "passages.jsonl").open("w", encoding="utf-8") as handle:
            for passage in passages:
                handle.write(passage.model_dump_json(exclude={"text"}) + "\n")
        files = {str(path.relative_to(staging)): _sha256(path) for path in sorted(staging.rglob("*")) if path.is_file()}
        manifest = IndexManifest(
            format_version=FORMAT_VERSION,
            built_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            embedding_model=embedder.name,
            dimensions=int(vectors.shape[1]),
            index_type=index_type,
            passage_settings=PassageSettings(sentences=sentences, overlap=overlap, max_chars=max_chars),
            corpus_dir=str(corpus_dir),
            corpus_fingerprint=corpus.fingerprint,
            documents=len(corpus.documents),
            passages=len(passages),
            skipped_files=corpus.skipped,
            files=files,
        )
        (staging / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
        final = builds / name
        staging.rename(final)
        # The switch: write the pointer beside, then rename over the old one (atomic on POSIX).
        pointer_tmp = index_dir / (CURRENT_FILE + ".tmp")
        pointer_tmp.write_text(name + "\n", encoding="utf-8")
        with pointer_tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(pointer_tmp, index_dir / CURRENT_FILE)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for old in builds.iterdir():
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    log.info("index build %s done in %.1fs", name, time.perf_counter() - started)
    return manifest


class CorpusIndex:
    """A loaded index: documents, passages, and the dense and BM25 searches over them."""

    def __init__(
        self,
        path: Path,
        manifest: IndexManifest,
        documents: dict[str, Document],
        passages: list[Passage],
        dense: Any,
        bm25: Any,
    ):
        self.path = path
        self.manifest = manifest
        self.documents = documents
        self.passages = passages
        self._dense = dense  # faiss.Index
        self._bm25 = bm25  # bm25s.BM25

    def dense_search(self, vectors: np.ndarray, k: int) -> list[list[int]]:
        """Passage ids nearest each question vector (inner product), best first."""
        k = min(k, self._dense.ntotal)
        _, ids = self._dense.search(vectors, k)
        return [[int(i) for i in row if i >= 0] for row in ids]

    def bm25_search(self, questions: list[str], k: int) -> list[list[int]]:
        """Passage ids by BM25 score for each question, best first; passages sharing no term with it are left
        out: they are not evidence."""
        k = min(k, len(self.passages))
        ids, scores = self._bm25.retrieve(bm25_tokenize(questions), k=k, show_progress=False, n_threads=1)
        return [[int(i) for i, s in zip(row, srow) if s > 0] for row, srow in zip(ids, scores)]


def read_manifest(index_dir: Path) -> IndexManifest:
    build = current_build_dir(index_dir)
    if build is None or not build.is_dir():
        raise IndexMissingError(f"no index in {index_dir}: run `qa index` to build one")
    try:
        return IndexManifest.model_validate_json((build / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError) as exc:
        raise IndexCorruptError(f"index {build}: manifest.json unreadable ({exc}); rebuild with `qa index`") from exc


def load_index(index_dir: Path, verify: bool = True) -> CorpusIndex:
    """Load the current build, checking every file against its manifest checksum first."""
    import bm25s
    import faiss

    manifest = read_manifest(index_dir)
    build = current_build_dir(index_dir)
    assert build is not None
    if manifest.format_version != FORMAT_VERSION:
        raise IndexCorruptError(
            f"index {build}: format version {manifest.format_version}, this code reads {FORMAT_VERSION}; rebuild"
        )
    if verify:
        for relative, expected in manifest.files.items():
            path = build / relative
            if not path.is_file():
                raise IndexCorruptError(f"index {build}: file {relative} is missing; rebuild with `qa index`")
            if _sha256(path) != expected:
                raise IndexCorruptError(f"index {build}: file {relative} is corrupt (checksum mismatch); rebuild")
    try:
        documents = {}
        for line in (build / "documents.jsonl").read_text(encoding="utf-8").splitlines():
            document = Document.model_validate_json(line)
            documents[document.id] = document
        passages = []
        for line in (build / "passages.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            document = documents[record["doc_id"]]
            passages.append(Passage(text=document.text[record["start"] : record["end"]], **record))
        dense = faiss.read_index(str(build / "dense.faiss"))
        bm25 = bm25s.BM25.load(str(build / "bm25"))
    except Exception as exc:  # any parse failure of a build file means the build is unusable
        raise IndexCorruptError(f"index {build}: cannot be read ({type(exc).__name__}: {exc}); rebuild") from exc
    if dense.ntotal != len(passages) or dense.d != manifest.dimensions:
        raise IndexCorruptError(f"index {build}: vector count or size does not match the passages; rebuild")
    return CorpusIndex(build, manifest, documents, passages, dense, bm25)


def staleness(
    manifest: IndexManifest,
    corpus_fingerprint: str,
    embedding_model: str,
    sentences: int,
    overlap: int,
    max_chars: int,
    index_type: str,
) -> list[str]:
    """Reasons the index no longer matches the corpus or settings (empty when it is fresh)."""
    reasons = []
    if manifest.format_version != FORMAT_VERSION:
        reasons.append(f"index format {manifest.format_version}, this code builds format {FORMAT_VERSION}")
    if manifest.corpus_fingerprint != corpus_fingerprint:
        reasons.append("the corpus changed since the index was built")
    if manifest.embedding_model != embedding_model:
        reasons.append(f"index built with embedding model {manifest.embedding_model}, configured {embedding_model}")
    wanted = PassageSettings(sentences=sentences, overlap=overlap, max_chars=max_chars)
    if manifest.passage_settings != wanted:
        reasons.append(f"passage settings changed ({manifest.passage_settings} -> {wanted})")
    if manifest.index_type != index_type:
        reasons.append(f"index type changed ({manifest.index_type} -> {index_type})")
    return reasons


def index_options(settings: Settings) -> dict[str, Any]:
    """The settings an index is built with, and checked against to tell whether it is stale."""
    return dict(
        sentences=settings.passage_sentences,
        overlap=settings.passage_overlap,
        max_chars=settings.passage_max_chars,
        index_type=settings.index_type,
    )


def stale_reasons(index_dir: Path, corpus: Corpus, embedder: Embedder, settings: Settings) -> list[str]:
    """Why the index in `index_dir` does not serve this corpus with these settings (empty: it does).
    A damaged manifest raises IndexCorruptError."""
    try:
        manifest = read_manifest(index_dir)
    except IndexMissingError:
        return ["no index built yet"]
    return staleness(manifest, corpus.fingerprint, embedder.name, **index_options(settings))


def build_embedder(settings: Settings, embedder: Embedder) -> TextEmbedder:
    """The embedder a build uses: this process's, or with QA_INDEX_WORKERS the same model on Ray Data workers."""
    if not settings.index_workers:
        return embedder
    from qa.parallel_embedding import RayDataEmbedder

    return RayDataEmbedder(embedder, settings.index_workers, settings.index_worker_cpus)


def ensure_index(
    settings: Settings,
    embedder: Embedder,
    rebuild: bool | None = None,
    force: bool = False,
    corpus: Corpus | None = None,
) -> CorpusIndex:
    """Load the index of `corpus` (default: the corpus folder), building it first when missing, or rebuilding when
    stale and auto_build is on (always, with `force`). A failed build leaves the previous index in place."""
    corpus = corpus or load_corpus(settings.corpus_dir)
    try:
        reasons = stale_reasons(settings.index_dir, corpus, embedder, settings)
    except IndexCorruptError as exc:
        if not force:
            raise
        reasons = [str(exc)]  # a forced rebuild replaces a damaged index
    if force:
        reasons = reasons or ["rebuild requested"]
        rebuild = True
    if reasons:
        allowed = settings.auto_build if rebuild is None else rebuild
        if not allowed:
            raise IndexStaleError(f"index in {settings.index_dir} is out of date: {'; '.join(reasons)}; run `qa index`")
        # A requested rebuild refuses to wait behind another build; a start-up build waits for it, then builds
        # only if what the other process built is still not this corpus's index.
        with build_lock(settings.index_dir, wait=not force):
            if not force and not stale_reasons(settings.index_dir, corpus, embedder, settings):
                return load_index(settings.index_dir)
            log.info("building the index: %s", "; ".join(reasons))
            build_index(
                corpus,
                settings.index_dir,
                build_embedder(settings, embedder),
                corpus_dir=settings.corpus_dir,
                lock_held=True,
                **index_options(settings),
            )
    return load_index(settings.index_dir)
