"""The attachment store in an S3-compatible object store (AWS S3, MinIO,
Ceph, Garage...): one object per attachment, ``PUT`` / ``GET`` / ``DELETE``
signed with AWS Signature Version 4, path-style
(``ENDPOINT/BUCKET/KEY``), no SDK.

Configured by ``KARA_GATEWAY_ATTACHMENTS_S3_URL`` = ``http(s)://HOST[:PORT]/BUCKET``
(the bucket must exist), ``KARA_ATTACHMENTS_S3_ACCESS_KEY``,
``KARA_ATTACHMENTS_S3_SECRET_KEY`` and ``KARA_ATTACHMENTS_S3_REGION``
(default ``us-east-1``). Synchronous, like every store: the gateway calls
it in a worker thread.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Dict, Mapping, Optional, Tuple


class StoreError(OSError):
    """The object store refused or did not answer."""


def _sign(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


class S3Store:
    def __init__(self, url: str, access_key: str, secret_key: str, region: str = "us-east-1",
                 timeout_s: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        bucket = parts.path.strip("/")
        if parts.scheme not in ("http", "https") or not parts.netloc or not bucket or "/" in bucket:
            raise ValueError(f"attachments S3 URL {url!r}: give http(s)://HOST[:PORT]/BUCKET")
        self.scheme, self.host, self.bucket = parts.scheme, parts.netloc, bucket
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.timeout_s = timeout_s

    @classmethod
    def from_env(cls, url: str, env: Optional[Mapping[str, str]] = None) -> "S3Store":
        env = os.environ if env is None else env
        access, secret = env.get("KARA_ATTACHMENTS_S3_ACCESS_KEY"), env.get("KARA_ATTACHMENTS_S3_SECRET_KEY")
        if not access or not secret:
            raise ValueError("an attachments S3 URL needs KARA_ATTACHMENTS_S3_ACCESS_KEY and ..._SECRET_KEY")
        return cls(url, access, secret, env.get("KARA_ATTACHMENTS_S3_REGION") or "us-east-1")

    def _headers(self, method: str, path: str, payload: bytes, now: dt.datetime) -> Dict[str, str]:
        """The request's SigV4 headers (``Authorization`` and what it signs)."""
        stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        digest = hashlib.sha256(payload).hexdigest()
        headers = {"host": self.host, "x-amz-content-sha256": digest, "x-amz-date": stamp}
        names = ";".join(sorted(headers))
        canonical = "\n".join([method, path, "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", names, digest])
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = _sign(_sign(_sign(_sign(("AWS4" + self.secret_key).encode(), day), self.region), "s3"), "aws4_request")
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                                    f"SignedHeaders={names}, Signature={signature}")
        return headers

    def _call(self, method: str, key: str, payload: bytes = b"",
              content_type: Optional[str] = None) -> Tuple[int, bytes]:
        path = "/" + urllib.parse.quote(f"{self.bucket}/{key}", safe="/")
        headers = self._headers(method, path, payload, dt.datetime.now(dt.timezone.utc))
        if content_type:
            headers["Content-Type"] = content_type
        url = f"{self.scheme}://{self.host}{path}"
        request = urllib.request.Request(url, data=payload if method == "PUT" else None,
                                         headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:  # noqa: S310 (http(s) only)
                return int(answer.status), answer.read()
        except urllib.error.HTTPError as refused:
            return int(refused.code), refused.read()
        except OSError as exc:
            raise StoreError(f"the attachment store at {self.host} did not answer: {exc}") from exc

    def put(self, key: str, data: bytes, content_type: str) -> None:
        status, body = self._call("PUT", key, data, content_type)
        if status != 200:
            raise StoreError(f"the attachment store refused to keep {key}: HTTP {status} {body[:200]!r}")

    def get(self, key: str) -> Optional[bytes]:
        status, body = self._call("GET", key)
        if status == 404:
            return None
        if status != 200:
            raise StoreError(f"the attachment store refused to give {key}: HTTP {status} {body[:200]!r}")
        return body

    def delete(self, key: str) -> None:
        status, body = self._call("DELETE", key)
        if status not in (200, 204, 404):
            raise StoreError(f"the attachment store refused to delete {key}: HTTP {status} {body[:200]!r}")
