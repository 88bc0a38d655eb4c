"""Store-data uploads that must be refused, against gunicorn: the answer, and the worker's memory.

Every upload here is rejected. The one web worker's peak resident memory (VmHWM, read from /proc
after the requests) must stay under 200 MB: refusing a file may not cost more than the work the
platform would do for a good one.
"""

import http.client
import uuid
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.live

PEAK_RSS_LIMIT = 200 * 1024 * 1024
UPLOAD_LIMIT = 20 * 1024 * 1024


class Repeated:
    """A body of ``head`` + ``body`` repeated to ``size`` bytes + ``tail``, made as it is read.

    It has a length and no ``tell``: requests then sends a Content-Length, as a browser does.
    """

    def __init__(self, head: bytes, body: bytes, size: int, tail: bytes):
        self.parts = [head, None, tail]
        self.body, self.remaining, self.offset = body, size, 0
        self.total = len(head) + size + len(tail)

    def __len__(self) -> int:
        return self.total

    def __iter__(self):
        while chunk := self.read(1 << 16):
            yield chunk

    def read(self, n: int = -1) -> bytes:
        n = 1 << 16 if n is None or n < 0 else n
        if self.parts[0]:
            chunk, self.parts[0] = self.parts[0][:n], self.parts[0][n:]
            return chunk
        if self.remaining:
            count = min(n, self.remaining)
            start = self.offset
            repeated = (self.body * ((start + count) // len(self.body) + 1))[start : start + count]
            self.offset = (start + count) % len(self.body)
            self.remaining -= count
            return repeated
        chunk, self.parts[2] = self.parts[2][:n], self.parts[2][n:]
        return chunk


def multipart(field: str, filename: str, head: bytes, body: bytes, size: int, tail: bytes = b""):
    boundary = uuid.uuid4().hex
    opening = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: text/csv\r\n\r\n"
    ).encode()
    closing = f"\r\n--{boundary}--\r\n".encode()
    return Repeated(opening + head, body, size, tail + closing), f"multipart/form-data; boundary={boundary}"


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def upload_app(module_live_app_factory):
    """One app, one worker, for every upload of this module: the peak is over all of them."""
    return module_live_app_factory("uploads", env={"WEB_CONCURRENCY": "1", "FILE_UPLOAD_MAX_SIZE": str(UPLOAD_LIMIT)})


def post(app, body, content_type) -> requests.Response:
    return requests.post(
        f"{app.url}/api/v1/reports/store-data",
        data=body,
        headers={"Authorization": f"Token {app.token}", "Content-Type": content_type},
        timeout=120,
    )


def test_an_upload_over_the_limit_is_refused_before_its_body_is_read(upload_app):
    """210 MB announced, a few KB sent: the 413 comes back while the client has sent almost nothing."""
    connection = http.client.HTTPConnection("127.0.0.1", upload_app.port, timeout=30)
    connection.putrequest("POST", "/api/v1/reports/store-data")
    connection.putheader("Authorization", f"Token {upload_app.token}")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(210 * 1024 * 1024))
    connection.endheaders()
    connection.send(b"--x\r\n" + b"a" * 4096)
    response = connection.getresponse()
    body = response.read()
    assert response.status == 413, body
    assert b'"payload_too_large"' in body
    connection.close()


@pytest.mark.parametrize(
    ("name", "head", "body", "size", "tail", "message"),
    [
        # A 19 MB line without a newline (no comma either): refused at its 4,097th byte.
        ("one long line", b"store_id,status,timestamp_utc\n", b"x", 19 * 1024 * 1024, b"", "longer than 4096 bytes"),
        # A header of a million columns (the 9.9 MB file): refused before pandas sees it.
        ("a million columns", b"", b"c,", 1_000_000, b"\n1,2\n", "line 1: is longer than 4096 bytes"),
        # A quote that never closes, 18 MB later.
        ("unterminated quote", b'store_id,status,timestamp_utc\n1,"active', b"\nx", 9 * 1024 * 1024, b"", "quote"),
        # A NUL byte in a store id at the very end of 18 MB of good rows.
        (
            "a NUL at the end",
            b"store_id,status,timestamp_utc\n",
            b"s1,active,2023-01-23 10:00:00 UTC\n",
            34 * 550_000,  # whole rows of 34 bytes
            b"s\x00,active,2023-01-23 10:00:00 UTC\n",
            "NUL byte",
        ),
        # 18 MB of good rows and one bad status at the end: every row parsed, then all refused.
        (
            "a bad row at the end",
            b"store_id,status,timestamp_utc\n",
            b"store-with-a-long-id-0001,active,2023-01-23 10:00:00 UTC\n",
            57 * 330_000,  # whole rows of 57 bytes
            b"s2,sleeping,2023-01-23 10:00:00 UTC\n",
            "unknown status",
        ),
    ],
)
def test_bad_uploads_are_refused_with_bounded_memory(upload_app, name, head, body, size, tail, message):
    data, content_type = multipart("store_status", "store_status.csv", head, body, size, tail)
    response = post(upload_app, data, content_type)
    assert response.status_code == 400, (name, response.text[:1000])
    error = response.json()["error"]
    assert message in error["message"], (name, error["message"][:500])
    (worker,) = upload_app.worker_pids()
    peak = peak_rss(worker)
    print(f"{name}: the web worker's peak RSS so far is {peak / 2**20:.0f} MB")
    assert peak < PEAK_RSS_LIMIT, f"{name}: peak RSS {peak / 2**20:.0f} MB"


def test_a_good_upload_still_imports(upload_app):
    rows = b"".join(f"s{i},active,2023-01-23 10:{i % 60:02d}:00 UTC\n".encode() for i in range(1000))
    data, content_type = multipart("store_status", "store_status.csv", b"store_id,status,timestamp_utc\n", rows, 0)
    data.parts[0] += rows
    data.total += len(rows)
    response = post(upload_app, data, content_type)
    assert response.status_code == 200, response.text[:1000]
    assert response.json()["files"][0]["new_polls"] == 1000
