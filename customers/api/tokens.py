"""``/api/token/``: a signed-in user creates, rotates or revokes their own API token.

Only a browser session may do this (with its CSRF check), never the token itself: a leaked token
must not be able to mint its successor.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.views import ApiViewMixin
from customers.services import token_revoke, token_rotate

TokenResponse = inline_serializer(
    "TokenResponse",
    fields={
        "token": serializers.CharField(
            help_text=_(
                "Send it as 'Authorization: Token <token>'. Shown once per rotation; store it safely."
            )
        ),
        "created": serializers.DateTimeField(help_text=_("When the token was made.")),
    },
)


class TokenView(ApiViewMixin, APIView):
    # Session only (see the module's docstring); any signed-in user manages their own token.
    authentication_classes = (SessionAuthentication,)
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        request=None,
        responses={201: TokenResponse},
        description=str(_("Create your API token, or replace it with a new one.")),
    )
    def post(self, request):
        token = token_rotate(user=request.user)
        return Response({"token": token.key, "created": token.created}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None}, description=str(_("Revoke your API token.")))
    def delete(self, request):
        token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
