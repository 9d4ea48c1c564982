"""Every file name of an index version folder, and nowhere else.

A version folder is written by a build, read by a searcher, copied by a Milvus catalog and
checked by a rollback; each of those used to spell the names it needed, bm25s's internal
ones among them. Modules that write a part take its names from here, so a renamed file is
one edit and a reader can see the whole folder at a glance::

    manifest.json              what the version is (model, chunking, backend, counts)
    store.sqlite               passages and documents
    keyword/                   BM25 postings (bm25s's own files) and our term statistics
    dedup_clusters.npy         near-duplicate cluster of each passage
    feedback/                  candidate feedback words of each passage
    terms.json                 terms learned from the corpus (exact-term analysis)
    dense_vectors.npy          float32 window vectors (exact rescoring; FAISS backends)
    dense_owner.npy            passage row of each window (FAISS backends)
    window_keys.npy            embedding-cache key of each window (what the cache keeps)
    dense.faiss                the FAISS index (local dense backends)
    milvus.json                a Milvus dense backend's collection and passage count
    milvus_catalog.json        the collections a Milvus catalog copied the version to
"""

from __future__ import annotations

MANIFEST = "manifest.json"
STORE = "store.sqlite"
CLUSTERS = "dedup_clusters.npy"
TERMS = "terms.json"
WINDOW_KEYS = "window_keys.npy"


class Keyword:
    """The keyword folder: bm25s writes the ``*.index.*`` files (their names are bm25s's,
    spelled here so nothing else has to know them); the rest is ours."""

    FOLDER = "keyword"
    PARAMS = "params.index.json"
    VOCAB = "vocab.index.json"
    DATA = "data.csc.index.npy"
    INDICES = "indices.csc.index.npy"
    INDPTR = "indptr.csc.index.npy"
    META = "keyword.json"  # our tokenizer's fingerprint and counts
    TERM_MAX = "term_max.npy"  # each term's best BM25 (score normalisation)
    #: ours and bm25s's besides the postings
    STATS = (META, PARAMS, VOCAB, TERM_MAX)


class Feedback:
    FOLDER = "feedback"
    WORDS = "words.json"
    INDPTR = "indptr.npy"
    POSTINGS = "postings.npy"
    FILES = (f"{FOLDER}/{WORDS}", f"{FOLDER}/{INDPTR}", f"{FOLDER}/{POSTINGS}")


class Dense:
    """Files of the dense backends; each backend lists the ones it writes in its ``FILES``."""

    VECTORS = "dense_vectors.npy"
    OWNER = "dense_owner.npy"
    FAISS = "dense.faiss"
    MILVUS = "milvus.json"


#: In a version folder: the names of the Milvus collections a catalog copied it to.
MILVUS_PUBLISHED = "milvus_catalog.json"

#: What every complete version holds besides its manifest and its dense backend's files
#: (checked before a rollback serves it).
PARTS = (STORE, Keyword.FOLDER)
