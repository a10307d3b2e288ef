"""Turning a Graph HTTP response into the matching StationError, with the Graph error details kept."""

from __future__ import annotations

import logging
from typing import Any

import requests

from station.entra.remedies import Purpose, diagnose
from station.errors import AuthError, GraphError

log = logging.getLogger(__name__)


def graph_error_details(response: requests.Response) -> tuple[str, str, str | None, Any]:
    """(code, message, request-id, body) from Graph's error envelope, tolerant of non-JSON bodies."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:2000]
    code, message, request_id = "", "", response.headers.get("request-id")
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = str(err.get("code") or "")
        message = str(err.get("message") or "")
        inner = err.get("innerError") or err.get("innererror") or {}
        if isinstance(inner, dict):
            request_id = request_id or inner.get("request-id")
    elif isinstance(body, str):
        message = body.strip()[:300]
    return code, message, request_id, body


def error_from_response(
    response: requests.Response, purpose: Purpose, what: str, client_request_id: str
) -> GraphError:
    """The StationError for a failed Graph call; ``what`` names the call for the message."""
    code, message, request_id, body = graph_error_details(response)
    d = diagnose(response.status_code, code, message, purpose)
    cls = AuthError if response.status_code == 401 else GraphError
    text = f"{what}: Graph answered {response.status_code}"
    if code:
        text += f" {code}"
    if message:
        text += f": {message}"
    err = cls(
        text,
        status=response.status_code,
        code=code or None,
        request_id=request_id,
        client_request_id=client_request_id,
        body=body,
        reason=d.reason,
        retryable=d.retryable,
        remedy=d.remedy,
    )
    log.warning("%s (request-id %s, client-request-id %s)", text, request_id, client_request_id)
    return err
