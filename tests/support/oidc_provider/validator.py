"""The provider's claims (name, e-mail, groups), and the faults the tests ask for."""

from __future__ import annotations

import base64
import json
import time

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator


def _fault() -> str:
    try:
        return settings.MISBEHAVE_FILE.read_text().strip()
    except FileNotFoundError:
        return ""


def _part(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


class Validator(OAuth2Validator):
    oidc_claim_scope = None  # every claim, whatever the scopes asked

    def get_additional_claims(self, request):
        user = request.user
        return {
            "preferred_username": user.username,
            "email": user.email,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "groups": sorted(user.groups.values_list("name", flat=True)),
        }

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expires = super().get_id_token_dictionary(token, token_handler, request)
        if _fault() == "expired":
            claims["exp"] = int(time.time()) - 3600
        return claims, expires

    def finalize_id_token(self, id_token, token, token_handler, request):
        fault = _fault()
        if fault == "wrong-audience":
            id_token["aud"] = "another-client"
        elif fault == "wrong-nonce":
            id_token["nonce"] = "not-the-nonce-that-was-sent"
        elif fault == "expired":
            id_token["iat"] = int(time.time()) - 7200
        signed = super().finalize_id_token(id_token, token, token_handler, request)
        header, payload, signature = signed.split(".")
        if fault == "unsigned":
            return f"{_part({'alg': 'none', 'typ': 'JWT'})}.{payload}."
        if fault == "tampered":
            claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
            claims["groups"] = [*claims.get("groups", []), "admins"]
            return f"{header}.{_part(claims)}.{signature}"
        return signed
