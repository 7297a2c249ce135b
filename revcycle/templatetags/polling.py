"""`{% poll_attrs url every %}`: the attributes of a polling element (revcycle/polling.py)."""

from __future__ import annotations

import json

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from revcycle.polling import POLL_HEADER, SEEN_HEADER

register = template.Library()


@register.simple_tag
def poll_attrs(url: str, every: int, seen: str = "") -> SafeString:
    """`seen`: the fingerprint of what the element shows; a poll that finds the same is
    answered 204 (revcycle.polling.unchanged)."""
    headers = {POLL_HEADER: "1"} | ({SEEN_HEADER: seen} if seen else {})
    return format_html(
        'hx-get="{}" hx-trigger="every {}s" hx-swap="outerHTML" hx-headers="{}"',
        url, every, json.dumps(headers))
