from __future__ import annotations

from http import HTTPStatus

from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from portal.core.ratelimit import login_retry_after
from portal.core.schemas import ErrorOut, MeOut, TokenOut, TokenRequest
from portal.core.services import issue_api_token

router = Router()


@router.post("/token", auth=None, response={201: TokenOut, 401: ErrorOut, 429: ErrorOut})
def create_token(request: HttpRequest, payload: TokenRequest, response: HttpResponse):
    """Exchange a username and password for a personal API token (shown once).

    Repeated failures lock the username for this client (429 with Retry-After).
    """
    retry_after = login_retry_after(request, payload.username)
    if retry_after:
        response["Retry-After"] = str(retry_after)
        return Status(
            HTTPStatus.TOO_MANY_REQUESTS,
            {"detail": "Too many failed sign-ins; try again later."},
        )
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None:
        return Status(HTTPStatus.UNAUTHORIZED, {"detail": "Invalid username or password"})
    token, raw = issue_api_token(user=user, name=payload.name)
    return Status(
        HTTPStatus.CREATED, {"token": raw, "name": token.name, "created_at": token.created_at}
    )


@router.get("/me", response=MeOut)
def me(request: HttpRequest):
    """The signed-in user (session or Bearer token)."""
    return request.user
