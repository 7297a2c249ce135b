"""The admin index names models in words: "Digests sent", "OAuth tokens"."""

from __future__ import annotations

from typing import Any


def test_the_admin_index_names_models_in_words(client_for: Any, ada: Any) -> None:
    ada.is_superuser = True  # every model on the index, whatever the role grants
    ada.save(update_fields=["is_superuser"])
    text = client_for(ada).get("/admin/").content.decode()
    assert "Digests sent" in text and "OAuth tokens" in text
    assert "Digest sents" not in text and "O auth tokens" not in text
    assert ">Follow-ups<" in text and ">Re-check runs<" in text
    assert ">Requests per minute<" in text
    assert "Follow ups" not in text and "Recheck runs" not in text
    assert "Connection minutes" not in text
