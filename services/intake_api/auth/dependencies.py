"""Dependencies of the routers that read configuration or manage accounts: any signed-in staff
member, and the password hashing and authenticator the lifespan builds."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.intake_api.auth.principals import Authenticator
from services.intake_api.auth.service import Passwords
from services.intake_api.deps import staff
from shared.domain.access import Principal
from shared.domain.enums import Role

# Reads of configuration (calendars, SLA policies, rule sets): every staff role, no integration.
StaffReader = Annotated[Principal, Depends(staff(*Role))]


async def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


async def get_authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]
