"""Chinese tokens for BM25: an isolated jieba tokenizer with the project's domain dictionary.

The global ``jieba`` tokenizer is shared by the whole process; another library adding words to it
would silently change our index, so we own a private ``jieba.Tokenizer``.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import jieba

PACKAGE_DIR = Path(__file__).resolve().parent
DOMAIN_DICTIONARY = PACKAGE_DIR / "domain_dict.txt"
STOPWORDS = PACKAGE_DIR / "stopwords.txt"
TOKENIZER_VERSION = 2  # bump when tokens change (dictionary, stopwords, mode): the BM25 index is rebuilt

jieba.setLogLevel(logging.WARNING)


def _is_punctuation_or_space(token: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PZSC" or ch.isspace() for ch in token)


class ChineseTokenizer:
    """Segment Chinese text into search tokens: domain terms kept whole, punctuation and whitespace dropped."""

    def __init__(self, use_stopwords: bool = True) -> None:
        self._jieba = jieba.Tokenizer()
        self._jieba.load_userdict(str(DOMAIN_DICTIONARY))
        self._lock = threading.Lock()  # jieba initialises lazily and is not safe to initialise twice at once
        self.stopwords: frozenset[str] = (
            frozenset(STOPWORDS.read_text(encoding="utf-8").split()) if use_stopwords else frozenset()
        )

    def _ensure_initialised(self) -> None:
        if not self._jieba.initialized:
            with self._lock:
                self._jieba.initialize()

    def tokenize(self, text: str) -> list[str]:
        """Search-mode segmentation: 应急预案 also yields 应急 and 预案, so a query for either part matches."""
        self._ensure_initialised()
        normalised = unicodedata.normalize("NFKC", text).lower()
        return [
            token
            for token in self._jieba.lcut_for_search(normalised, HMM=True)
            if token.strip() and not _is_punctuation_or_space(token) and token not in self.stopwords
        ]

    def tokenize_many(self, texts: list[str]) -> list[list[str]]:
        return [self.tokenize(text) for text in texts]


@lru_cache(maxsize=1)
def shared_tokenizer() -> ChineseTokenizer:
    """One tokenizer per process: building the jieba prefix dictionary takes about a second."""
    return ChineseTokenizer()
