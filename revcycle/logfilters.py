"""Keep patient data out of logs, whatever a library or a mistake tries to write."""

from __future__ import annotations

import logging
import re

# SSNs, bearer tokens and dates of birth written as yyyy-mm-dd next to "dob".
_PATTERNS = [
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "***-**-****"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (re.compile(r"(?i)(\"?(?:access_token|refresh_token|client_secret|password|patientSsn|"
                r"subscriberSsn|ssn)\"?\s*[:=]\s*\"?)[^\",&\s]+"), r"\1[redacted]"),
    (re.compile(r"(?i)(dob\"?\s*[:=]\s*\"?)\d{4}-\d{2}-\d{2}"), r"\1[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactPHI(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
