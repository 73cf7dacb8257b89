"""perpflow's aligned dataset for Python batch jobs: load_bars reads it straight from S3
as `perpflow pull` does; walk_forward_splits cuts it into folds that cannot leak."""

from .errors import (
    DatasetInvalid,
    IndexNotFound,
    IntegrityError,
    InvalidConfig,
    InvalidRequest,
    LoaderError,
    ManifestMissing,
    VersionNotFound,
)
from .loader import ALIGNED_BAR_SCHEMA, Loader, load_bars
from .split import Split, known_at_lag_ms, walk_forward_splits

__version__ = "0.1.0"

__all__ = [
    "ALIGNED_BAR_SCHEMA",
    "DatasetInvalid",
    "IndexNotFound",
    "IntegrityError",
    "InvalidConfig",
    "InvalidRequest",
    "Loader",
    "LoaderError",
    "ManifestMissing",
    "Split",
    "VersionNotFound",
    "known_at_lag_ms",
    "load_bars",
    "walk_forward_splits",
]
