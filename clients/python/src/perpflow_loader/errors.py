"""Errors of the loader. Each has a stable ``code`` and a ``retriable`` flag (as the
TypeScript side's errors do); the message names what is wrong and what to change."""

from __future__ import annotations


class LoaderError(Exception):
    """Base class of every error the loader raises on purpose."""

    code = "LOADER_ERROR"
    retriable = False


class InvalidRequest(LoaderError, ValueError):
    """The arguments of a call are wrong: unknown exchange or timeframe, a symbol that is
    not a ccxt unified symbol, an empty or reversed range, a naive datetime."""

    code = "INVALID_REQUEST"


class InvalidConfig(LoaderError, ValueError):
    """A setting (constructor argument or S3_* variable) is wrong; the message names it."""

    code = "INVALID_CONFIG"


class VersionNotFound(LoaderError, LookupError):
    """No tree holds the dataset version asked for: the live tree is pinned to another
    one (``<prefix>/versions/live.json``) and ``<prefix>/versions/<id>/`` has no index
    for the series."""

    code = "VERSION_NOT_FOUND"


class IndexNotFound(LoaderError, LookupError):
    """No series index for (exchange, symbol, timeframe) under the prefix: nothing was
    ever written for that series there."""

    code = "INDEX_NOT_FOUND"


class ManifestMissing(LoaderError):
    """The series index lists a window whose manifest is gone (a partly deleted dataset)."""

    code = "MANIFEST_MISSING"


class IntegrityError(LoaderError):
    """Downloaded bytes do not match the manifest's size or sha256, after re-reading."""

    code = "INTEGRITY"


class DatasetInvalid(LoaderError):
    """An index, manifest or object breaks the dataset's layout or schema: a key that is
    not the one the layout computes, rows of another series or outside their window,
    a malformed document."""

    code = "DATASET_INVALID"
