"""govspeech on Milvus: a version's windows, passages and keyword postings in collections.

A build with ``GOVSPEECH_CATALOG=milvus`` writes, beside its local version
folder, three collections per version (window vectors, passages with their
BM25 term weights, the version's small files) and moves one alias to them, so
any number of stateless replicas serve from the Milvus address alone.
"""
