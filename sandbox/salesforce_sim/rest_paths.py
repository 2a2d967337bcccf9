"""URL paths the API hands out, relative to the instance."""

from __future__ import annotations


def record_url(api_version: str, sobject: str, record_id: str) -> str:
    return f"/services/data/v{api_version}/sobjects/{sobject}/{record_id}"
