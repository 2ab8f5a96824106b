"""Optional bearer-key access control, in two roles.

- QA_API_KEYS may ask (/ask, the OpenAI-compatible endpoint, the Sources list).
- QA_EDITOR_KEYS may also change the corpus: add, replace and remove documents, and reindex.
With no keys of either kind everything is open (the local default). Asking stays open while QA_API_KEYS is empty,
so a deployment may protect only its writes. Writing needs an editor key once any key is configured: a missing or
unknown key is 401, a key that may only ask is 403.

Writes from another site's page are refused whatever the keys (403): on an open service a form on any web page the
user visits could otherwise post a file to it (cross-site request forgery). A browser names the page's origin in
`Origin` (and `Sec-Fetch-Site`); scripts and command-line clients send neither and are not affected. Origins listed
in QA_CORS_ORIGINS are trusted. Upload routes are checked before their body is read (`write_refusal`, called by the
request middleware), so a refused client cannot make the server take in a 20 MB file first.
"""

from __future__ import annotations

import hmac
from typing import Mapping
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from qa.config import Settings

_MISSING_KEY = "missing API key: send 'Authorization: Bearer <key>'"


def _bearer_token(headers: Mapping[str, str]) -> bytes | None:
    """The key an `Authorization: Bearer <key>` header carries; None without one."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
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
    supplied = _bearer_token(request.headers)
    if supplied is None:
        raise HTTPException(401, _MISSING_KEY, headers={"WWW-Authenticate": "Bearer"})
    if not _matches(supplied, [*settings.api_keys, *settings.editor_keys]):
        raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})


def _cross_site(settings: Settings, headers: Mapping[str, str]) -> bool:
    origin = headers.get("origin")
    if origin is not None:
        if origin in settings.cors_origins:
            return False
        return urlsplit(origin).netloc.lower() != headers.get("host", "").lower()
    return headers.get("sec-fetch-site", "") == "cross-site"


def write_refusal(settings: Settings, headers: Mapping[str, str]) -> tuple[int, str] | None:
    """Why a request to change the corpus must be refused, as (status, reason); None when it may go ahead.
    `headers`: looked up by lower-case names."""
    if _cross_site(settings, headers):
        return 403, "a write from another site's page is refused (cross-site request); use this service's own page"
    if not settings.api_keys and not settings.editor_keys:
        return None
    supplied = _bearer_token(headers)
    if supplied is None:
        return 401, _MISSING_KEY
    if _matches(supplied, settings.editor_keys):
        return None
    if _matches(supplied, settings.api_keys):
        return 403, "this key may ask but not change the corpus: use an editor key (QA_EDITOR_KEYS)"
    return 401, "invalid API key"


def require_editor_key(request: Request) -> None:
    """Changing the corpus: open with no keys at all (from this site or a script); otherwise an editor key (401
    without a valid key, 403 with one that may only ask)."""
    refusal = write_refusal(request.app.state.settings, request.headers)  # Starlette's headers: any case
    if refusal is not None:
        status, reason = refusal
        raise HTTPException(status, reason, headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)
