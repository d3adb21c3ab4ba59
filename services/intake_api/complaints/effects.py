"""The API's side of a change's effects (shared.db.complaint_effects): survey links signed with
the service's secret and pointing at the company's front-end."""

from __future__ import annotations

import uuid

from services.intake_api.auth.secrets import survey_token
from shared.config import Settings
from shared.db.complaint_effects import Effects


def api_effects(settings: Settings) -> Effects:
    secret = settings.require_jwt_secret()
    base = settings.public_base_url.rstrip("/")

    def survey_url(complaint_id: uuid.UUID, nonce: str) -> str:
        return f"{base}/survey?token={survey_token(secret, complaint_id, nonce)}"

    return Effects(survey_url=survey_url)
