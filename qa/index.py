"""The index: passages, FAISS vectors, BM25 and a manifest, built atomically; loaded, checked, kept fresh, and changed
one document at a time.

Layout under the index folder:
    CURRENT                 name of the build in use (replaced atomically once a build is complete)
    builds/<name>/          manifest.json, documents.jsonl, passages.jsonl, dense.faiss, bm25/, bm25_tokens.jsonl
    .build.lock             held by the process writing (one build or change at a time per folder, across processes)
A build is written to a fresh folder and only then named in CURRENT, so a crash or a failed build leaves the
previous index in use. The manifest records what the index was built from (embedding model, passage settings,
corpus fingerprint, format version) and a checksum of every file.

Passage ids are stable: FAISS holds each vector under its passage's id (`IndexIDMap2`), so a change of corpus
(`update_index`) removes the vectors of the documents that went or changed (`remove_ids`) and embeds only the
passages of the documents that arrived or changed; everything else is carried over. BM25 (bm25s cannot add or
remove documents) is re-indexed from the stored tokens of every passage, which is cheap; only new passages are
tokenized. Passages are kept in corpus order and ties in retrieval are broken by that order, so an index changed
document by document answers as a full build of the same files does (a test checks it). HNSW cannot remove vectors:
with QA_INDEX_TYPE=hnsw an add inserts into the graph, and a removal rebuilds the graph from the stored vectors
(no embedding).
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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from pydantic import BaseModel, ValidationError

from qa.config import Settings
from qa.documents import Document, Passage
from qa.durable_files import write_atomically
from qa.embedder import Embedder, TextEmbedder
from qa.ingest import Corpus, load_corpus, read_limits
from qa.passages import split_corpus

log = logging.getLogger(__name__)


def _bm25s() -> Any:
    import bm25s

    # bm25s sets its logger to DEBUG when imported; its per-build line says nothing an operator needs.
    logging.getLogger("bm25s").setLevel(logging.INFO)
    return bm25s


# 3: vectors under stable passage ids (IndexIDMap2), BM25 tokens stored for changes one document at a time.
FORMAT_VERSION = 3
CURRENT_FILE = "CURRENT"
BUILDS_DIR = "builds"
BUILD_LOCK_FILE = ".build.lock"
TOKENS_FILE = "bm25_tokens.jsonl"
CORPUS_CHANGED = "the corpus changed since the index was built"


class IndexProblem(RuntimeError):
    """Base of index problems; messages say what is wrong and what to do."""


class IndexMissingError(IndexProblem):
    pass


class IndexCorruptError(IndexProblem):
    pass


class IndexStaleError(IndexProblem):
    """The index does not match the corpus or settings, and rebuilding is not allowed."""


class IndexBuildBusy(IndexProblem):
    """Another process is building or changing the index in the same folder."""


@contextmanager
def build_lock(index_dir: Path, wait: bool | float) -> Iterator[None]:
    """One build or change at a time per index folder, across processes: two servers sharing the folder, replicas,
    `qa index` or `qa add` beside a running service. (A second build would remove the first one's folder as an older
    build; two changes would each drop the other's document.) `wait`: False fails at once, True waits for ever, a
    number waits that many seconds. The OS drops the lock when its holder dies, so a killed build never leaves it
    held."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / BUILD_LOCK_FILE, "a+b") as handle:
        deadline = time.monotonic() + (float(wait) if not isinstance(wait, bool) else 0.0)
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait is True else fcntl.LOCK_NB))
                break
            except BlockingIOError as exc:
                if time.monotonic() >= deadline:
                    raise IndexBuildBusy(
                        f"another process is building or changing the index in {index_dir}; "
                        "try again when it has finished"
                    ) from exc
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def build_running(index_dir: Path) -> bool:
    """Whether some process is building or changing an index in `index_dir` now."""
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
    next_passage_id: int = 0
    change: str = "full build"  # what made this build: "full build", or the documents added and removed
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


