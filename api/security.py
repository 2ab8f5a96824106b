"""Optional bearer-key access control, in two roles.

- QA_API_KEYS may ask (/ask, the OpenAI-compatible endpoint, the Sources list).
- QA_EDITOR_KEYS may also change the corpus: add, replace and remove documents, and reindex.
With no keys of either kind everything is open (the local default). Asking stays open while QA_API_KEYS is empty,
so a deployment may protect only its writes. Writing needs an editor key once any key is configured: a missing or
unknown key is 401, a key that may only ask is 403.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request


def _bearer(request: Request) -> bytes:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401, "missing API key: send 'Authorization: Bearer <key>'", headers={"WWW-Authenticate": "Bearer"}
        )
    return token.strip().encode()


def _matches(supplied: bytes, keys: list[str]) -> bool:
    # Compare against every key, without stopping early, so timing does not reveal which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(supplied, key.encode())
    return matched


def require_api_key(request: Request) -> None:
    """Asking: open without QA_API_KEYS; otherwise a key that may ask (an editor key may too)."""
    settings = request.app.state.settings
    if not settings.api_keys:
        return
    if not _matches(_bearer(request), [*settings.api_keys, *settings.editor_keys]):
        raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})


def require_editor_key(request: Request) -> None:
    """Changing the corpus: open with no keys at all; otherwise an editor key (401 without a valid key, 403 with
    one that may only ask)."""
    settings = request.app.state.settings
    if not settings.api_keys and not settings.editor_keys:
        return
    supplied = _bearer(request)
    if _matches(supplied, settings.editor_keys):
        return
    if _matches(supplied, settings.api_keys):
        raise HTTPException(403, "this key may ask but not change the corpus: use an editor key (QA_EDITOR_KEYS)")
    raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})
