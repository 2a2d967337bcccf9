"""SOAP login() in the partner namespace, as simple-salesforce sends it and reads the answer.

The client finds `sessionId` and `serverUrl` by their unprefixed names, and a failure's
`sf:exceptionCode` by its prefixed name, so both spellings here are load-bearing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - parses envelopes sent to a local simulator
from dataclasses import dataclass
from xml.sax.saxutils import escape

from sandbox.salesforce_sim.auth import Credentials
from sandbox.salesforce_sim.ids import ORG_ID, checksum_suffix

PARTNER_NS = "urn:partner.soap.sforce.com"
ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"
PROFILE_ID = "00e5g000000SysA" + checksum_suffix("00e5g000000SysA")


@dataclass(frozen=True)
class LoginUser:
    user_id: str
    full_name: str
    email: str


class SoapFault(Exception):
    def __init__(self, code: str, message: str, *, client_error: bool = False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_error = client_error  # the envelope itself was unusable

    def envelope(self) -> str:
        detail = "" if self.client_error else (
            '<detail><sf:LoginFault xsi:type="sf:LoginFault">'
            f"<sf:exceptionCode>{self.code}</sf:exceptionCode>"
            f"<sf:exceptionMessage>{escape(self.message)}</sf:exceptionMessage></sf:LoginFault></detail>")
        faultcode = "soapenv:Client" if self.client_error else f"sf:{self.code}"
        return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{ENVELOPE_NS}" '
                'xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
                f"<soapenv:Body><soapenv:Fault><faultcode>{faultcode}</faultcode>"
                f"<faultstring>{escape(self.code)}: {escape(self.message)}</faultstring>{detail}"
                "</soapenv:Fault></soapenv:Body></soapenv:Envelope>")


def check_login(creds: Credentials, body: bytes) -> None:
    """Raise SoapFault unless `body` is a login() envelope with the right username and password+token."""
    try:
        root = ET.fromstring(body)  # noqa: S314 - local simulator input
    except ET.ParseError:
        raise SoapFault("UNKNOWN_EXCEPTION", "The request is not a well-formed SOAP envelope",
                        client_error=True) from None
    login = root.find(f"{{{ENVELOPE_NS}}}Body/{{{PARTNER_NS}}}login")
    if root.tag != f"{{{ENVELOPE_NS}}}Envelope" or login is None:
        raise SoapFault("UNKNOWN_EXCEPTION", "Expected a SOAP 1.1 envelope whose body is a partner login()",
                        client_error=True)
    username = login.findtext(f"{{{PARTNER_NS}}}username")
    password = login.findtext(f"{{{PARTNER_NS}}}password")
    if username != creds.username or password != creds.password + creds.security_token:
        raise SoapFault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")


def login_response(base_url: str, version: str, session_id: str, ttl_seconds: int, user: LoginUser,
                   username: str) -> str:
    org15 = ORG_ID[:15]
    info = "".join(f"<{tag}>{escape(str(value))}</{tag}>" for tag, value in [
        ("accessibilityMode", "false"), ("currencySymbol", "$"), ("orgDefaultCurrencyIsoCode", "USD"),
        ("organizationId", ORG_ID), ("organizationName", "Connector Sandbox"), ("profileId", PROFILE_ID),
        ("roleId", ""), ("sessionSecondsValid", ttl_seconds), ("userEmail", user.email),
        ("userFullName", user.full_name), ("userId", user.user_id), ("userLanguage", "en_US"),
        ("userLocale", "en_US"), ("userName", username), ("userTimeZone", "Europe/London"),
        ("userType", "Standard")])
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{ENVELOPE_NS}" '
            f'xmlns="{PARTNER_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            "<loginResponse><result>"
            f"<metadataServerUrl>{base_url}/services/Soap/m/{version}/{org15}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
            f"<serverUrl>{base_url}/services/Soap/u/{version}/{org15}</serverUrl>"
            f"<sessionId>{escape(session_id)}</sessionId><userId>{user.user_id}</userId>"
            f"<userInfo>{info}</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>")
