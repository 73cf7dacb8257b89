"""Local cache: Parquet objects by sha256 (content-addressed, verified on every read),
documents by key with what makes them current (an index's ETag, a manifest's index
entry). Writes go through a temporary file and a rename, so a killed job leaves no
half-written entry."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def default_cache_dir() -> Path:
    env = os.environ.get("PERPFLOW_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "perpflow"


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LocalCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    # Objects, by sha256 ------------------------------------------------------------
    def _object_path(self, sha256: str) -> Path:
        return self.root / "objects" / sha256[:2] / f"{sha256}.parquet"

    def get_object(self, sha256: str) -> bytes | None:
        """The cached bytes when they still hash to sha256 (a damaged entry is dropped)."""
        p = self._object_path(sha256)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            return None
        if hashlib.sha256(data).hexdigest() != sha256:
            p.unlink(missing_ok=True)
            return None
        return data

    def put_object(self, sha256: str, data: bytes) -> None:
        _write_atomically(self._object_path(sha256), data)

    # Documents, by key and what makes them current --------------------------------
    def _doc_path(self, kind: str, bucket: str, key: str) -> Path:
        name = hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()
        return self.root / kind / f"{name}.json"

    def get_doc(self, kind: str, bucket: str, key: str) -> dict[str, Any] | None:
        try:
            doc = json.loads(self._doc_path(kind, bucket, key).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return doc if isinstance(doc, dict) and doc.get("key") == key else None

    def put_doc(self, kind: str, bucket: str, key: str, doc: dict[str, Any]) -> None:
        _write_atomically(self._doc_path(kind, bucket, key), json.dumps({**doc, "key": key}).encode())
