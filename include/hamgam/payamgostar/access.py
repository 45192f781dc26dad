"""Refused credentials or a missing permission on SOAP, told from a record's refusal.

Whether the CRM answers a wrong password or a missing permission with a SOAP fault or with ``Success=false``
and a message is not known (§7), and either would otherwise read as the record's rejection, or a delete's
"nothing there". So a SOAP refusal is an AuthError (the load stops, the run fails and alerts) when

- its message matches one of ``access_refusals`` (case-insensitive substrings; the defaults are guesses at
  the vendor's English and Persian wording, not observed: configure them once the real CRM's are seen), or
- (for a Success=false save or delete) the cheap authenticated probe fails too: the CRM will not even list
  CRM object types (``credentials_refused``, asked once per client and cached with its answer).
"""

from __future__ import annotations

from collections.abc import Callable

from hamgam.payamgostar.errors import AuthError

DEFAULT_ACCESS_REFUSALS = (
    "user name or password", "username or password", "password is incorrect", "access denied", "access is denied",
    "not authorized", "unauthorized", "permission", "نام کاربری", "رمز عبور", "کلمه عبور", "دسترسی",
)


class AccessCheck:
    """A client's check of SOAP refusals (a base of ``PayamgostarClient``, with ``crm_types.CrmObjectTypes``)."""

    access_refusals: tuple[str, ...]
    access_probe: bool
    credentials_refused: Callable[[], bool]

    def raise_if_access_refused(self, message: str | None, endpoint: str | None, record: str | None, *,
                                probe: bool = True) -> None:
        """AuthError when the refusal ``message`` is about credentials or permission (see the module)."""
        text = (message or "").casefold()
        if any(pattern.casefold() in text for pattern in self.access_refusals if pattern):
            raise AuthError(f"the CRM refused the credentials or a permission: {message}", record=record,
                            endpoint=endpoint, body=message)
        if probe and self.access_probe and self.credentials_refused():
            raise AuthError(f"the CRM refused it ({message or 'no reason given'}) and refuses to list its CRM object"
                            " types too: wrong credentials or a missing permission", record=record,
                            endpoint=endpoint, body=message)
