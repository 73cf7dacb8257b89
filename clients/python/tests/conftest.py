"""Fixtures of the loader's tests, and the count file `npm test` sums.

Integration tests need the local stack's S3 (S3_ENDPOINT etc. from
`bash infra/local/stack.sh env`); datasets are written by the project's own writer
(test/src/write-loader-fixture.ts) under a unique prefix, removed afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[3]


# Counts in scripts/count-reporter.mjs's format, at $PERPFLOW_COUNT_FILE ------------------
class _Counts:
    def __init__(self, path: str):
        self.path = path
        self.c = {"passed": 0, "failed": 0, "skipped": 0, "todo": 0, "failures": [], "complete": False}
        self.save()

    def save(self) -> None:
        Path(self.path).write_text(json.dumps(self.c) + "\n")

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            if report.skipped:
                self.c["skipped"] += 1
            elif report.passed:
                self.c["passed"] += 1
            else:
                self.c["failed"] += 1
                self.c["failures"].append(f"clients/python: {report.nodeid} ({report.when})")
        elif report.when == "teardown" and report.failed:
            self.c["failed"] += 1
            self.c["failures"].append(f"clients/python: {report.nodeid} (teardown)")
        self.save()

    def pytest_sessionfinish(self, session, exitstatus):
        if exitstatus == 5:
            self.c["failed"] += 1
            self.c["failures"].append("clients/python: pytest collected no tests")
        elif exitstatus not in (0, 1) and self.c["failed"] == 0:
            self.c["failed"] += 1
            self.c["failures"].append(f"clients/python: pytest exited {int(exitstatus)}")
        self.c["complete"] = True
        self.save()


def pytest_configure(config):
    path = os.environ.get("PERPFLOW_COUNT_FILE")
    if path:
        config.pluginmanager.register(_Counts(path), "perpflow-counts")


# The stack's S3 -------------------------------------------------------------------------
def _stack_env() -> dict[str, str]:
    if not os.environ.get("S3_ENDPOINT"):
        pytest.fail(
            "S3_ENDPOINT is not set: start the stack (bash infra/local/stack.sh up s3) and "
            "export its settings (set -a; source <(bash infra/local/stack.sh env); set +a)"
        )
    return dict(os.environ)


@pytest.fixture(scope="session")
def s3_env() -> dict[str, str]:
    return _stack_env()


@pytest.fixture(scope="session")
def s3(s3_env):
    return boto3.client(
        "s3",
        endpoint_url=s3_env["S3_ENDPOINT"],
        region_name=s3_env.get("S3_REGION", "us-east-1"),
        aws_access_key_id=s3_env.get("S3_ACCESS_KEY_ID", "S3RVER"),
        aws_secret_access_key=s3_env.get("S3_SECRET_ACCESS_KEY", "S3RVER"),
    )


@pytest.fixture(scope="session")
def bucket(s3_env) -> str:
    return s3_env.get("S3_BUCKET", "perpflow")


# `npm test` runs these tests at nice 19 beside the end-to-end files (and the type-check's
# niced tsc processes): a node process here gets the CPU the rest leaves. The fixture writer
# (tsx compiling the windower's modules, then a few S3 writes) once took more than 120 s so in
# a fresh CI. This bound is for a hung process, not for speed.
NODE_TIMEOUT_S = 600


def _node(
    args: list[str], cwd: Path, env: dict[str, str], timeout: int = NODE_TIMEOUT_S
) -> subprocess.CompletedProcess:
    """Runs a TypeScript entry of a workspace through tsx, or its build when PERPFLOW_RUN_BUILT=1
    (as test/src/harness.ts entryArgs does: npm test sets it once every workspace is built)."""
    entry, *rest = args
    if os.environ.get("PERPFLOW_RUN_BUILT") == "1" and entry.startswith("src/"):
        built = cwd / ("dist/" + entry[len("src/") :].removesuffix(".ts") + ".js")
        if not built.exists():
            raise AssertionError(f"PERPFLOW_RUN_BUILT=1 but {built} does not exist: run npm run build")
        return subprocess.run(
            ["node", str(built), *rest], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    return subprocess.run(
        ["node", "--conditions=@perpflow/source", "--import", "tsx", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Dataset:
    """One dataset under its own prefix and symbol, written by test/src/write-loader-fixture.ts."""

    def __init__(self, s3_env: dict[str, str], s3, bucket: str, tag: str):
        uid = uuid.uuid4().hex[:10]
        self.prefix = f"py-loader-{tag}-{uid}"
        self.symbol = f"PY{uid.upper()}/USDT:USDT"
        self.exchange, self.timeframe = "binanceusdm", "1m"
        self.env, self.s3, self.bucket = s3_env, s3, bucket
        self.info = self._write("write")

    def _write(self, mode: str) -> dict:
        r = _node(["test/src/write-loader-fixture.ts", self.prefix, self.symbol, mode], ROOT, self.env)
        assert r.returncode == 0, f"fixture writer failed:\n{r.stderr}"
        return json.loads(r.stdout.strip().splitlines()[-1])

    def extend(self) -> dict:
        return self._write("extend")

    def pull(
        self,
        out: Path,
        start: int,
        end: int,
        as_of: int | None = None,
        skip_compacted: bool = False,
        timeframe: str | None = None,
    ) -> dict:
        """`perpflow pull --merge --json`, as a user runs it; returns its report."""
        args = ["src/perpflow.ts", "pull", "--json", "--merge", "--exchange", self.exchange, "--symbol", self.symbol]
        args += ["--timeframe", timeframe or self.timeframe, "--from", str(start), "--to", str(end), "--out", str(out)]
        if as_of is not None:
            args += ["--as-of", str(as_of)]
        if skip_compacted:
            args.append("--skip-compacted")
        r = _node(args, ROOT / "services/windower", {**self.env, "S3_PREFIX": self.prefix})
        assert r.returncode == 0, f"perpflow pull failed ({r.returncode}):\n{r.stderr}"
        return json.loads(r.stdout.strip().splitlines()[-1])

    def keys(self) -> list[str]:
        keys, token = [], None
        while True:
            kw = {"ContinuationToken": token} if token else {}
            page = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{self.prefix}/", **kw)
            keys += [o["Key"] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return sorted(keys)
            token = page["NextContinuationToken"]

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def delete(self) -> None:
        for k in self.keys():
            self.s3.delete_object(Bucket=self.bucket, Key=k)


@pytest.fixture(scope="session")
def dataset(s3_env, s3, bucket):
    """Read-only dataset shared by the tests that do not change it."""
    d = Dataset(s3_env, s3, bucket, "ro")
    yield d
    d.delete()


@pytest.fixture
def own_dataset(s3_env, s3, bucket):
    """A dataset of this test alone (it rewrites or corrupts objects)."""
    d = Dataset(s3_env, s3, bucket, "rw")
    yield d
    d.delete()


class RequestLog:
    """Every request the loader's S3 client sends, as (method, key), recorded by botocore."""

    def __init__(self, client, bucket: str):
        self.requests: list[tuple[str, str]] = []
        self.bucket = bucket
        client.meta.events.register("before-send.s3", self._record)

    def _record(self, request, **_):
        from urllib.parse import unquote, urlsplit

        path = unquote(urlsplit(request.url).path)
        key = path.split(f"/{self.bucket}/", 1)[-1]
        conditional = "If-None-Match" in request.headers
        self.requests.append((request.method + (" if-none-match" if conditional else ""), key))

    def clear(self) -> None:
        self.requests.clear()
