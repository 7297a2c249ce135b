"""`{% poll_attrs url every %}`: the attributes of a polling element (revcycle/polling.py)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from revcycle.polling import POLL_HEADER

register = template.Library()


@register.simple_tag
def poll_attrs(url: str, every: int) -> SafeString:
    return format_html(
        'hx-get="{}" hx-trigger="every {}s" hx-swap="outerHTML" hx-headers=\'{{"{}": "1"}}\'',
        url, every, POLL_HEADER)
