"""The plugin keeps vLLM's log readable: of the decode-stream reset warnings a random model triggers by the
hundred (harmless, see model/plugin.py) only the first per process is logged; every other record passes."""

from __future__ import annotations

import logging

import pytest

from model.plugin import DETOKENIZER_LOGGER, FirstDecodeStreamResetOnly, register


def warn(logger: logging.Logger, message: str, *args: object) -> None:
    logger.warning(message, *args)


def test_register_keeps_only_the_first_decode_stream_reset(caplog: pytest.LogCaptureFixture) -> None:
    register()
    register()  # every vLLM process may call it more than once: still one filter
    logger = logging.getLogger(DETOKENIZER_LOGGER)
    assert sum(isinstance(f, FirstDecodeStreamResetOnly) for f in logger.filters) == 1
    for f in logger.filters:
        if isinstance(f, FirstDecodeStreamResetOnly):
            f.seen = False  # as in a fresh process
    reset = "Encountered invalid prefix detokenization error for request %s, resetting decode stream."
    # vLLM's logging configuration may stop its loggers from propagating to the root logger (once an earlier test
    # imported vLLM), so the records are collected on the logger itself rather than through caplog.
    records: list[logging.LogRecord] = []
    collector = logging.Handler()
    collector.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(collector)
    try:
        with caplog.at_level(logging.WARNING, logger=DETOKENIZER_LOGGER):
            for request in range(50):
                warn(logger, reset, f"chatcmpl-{request}")
            warn(logger, "Encountered invalid token id: %r", 7)  # another detokenizer warning: kept
    finally:
        logger.removeHandler(collector)
    messages = [record.getMessage() for record in records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("Encountered invalid prefix detokenization error for request chatcmpl-0")
    assert "further ones are not logged" in messages[0]
    assert messages[1] == "Encountered invalid token id: 7"
