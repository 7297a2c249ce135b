"""`{% poll_attrs url every %}`: the attributes of a polling element (revcycle/polling.py)."""

from __future__ import annotations

import json

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from revcycle.polling import POLL_HEADER, SEEN_HEADER

register = template.Library()


@register.simple_tag
def poll_attrs(url: str, every: int, seen: str = "") -> SafeString:
    """`seen`: the fingerprint of what the element shows; a poll that finds the same is
    answered 204 (revcycle.polling.unchanged)."""
    headers = {POLL_HEADER: "1"} | ({SEEN_HEADER: seen} if seen else {})
    if not seen.isalnum() and seen:  # a hex digest; anything else is not ours to send
        raise ValueError(f"not a fingerprint: {seen!r}")
    # Raw JSON in a single-quoted attribute, as htmx's examples write it: the header names
    # are ours and the fingerprint is hex, so nothing in it needs escaping.
    return format_html(
        'hx-get="{}" hx-trigger="every {}s" hx-swap="outerHTML" hx-headers=\'{}\'',
        url, every, mark_safe(json.dumps(headers)))  # noqa: S308 - see above