def _tokenize(texts: list[str], return_ids: bool) -> Any:
    return _bm25s().tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False, return_ids=return_ids)


def bm25_tokenize(texts: list[str]) -> Any:
    """The one tokenizer for BM25, at build time and at question time: lower-cased, English stop words dropped,
    Snowball-stemmed ("visits" matches "visit")."""
    return _tokenize(texts, return_ids=True)


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    """`bm25_tokenize` as token strings per text, the form stored with a build."""
    return _tokenize(texts, return_ids=False)


def bm25_text(passage: Passage, document: Document) -> str:
    """What BM25 indexes for a passage: its document's title too, since questions often name the article's
    subject while the passage only says "it" or "the trust"."""
    return f"{document.title}\n{passage.text}" if document.title else passage.text


def _empty_dense(dimensions: int, index_type: str) -> Any:
    """A FAISS index that holds each vector under its passage id."""
    import faiss

    inner: Any
    if index_type == "hnsw":
        inner = faiss.IndexHNSWFlat(dimensions, 32, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efSearch = 128
    else:
        inner = faiss.IndexFlatIP(dimensions)
    return faiss.IndexIDMap2(inner)


def _dense_index(vectors: np.ndarray, ids: np.ndarray, index_type: str) -> Any:
    index = _empty_dense(vectors.shape[1], index_type)
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
    return index


def current_build_dir(index_dir: Path) -> Path | None:
    pointer = Path(index_dir) / CURRENT_FILE
    if not pointer.exists():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return Path(index_dir) / BUILDS_DIR / name if name else None


@dataclass
class BuildContent:
    """Everything a build folder holds, in memory: documents and passages in corpus order, the vectors under the
    passages' ids, and each passage's BM25 tokens (same order as `passages`)."""

    documents: list[Document]
    passages: list[Passage]
    dense: Any  # faiss.IndexIDMap2
    tokens: list[list[str]]
    next_passage_id: int


def bm25_index(tokens: list[list[str]]) -> Any:
    """A BM25 retriever over texts tokenized by `bm25_tokens` (what a build stores); query it with `bm25_tokenize`."""
    bm25s = _bm25s()

    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    return retriever


def _publish(
    index_dir: Path,
    content: BuildContent,
    bm25: Any,
    describe: dict[str, Any],
) -> tuple[IndexManifest, Path]:
    """Write `content` to a new build folder, then make it current (atomic rename of the pointer); older builds
    are removed afterwards. On any failure the new folder is removed and the previous build stays current."""
    import faiss

    index_dir = Path(index_dir)
    builds = index_dir / BUILDS_DIR
    builds.mkdir(parents=True, exist_ok=True)
    previous = current_build_dir(index_dir)
    name = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    staging = builds / (name + ".partial")
    staging.mkdir()
    try:
        faiss.write_index(content.dense, str(staging / "dense.faiss"))
        bm25.save(str(staging / "bm25"), show_progress=False)
        with (staging / "documents.jsonl").open("w", encoding="utf-8") as handle:
            for document in content.documents:
                handle.write(document.model_dump_json() + "\n")
        with (staging / "passages.jsonl").open("w", encoding="utf-8") as handle:
            for passage in content.passages:
                handle.write(passage.model_dump_json(exclude={"text"}) + "\n")
        with (staging / TOKENS_FILE).open("w", encoding="utf-8") as handle:
            for tokens in content.tokens:
                handle.write(json.dumps(tokens, ensure_ascii=False) + "\n")
        for path in staging.rglob("*"):
            if path.is_file():
                with path.open("rb") as handle:
                    os.fsync(handle.fileno())
        files = {str(path.relative_to(staging)): _sha256(path) for path in sorted(staging.rglob("*")) if path.is_file()}
        manifest = IndexManifest(
            format_version=FORMAT_VERSION,
            built_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            documents=len(content.documents),
            passages=len(content.passages),
            next_passage_id=content.next_passage_id,
            files=files,
            **describe,
        )
        (staging / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
        final = builds / name
        staging.rename(final)
        # The switch: the pointer replaced atomically.
        write_atomically(index_dir / CURRENT_FILE, (name + "\n").encode())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # The build just replaced stays one more round: a server or replica may be loading it right now.
    keep = {name, previous.name} if previous is not None else {name}
    for old in builds.iterdir():
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
    return manifest, final


def _describe(
    corpus: Corpus,
    embedder_name: str,
    dimensions: int,
    passage_settings: PassageSettings,
    index_type: str,
    corpus_dir: Path | str,
    change: str,
) -> dict[str, Any]:
    """The manifest's account of what a build was made from and what made it."""
    return dict(
        embedding_model=embedder_name,
        dimensions=dimensions,
        index_type=index_type,
        passage_settings=passage_settings,
        corpus_dir=str(corpus_dir),
        corpus_fingerprint=corpus.fingerprint,
        skipped_files=corpus.skipped,
        change=change,
    )


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
    started = time.perf_counter()
    passages = split_corpus(corpus.documents, sentences, overlap, max_chars)
    log.info("index build: %d documents -> %d passages", len(corpus.documents), len(passages))
    vectors = embedder.embed([p.text for p in passages], progress=progress)
    documents = {d.id: d for d in corpus.documents}
    tokens = bm25_tokens([bm25_text(p, documents[p.doc_id]) for p in passages])
    content = BuildContent(
        documents=list(corpus.documents),
        passages=passages,
        dense=_dense_index(vectors, np.arange(len(passages), dtype=np.int64), index_type),
        tokens=tokens,
        next_passage_id=len(passages),
    )
    manifest, final = _publish(
        index_dir,
        content,
        bm25_index(tokens),
        _describe(
            corpus,
            embedder.name,
            int(vectors.shape[1]),
            PassageSettings(sentences=sentences, overlap=overlap, max_chars=max_chars),
            index_type,
            corpus_dir,
            "full build",
        ),
    )
    log.info("index build %s done in %.1fs", final.name, time.perf_counter() - started)
    return manifest


class CorpusIndex:
    """A loaded index: documents, passages (in corpus order), and the dense and BM25 searches over them, both
    answering in passage ids."""

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
        self._dense = dense  # faiss.IndexIDMap2: vectors under passage ids
        self._bm25 = bm25  # bm25s.BM25: row i is passages[i]
        self._by_id = {passage.id: passage for passage in passages}
        # Position in corpus order: the tie-break of retrieval, the same in a full build and a changed index.
        self.order = {passage.id: position for position, passage in enumerate(passages)}

    def passage(self, passage_id: int) -> Passage:
        return self._by_id[passage_id]

    def dense_search(self, vectors: np.ndarray, k: int) -> list[list[int]]:
        """Passage ids nearest each question vector (inner product), best first; equal scores in corpus order."""
        k = min(k, self._dense.ntotal)
        if k <= 0:
            return [[] for _ in range(len(vectors))]
        scores, ids = self._dense.search(vectors, k)
        results = []
        for srow, row in zip(scores, ids):
            hits = [(float(score), int(i)) for score, i in zip(srow, row) if i >= 0]
            hits.sort(key=lambda hit: (-hit[0], self.order[hit[1]]))
            results.append([i for _, i in hits])
        return results

    def bm25_search(self, questions: list[str], k: int) -> list[list[int]]:
        """Passage ids by BM25 score for each question, best first; passages sharing no term with it are left
        out: they are not evidence."""
        k = min(k, len(self.passages))
        rows, scores = self._bm25.retrieve(bm25_tokenize(questions), k=k, show_progress=False, n_threads=1)
        return [[self.passages[int(r)].id for r, s in zip(row, srow) if s > 0] for row, srow in zip(rows, scores)]

    def stored_tokens(self) -> list[list[str]]:
        """Each passage's BM25 tokens as stored with the build (read on demand: only a change needs them)."""
        with (self.path / TOKENS_FILE).open(encoding="utf-8") as handle:
            tokens = [json.loads(line) for line in handle]
        if len(tokens) != len(self.passages):
            raise IndexCorruptError(f"index {self.path}: {TOKENS_FILE} does not match the passages; rebuild")
        return tokens


def _manifest_of(build: Path | None, index_dir: Path) -> IndexManifest:
    if build is None or not build.is_dir():
        raise IndexMissingError(f"no index in {index_dir}: run `qa index` to build one")
    try:
        return IndexManifest.model_validate_json((build / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError) as exc:
        raise IndexCorruptError(f"index {build}: manifest.json unreadable ({exc}); rebuild with `qa index`") from exc


def read_manifest(index_dir: Path) -> IndexManifest:
    return _manifest_of(current_build_dir(index_dir), index_dir)


def load_index(index_dir: Path, verify: bool = True) -> CorpusIndex:
    """Load the current build, checking every file against its manifest checksum first."""
    import faiss

    bm25s = _bm25s()

    build = current_build_dir(index_dir)  # read once: a change may name another build meanwhile
    manifest = _manifest_of(build, index_dir)
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


class IndexChange(BaseModel):
    """What `update_index` did: documents added, updated (new content under the same id) and removed, and the
    passages embedded for them."""

    added: list[str] = []
    updated: list[str] = []
    removed: list[str] = []
    passages_embedded: int = 0
    passages_removed: int = 0
    seconds: float = 0.0

    @property
    def empty(self) -> bool:
        return not (self.added or self.updated or self.removed)

    def describe(self) -> str:
        named = (("added", self.added), ("updated", self.updated), ("removed", self.removed))
        parts = [f"{name} {', '.join(ids[:5])}{' …' if len(ids) > 5 else ''}" for name, ids in named if ids]
        return "; ".join(parts) or "no change"


def _same_document(a: Document, b: Document) -> bool:
    """Equal for the index: what passages, vectors and BM25 are made of (not when the file arrived)."""
    return a.model_dump(exclude={"added_at"}) == b.model_dump(exclude={"added_at"})


def update_index(
    corpus: Corpus,
    base: CorpusIndex,
    index_dir: Path,
    embedder: TextEmbedder,
    corpus_dir: Path | str = "",
    progress: bool = False,
) -> tuple[CorpusIndex, IndexChange]:
    """Make the index serve `corpus` by changing `base` (the current build) document by document: vectors of
    documents that went or changed are removed by id, only the passages of documents that arrived or changed are
    embedded and tokenized, BM25 is re-indexed from stored tokens. Published as a new build (atomically); the
    caller holds the build lock. Returns the new index (already loaded) and what changed."""
    import faiss

    started = time.perf_counter()
    if embedder.name != base.manifest.embedding_model:
        raise IndexStaleError(
            f"index built with embedding model {base.manifest.embedding_model}, configured {embedder.name}; "
            "run `qa index` to rebuild it"
        )
    wanted = {d.id: d for d in corpus.documents}
    change = IndexChange()
    for doc_id, old in base.documents.items():
        if doc_id not in wanted:
            change.removed.append(doc_id)
        elif not _same_document(old, wanted[doc_id]):
            change.updated.append(doc_id)
    change.added = [d.id for d in corpus.documents if d.id not in base.documents]
    if change.empty and base.manifest.corpus_fingerprint == corpus.fingerprint:
        return base, change
    gone = set(change.removed) | set(change.updated)
    fresh = [wanted[i] for i in change.updated] + [wanted[i] for i in change.added]

    settings = base.manifest.passage_settings
    index_type = base.manifest.index_type
    new_passages = split_corpus(
        fresh, settings.sentences, settings.overlap, settings.max_chars, first_id=base.manifest.next_passage_id
    )
    vectors = embedder.embed([p.text for p in new_passages], progress=progress)
    new_tokens = bm25_tokens([bm25_text(p, wanted[p.doc_id]) for p in new_passages]) if new_passages else []
    old_tokens = base.stored_tokens()
    removed_ids = np.array([p.id for p in base.passages if p.doc_id in gone], dtype=np.int64)
    change.passages_removed = len(removed_ids)
    change.passages_embedded = len(new_passages)
    dense: Any
    if index_type == "hnsw" and len(removed_ids):
        # HNSW cannot remove: rebuild the graph from the stored vectors of the passages that stay.
        kept_ids = np.array([p.id for p in base.passages if p.doc_id not in gone], dtype=np.int64)
        kept = base._dense.reconstruct_batch(kept_ids) if len(kept_ids) else vectors[:0]
        dense = _dense_index(kept, kept_ids, index_type)
    else:
        dense = faiss.clone_index(base._dense)  # the served index stays as it is
        if len(removed_ids):
            dense.remove_ids(removed_ids)
    if new_passages:
        dense.add_with_ids(vectors, np.array([p.id for p in new_passages], dtype=np.int64))

    # Passages and tokens in corpus order, the order a full build of the same files has.
    by_document: dict[str, list[tuple[Passage, list[str]]]] = {}
    for passage, tokens in zip(base.passages, old_tokens):
        if passage.doc_id not in gone:
            by_document.setdefault(passage.doc_id, []).append((passage, tokens))
    for passage, tokens in zip(new_passages, new_tokens):
        by_document.setdefault(passage.doc_id, []).append((passage, tokens))
    ordered = [pair for document in corpus.documents for pair in by_document.get(document.id, [])]
    passages = [p for p, _ in ordered]
    tokens_in_order = [t for _, t in ordered]
    bm25 = bm25_index(tokens_in_order)
    content = BuildContent(
        documents=list(corpus.documents),
        passages=passages,
        dense=dense,
        tokens=tokens_in_order,
        next_passage_id=base.manifest.next_passage_id + len(new_passages),
    )
    manifest, final = _publish(
        index_dir,
        content,
        bm25,
        _describe(corpus, embedder.name, base.manifest.dimensions, settings, index_type, corpus_dir, change.describe()),
    )
    change.seconds = time.perf_counter() - started
    log.info(
        "index changed (%s): %d passages embedded, %d removed, in %.2fs",
        change.describe(),
        change.passages_embedded,
        change.passages_removed,
        change.seconds,
    )
    documents = {d.id: d for d in corpus.documents}
    return CorpusIndex(final, manifest, documents, passages, dense, bm25), change


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
        reasons.append(CORPUS_CHANGED)
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


def _only_corpus_changed(reasons: list[str]) -> bool:
    return reasons == [CORPUS_CHANGED]


def ensure_index(
    settings: Settings,
    embedder: Embedder,
    rebuild: bool | None = None,
    force: bool = False,
    corpus: Corpus | None = None,
) -> CorpusIndex:
    """Load the index of `corpus` (default: the corpus folder), building it first when missing. When only the
    corpus changed (files added, replaced or removed since the index was built, e.g. by a process killed in the
    middle of an upload) the index is brought up to date document by document; when the settings, model or format
    changed it is rebuilt, if auto_build is on (always, with `force`). A failed build leaves the previous index."""
    given_corpus = corpus is not None
    corpus = corpus or load_corpus(settings.corpus_dir, read_limits(settings))
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
            if not given_corpus:  # what the folder holds now: a change may have landed while waiting for the lock
                corpus = load_corpus(settings.corpus_dir, read_limits(settings))
            if not force:
                reasons = stale_reasons(settings.index_dir, corpus, embedder, settings)
                if not reasons:
                    return load_index(settings.index_dir)
            if not force and _only_corpus_changed(reasons):
                try:
                    base = load_index(settings.index_dir)
                except IndexProblem as exc:
                    log.warning("cannot change the index in place (%s); building it afresh", exc)
                else:
                    log.info("bringing the index up to date with the corpus folder, document by document")
                    return update_index(
                        corpus, base, settings.index_dir, build_embedder(settings, embedder), settings.corpus_dir
                    )[0]
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
