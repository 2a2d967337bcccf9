from __future__ import annotations

import logging

from connector.runtime.logs import SecretRedactor


def test_secrets_are_masked_in_messages_args_and_tracebacks(caplog):
    logger = logging.getLogger("test.redaction")
    redactor = SecretRedactor(["s3cr3t-token"])
    caplog.handler.addFilter(redactor)
    try:
        logger.warning("token is %s", "s3cr3t-token")
        try:
            raise RuntimeError("failed with s3cr3t-token")
        except RuntimeError:
            logger.exception("boom")
    finally:
        caplog.handler.removeFilter(redactor)
    assert "s3cr3t-token" not in caplog.text
    assert "token is ***" in caplog.text and "failed with ***" in caplog.text
