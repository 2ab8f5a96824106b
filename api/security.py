"""Optional bearer-key access control."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request


def require_api_key(request: Request) -> None:
    """401 unless keys are off or the request carries one of them (compared in constant time)."""
    keys: list[str] = request.app.state.settings.api_keys
    if not keys:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            401, "missing API key: send 'Authorization: Bearer <key>'", headers={"WWW-Authenticate": "Bearer"}
        )
    supplied = token.strip().encode()
    # Compare against every key, without stopping early, so timing does not reveal which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(supplied, key.encode())
    if not matched:
        raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})
