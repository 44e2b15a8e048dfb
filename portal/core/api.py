from __future__ import annotations

from http import HTTPStatus

from django.contrib.auth import authenticate
from django.http import HttpRequest
from ninja import Router, Status

from portal.core.schemas import ErrorOut, MeOut, TokenOut, TokenRequest
from portal.core.services import issue_api_token

router = Router()


@router.post("/token", auth=None, response={201: TokenOut, 401: ErrorOut})
def create_token(request: HttpRequest, payload: TokenRequest):
    """Exchange a username and password for a personal API token (shown once)."""
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
