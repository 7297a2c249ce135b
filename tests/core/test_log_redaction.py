"""The RedactPHI filter keeps SSNs, tokens and secrets out of log lines."""

from __future__ import annotations

import logging

import pytest

from revcycle.logfilters import RedactPHI, redact


@pytest.mark.parametrize("text,secret", [
    ("patient 123-45-6789 not found", "123-45-6789"),
    ("Authorization: Bearer eyJhbGciOi.J9-abc_def", "eyJhbGciOi"),
    ('{"patientSsn": "123456789", "name": "x"}', "123456789"),
    ('{"subscriberSsn":"987-65-4321"}', "987-65-4321"),
    ("grant_type=password&password=hunter2-hunter2&username=u", "hunter2"),
    ('{"access_token": "tok-abc", "expires_in": 3600}', "tok-abc"),
    ('{"dob": "1970-01-02"}', "1970-01-02"),
])
def test_redact_strips_the_sensitive_value(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_redact_keeps_the_rest_of_the_message() -> None:
    assert redact('{"patientSsn": "123456789", "accountNumber": "ACC1"}') == (
        '{"patientSsn": "[redacted]", "accountNumber": "ACC1"}')
    assert redact("GET /claims -> 200 in 35 ms") == "GET /claims -> 200 in 35 ms"


def test_the_filter_cleans_a_record_built_from_arguments() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent %s to %s",
                               ({"patientSsn": "123-45-6789"}, "Bearer abc.def"), None)
    assert RedactPHI().filter(record) is True
    assert "123-45-6789" not in record.getMessage()
    assert "abc.def" not in record.getMessage()


def test_the_console_handler_carries_the_filter() -> None:
    handlers = logging.getLogger().handlers
    console = [h for h in handlers if isinstance(h, logging.StreamHandler)
               and any(isinstance(f, RedactPHI) for f in h.filters)]
    assert console, "the root console handler lost its RedactPHI filter"
