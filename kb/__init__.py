"""The knowledge base: plans, laws and case reports, searchable in Chinese.

A plain library (no Dagster, no Litestar). Modules, one job each:

- ``loaders``: .md/.txt/.docx/.pdf → text + declared metadata; ``UnreadableDocument`` with a reason
- ``headings`` / ``chunking``: heading structure of Chinese official documents → chunks with paths and offsets
- ``metadata`` (+ ``hazards``, ``towns``): title, type, issuer, date, 文号, hazards, towns, case figures
- ``tokenizer``: isolated jieba tokenizer with the domain dictionary, for BM25
- ``embedding``: sentence-transformers model + (model id, text hash) cache
- ``indexer`` (+ ``chroma_store``, ``layout``): build a version, publish it atomically (``hub.core.pointer``)
- ``search`` (+ ``filters``, ``snippets``): ``KnowledgeBase`` hybrid search, similar cases, documents
- ``evaluation``: nDCG / Recall / MRR over a labelled query file
- ``settings``: ``KbSettings`` from ``HUB_KB_*`` / ``HUB_DATA_DIR``
"""
