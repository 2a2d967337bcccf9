"""The times each provider reports for a signer, as the receipt records them (None where none is reported)."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.onespan.status import request_status
from adapters.signrequest.adapter import _signer_status


def test_signrequest_signed_on_and_declined_on_are_read():
    signed = _signer_status({"email": "a@example.com", "signed": True, "signed_on": "2026-12-05T10:00:01.250000Z"})
    declined = _signer_status({"email": "b@example.com", "declined": True, "declined_on": "2026-12-05T11:00:00Z",
                               "message": "no"})
    assert signed.signed_at == datetime(2026, 12, 5, 10, 0, 1, 250000, tzinfo=UTC) and signed.declined_at is None
    assert declined.declined_at == datetime(2026, 12, 5, 11, tzinfo=UTC) and declined.decline_reason == "no"
    assert _signer_status({"email": "c@example.com", "signed": True, "signed_on": "soon"}).signed_at is None


def test_onespan_signed_is_the_last_approval_of_the_role():
    package = {"status": "COMPLETED", "roles": [{"id": "r1", "type": "SIGNER", "signers": [{"email": "a@example.com"}]}],
               "documents": [{"id": "d1", "approvals": [
                   {"role": "r1", "signed": "2026-12-05T10:00:00.000Z", "accepted": "2026-12-05T09:59:00.000Z"},
                   {"role": "r1", "signed": "2026-12-05T10:02:30.500Z"}]}]}
    [signer] = request_status(package).signers
    assert signer.signed_at == datetime(2026, 12, 5, 10, 2, 30, 500000, tzinfo=UTC)
    package["documents"][0]["approvals"][1]["signed"] = None
    package["status"] = "SENT"
    assert request_status(package).signers[0].signed_at is None  # not signed yet: no time
