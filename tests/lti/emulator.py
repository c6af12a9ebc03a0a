"""An LTI 1.3 platform (an LMS) for the tests: a small FastAPI app on a free port of 127.0.0.1,
reached as http://localhost:<port> so that a browser sees it as another site than the tool at
http://127.0.0.1:<port> (an IP address is a site of its own; so is `localhost`).

API (everything a test needs; nothing here imports the tool):

    with Platform() as platform:            # started on a free port; stopped on exit
        platform.issuer                     # == platform.url, "http://localhost:<port>"
        platform.client_id, platform.deployment_ids
        platform.use_tool("https://testserver")     # the tool's base URL (login, launch, JWKS)
        platform.registration()             # the fields to register the platform with the tool
        platform.tool_jwks = callable       # optional: the tool's JWKS without HTTP

        # Tokens minted directly (httpx/TestClient tests), any claim or header overridden:
        platform.id_token(nonce=n, user=LEARNER, target="assignment:<id>", iss="x",
                          aud=["a", "b"], exp=..., roles=[...], deployment_id=OMIT, ...,
                          header={"kid": "nope"}, key=other_rsa_key, alg="HS256" | "none")
        #   short claim names: see CLAIMS; `claims={...}` adds any other claim by full name.

        # The OIDC flow: a prepared launch, then the tool's /lti/login, our /auth, its launch.
        launch = platform.launch(LEARNER, target=..., message_type=..., **overrides)
        platform.login_params(launch) / platform.login_url(launch)
        platform.authorize(location)        # follow the tool's redirect to /auth over HTTP:
                                            # -> AuthAnswer(action, id_token, state)
        platform.course_url(launch)         # a page embedding the tool in an <iframe>

        platform.rotate_key(); platform.retire_old_key()    # two keys live during a rotation
        platform.fail_next(3, status=500, on="scores")      # programmable failures
        platform.members = [...]; platform.page_size = 2    # NRPS roster and its paging
        platform.enrolled                   # subs a score may be posted for (else 400)
        platform.add_line_item(label=..., scoreMaximum=...)  # one the platform declares
        platform.scores, platform.scores_for(sub), platform.line_items
        platform.token_requests, platform.assertion_kids, platform.tool_jwks_fetches
        platform.deep_link_responses        # verified LtiDeepLinkingResponse payloads
        platform.content_items              # the last response's items
        platform.placed                     # links (and line items) made from those items:
                                            # platform.id_token(**placed.launch_claims())
        platform.requests                   # (method, path, status) of every call
        platform.errors                     # why the platform refused a tool's request

        platform.registration_url(tool_base)  # LTI Dynamic Registration: what the LMS opens;
                                            # /register then gives a new client_id, deployment

Endpoints: /jwks, /auth (GET|POST), /course, /token, /lineitems (GET|POST),
/lineitems/{id} (GET), /lineitems/{id}/scores (POST), /memberships, /deep-link-return,
/.well-known/openid-configuration, /register.
Like Moodle, a score answers 409 unless its timestamp is later than the user's last (to the
second), 400 for a user outside the course or a timestamp without a zone; every service call
needs a bearer token of its scope from /token, whose client assertion is checked against the
tool's JWKS fetched live.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS_SCOPES = {
    "lineitem": "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "lineitem.readonly": "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "result.readonly": "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "score": "https://purl.imsglobal.org/spec/lti-ags/scope/score",
}
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
ROLE_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ROLE_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# Short names for the claims a test overrides; any other claim goes in `claims={...}`.
CLAIMS = {
    "deployment_id": LTI + "deployment_id",
    "message_type": LTI + "message_type",
    "version": LTI + "version",
    "roles": LTI + "roles",
    "custom": LTI + "custom",
    "context": LTI + "context",
    "resource_link": LTI + "resource_link",
    "target_link_uri": LTI + "target_link_uri",
    "launch_presentation": LTI + "launch_presentation",
    "ags": AGS,
    "nrps": NRPS,
    "deep_linking_settings": DL + "deep_linking_settings",
}


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()  # as a claim's or header's value: leave it out of the token


@dataclass(frozen=True)
class User:
    sub: str
    name: str
    roles: tuple[str, ...]
    email: str | None = None

    def member(self) -> dict[str, Any]:
        """As NRPS lists it."""
        given, _, family = self.name.partition(" ")
        return {
            "status": "Active",
            "user_id": self.sub,
            "name": self.name,
            "given_name": given,
            "family_name": family,
            "email": self.email,
            "roles": list(self.roles),
        }


LEARNER = User("learner-1", "Ada Learner", (ROLE_LEARNER,), "ada@lms.example")
INSTRUCTOR = User("teacher-1", "Grace Teacher", (ROLE_INSTRUCTOR,), "grace@lms.example")
ADMIN = User("admin-1", "Alan Admin", (ROLE_ADMIN,), "alan@lms.example")


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, Any]:
        key = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**key, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode_jwt(
    payload: dict[str, Any], *, alg: str, header: dict[str, Any], key: Any = None
) -> str:
    """A JWS by hand: PyJWT refuses to make the malformed ones (alg none, HS256 keyed with an
    RSA public key), which are exactly what a tool must refuse."""
    head = {k: v for k, v in {"typ": "JWT", "alg": alg, **header}.items() if v is not OMIT}
    signing_input = f"{_b64(json.dumps(head).encode())}.{_b64(json.dumps(payload).encode())}"
    data = signing_input.encode()
    if alg == "RS256":
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "HS256":
        signature = hmac.new(key, data, hashlib.sha256).digest()
    elif alg == "none":
        signature = b""
    else:
        raise ValueError(f"the emulator signs RS256, HS256 or none, not {alg}")
    return f"{signing_input}.{_b64(signature)}"


@dataclass
class PlacedLink:
    """A resource link the platform made from a deep-linking content item (as Moodle and
    Canvas do), with the line item it made from the item's `lineItem`, if any."""

    resource_link_id: str
    title: str
    custom: dict[str, Any]
    url: str
    lineitem: str | None

    def launch_claims(self) -> dict[str, Any]:
        """id_token() keywords for a launch of this link."""
        claims: dict[str, Any] = {"resource_link_id": self.resource_link_id, "custom": self.custom}
        if self.lineitem:
            claims["lineitem"] = self.lineitem
        return claims


@dataclass
class Launch:
    """A launch prepared by the test; the OIDC flow finds it by its `lti_message_hint`."""

    hint: str
    user: User
    overrides: dict[str, Any]


@dataclass
class AuthAnswer:
    """What /auth posts back to the tool: the form's action and fields."""

    action: str
    id_token: str
    state: str


@dataclass
class ToolUrls:
    base: str
    login: str = ""
    launch: str = ""
    jwks: str = ""

    def __post_init__(self) -> None:
        base = self.base.rstrip("/")
        self.login = self.login or f"{base}/lti/login"
        self.launch = self.launch or f"{base}/lti/launch"
        self.jwks = self.jwks or f"{base}/lti/jwks.json"


@dataclass
class Failure:
    status: int
    on: str


class RefusalError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Platform:
    """The LMS. See the module docstring."""

    client_id: str = "torchquiz-client"
    deployment_ids: list[str] = field(default_factory=lambda: ["deployment-1"])
    context_id: str = "course-101"
    context_title: str = "Deep Learning 101"
    token_lifetime: int = 3600
    page_size: int = 2

    def __post_init__(self) -> None:
        self.url = ""
        self.keys: list[SigningKey] = [SigningKey("platform-key-1", new_rsa_key())]
        self._kids = itertools.count(2)
        self.tool: ToolUrls | None = None
        self.tool_jwks: Callable[[], dict[str, Any]] | None = None
        self.launches: dict[str, Launch] = {}
        self.members: list[dict[str, Any]] = [LEARNER.member(), INSTRUCTOR.member()]
        self.enrolled: set[str] = {LEARNER.sub, INSTRUCTOR.sub}
        self.line_items: dict[str, dict[str, Any]] = {}
        self.scores: list[dict[str, Any]] = []
        self.deep_link_responses: list[dict[str, Any]] = []
        self.placed: list[PlacedLink] = []  # links made from content items, in order
        self.registration_token: str | None = None  # the one-time token of /register
        self.registrations: list[dict[str, Any]] = []  # tool configurations registered
        self.errors: list[str] = []
        self.token_requests = 0
        self.tool_jwks_fetches = 0
        self.assertion_kids: list[str] = []  # the kid of each client assertion verified
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of each call
        self._failures: list[Failure] = []
        self._tokens: dict[str, tuple[float, set[str]]] = {}
        self._jtis: set[str] = set()
        self._last_score_second: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._server: _Served | None = None
        # LTI client-side storage: the frame name sent as lti_storage_target (None: not
        # offered), answered by the /course page's script; and whether /auth's form waits for
        # a click instead of posting itself (a test acts in between: drops the cookies).
        self.storage_target: str | None = None
        self.hold_auth = False

    # --- life ---

    def __enter__(self) -> Platform:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._server = _Served(self.asgi(), host_name="localhost")
        self.url = self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def lineitems_url(self) -> str:
        return f"{self.url}/lineitems"

    @property
    def memberships_url(self) -> str:
        return f"{self.url}/memberships"

    @property
    def deep_link_return_url(self) -> str:
        return f"{self.url}/deep-link-return"

    def use_tool(self, base_url: str, **urls: str) -> None:
        """Where the tool is: its login, launch and JWKS URLs default to D's paths."""
        self.tool = ToolUrls(base_url, **urls)

    def registration(self) -> dict[str, Any]:
        """What an administrator types into the tool's platform registration form."""
        return {
            "name": "Emulated LMS",
            "issuer": self.issuer,
            "client_id": self.client_id,
            "deployment_ids": list(self.deployment_ids),
            "auth_login_url": f"{self.url}/auth",
            "token_url": self.token_url,
            "jwks_url": f"{self.url}/jwks",
        }

    # --- keys ---

    @property
    def key(self) -> SigningKey:
        """The key that signs now (the newest)."""
        return self.keys[-1]

    def rotate_key(self) -> str:
        """A new signing key; the old one stays published until retire_old_key()."""
        new = SigningKey(f"platform-key-{next(self._kids)}", new_rsa_key())
        self.keys.append(new)
        return new.kid

    def retire_old_key(self) -> None:
        self.keys = [self.key]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in self.keys]}

    # --- tokens ---

    def claims_for(
        self,
        user: User = LEARNER,
        *,
        nonce: str | None = None,
        message_type: str = "LtiResourceLinkRequest",
        target: str | None = None,
        resource_link_id: str = "link-1",
        resource_link_title: str = "Week 1 quiz",
        lineitem: str | None = None,
    ) -> dict[str, Any]:
        """The claims of a well-formed launch of `user`."""
        now = int(time.time())
        given, _, family = user.name.partition(" ")
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": user.sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce or secrets.token_urlsafe(16),
            "name": user.name,
            "given_name": given,
            "family_name": family,
            "email": user.email,
            LTI + "message_type": message_type,
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_ids[0],
            LTI + "target_link_uri": self.tool.launch if self.tool else "",
            LTI + "roles": list(user.roles),
            LTI + "context": {
                "id": self.context_id,
                "label": "DL101",
                "title": self.context_title,
                "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            },
            LTI + "tool_platform": {"guid": "emulated-lms", "name": "Emulated LMS"},
            LTI + "launch_presentation": {"document_target": "iframe"},
            NRPS: {"context_memberships_url": self.memberships_url, "service_versions": ["2.0"]},
        }
        if message_type == "LtiDeepLinkingRequest":
            claims[DL + "deep_linking_settings"] = {
                "deep_link_return_url": self.deep_link_return_url,
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": True,
                "auto_create": True,
                "data": "opaque-platform-data",
            }
            claims[AGS] = {
                "scope": list(AGS_SCOPES.values()),
                "lineitems": self.lineitems_url,
            }
        else:
            claims[LTI + "resource_link"] = {"id": resource_link_id, "title": resource_link_title}
            claims[AGS] = {"scope": list(AGS_SCOPES.values()), "lineitems": self.lineitems_url}
            if lineitem:
                claims[AGS]["lineitem"] = lineitem
        if target is not None:
            claims[LTI + "custom"] = {"target": target}
        return claims

    def id_token(
        self,
        user: User = LEARNER,
        *,
        nonce: str | None = None,
        message_type: str = "LtiResourceLinkRequest",
        target: str | None = None,
        resource_link_id: str = "link-1",
        lineitem: str | None = None,
        header: dict[str, Any] | None = None,
        key: Any = None,
        alg: str = "RS256",
        claims: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """A signed id_token. `overrides` by short name (iss, aud, azp, exp, iat, nonce, sub or
        a CLAIMS key; OMIT drops one); `key`: another RSA key (kid still ours) or, with
        alg="HS256", the HMAC secret (default: our public key's PEM)."""
        payload = self.claims_for(
            user,
            nonce=nonce,
            message_type=message_type,
            target=target,
            resource_link_id=resource_link_id,
            lineitem=lineitem,
        )
        for name, value in (overrides | (claims or {})).items():
            payload[CLAIMS.get(name, name)] = value
        payload = {k: v for k, v in payload.items() if v is not OMIT}
        head = {"kid": self.key.kid, **(header or {})}
        if alg == "HS256":
            key = key if key is not None else self.key.public_pem()
        elif alg == "RS256":
            key = key if key is not None else self.key.private
        return encode_jwt(payload, alg=alg, header=head, key=key)

    # --- the OIDC flow ---

    def launch(self, user: User = LEARNER, **overrides: Any) -> Launch:
        """A launch the browser will make: `overrides` as id_token() takes them."""
        hint = secrets.token_urlsafe(12)
        self.launches[hint] = Launch(hint, user, overrides)
        self.enrolled.add(user.sub)
        return self.launches[hint]

    def login_params(self, launch: Launch) -> dict[str, str]:
        """The third-party initiated login's parameters (LTI 1.3 core, 4.1)."""
        assert self.tool is not None, "call use_tool() first"
        return {
            "iss": self.issuer,
            "login_hint": launch.user.sub,
            "target_link_uri": launch.overrides.get("target_link_uri", self.tool.launch),
            "lti_message_hint": launch.hint,
            "client_id": self.client_id,
            "lti_deployment_id": launch.overrides.get("deployment_id", self.deployment_ids[0]),
            **({"lti_storage_target": self.storage_target} if self.storage_target else {}),
        }

    def login_url(self, launch: Launch) -> str:
        assert self.tool is not None, "call use_tool() first"
        return f"{self.tool.login}?{urlencode(self.login_params(launch))}"

    def course_url(self, launch: Launch) -> str:
        return f"{self.url}/course?{urlencode({'launch': launch.hint})}"

    def authorize(self, location: str) -> AuthAnswer:
        """Follow the tool's redirect to our /auth over HTTP; the auto-submitting form's
        action and fields. Raises AssertionError with our reason if /auth refuses."""
        query = urlsplit(location).query
        answer = httpx.get(f"{self.url}/auth?{query}", timeout=10)
        assert answer.status_code == 200, f"/auth refused ({answer.status_code}): {answer.text}"
        return parse_form(answer.text)

    def _auth(self, params: dict[str, str]) -> HTMLResponse:
        launch = self._check_auth_request(params)
        nonce = params["nonce"]
        token = self.id_token(launch.user, nonce=nonce, **launch.overrides)
        return HTMLResponse(
            auto_post(
                params["redirect_uri"],
                id_token=token,
                state=params["state"],
                at_once=not self.hold_auth,
            )
        )

    def _check_auth_request(self, params: dict[str, str]) -> Launch:
        expected = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": self.client_id,
        }
        for name, value in expected.items():
            if params.get(name) != value:
                raise RefusalError(400, f"{name} must be {value!r}, not {params.get(name)!r}")
        for name in ("nonce", "state", "login_hint", "redirect_uri"):
            if not params.get(name):
                raise RefusalError(400, f"{name} is missing")
        if self.tool is None or params["redirect_uri"] != self.tool.launch:
            raise RefusalError(400, f"redirect_uri {params['redirect_uri']!r} is not registered")
        launch = self.launches.get(params.get("lti_message_hint", ""))
        if launch is None:
            raise RefusalError(400, "lti_message_hint names no launch")
        if params["login_hint"] != launch.user.sub:
            raise RefusalError(400, "login_hint is not the user of this launch")
        return launch

    # --- LTI Dynamic Registration 1.0 ---

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.url}/auth",
            "token_endpoint": self.token_url,
            "jwks_uri": f"{self.url}/jwks",
            "registration_endpoint": f"{self.url}/register",
            "scopes_supported": ["openid", *AGS_SCOPES.values(), NRPS_SCOPE],
            "response_types_supported": ["id_token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "emulated-lms",
                "version": "1.0",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest"},
                    {"type": "LtiDeepLinkingRequest"},
                ],
            },
        }

    def registration_url(self, tool_base: str) -> str:
        """What the LMS opens to register a tool dynamically: the tool's registration page
        with our configuration's URL and a new one-time token."""
        self.registration_token = secrets.token_urlsafe(16)
        query = {
            "openid_configuration": f"{self.url}/.well-known/openid-configuration",
            "registration_token": self.registration_token,
        }
        return f"{tool_base.rstrip('/')}/lti/register?{urlencode(query)}"

    def _register(self, request: Request, body: Any) -> dict[str, Any]:
        """Take a tool's registration (DR 1.0, 3.6): a new client id and deployment for it,
        and its URLs for our launches from now on. The token works once."""
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not self.registration_token or token != self.registration_token:
            raise RefusalError(401, "no valid registration token")
        if not isinstance(body, dict):
            raise RefusalError(400, "a registration is a JSON object")
        tool = body.get("https://purl.imsglobal.org/spec/lti-tool-configuration")
        redirects = body.get("redirect_uris")
        for name in ("initiate_login_uri", "jwks_uri", "client_name"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise RefusalError(400, f"the registration lacks {name}")
        if not isinstance(redirects, list) or not redirects or not isinstance(tool, dict):
            raise RefusalError(400, "the registration lacks redirect_uris or the LTI tool part")
        if body.get("token_endpoint_auth_method") != "private_key_jwt":
            raise RefusalError(400, "token_endpoint_auth_method must be private_key_jwt")
        self.registration_token = None
        self.client_id = f"dyn-{secrets.token_hex(4)}"
        deployment = f"deployment-{len(self.deployment_ids) + 1}"
        self.deployment_ids.insert(0, deployment)
        launch = str(tool.get("target_link_uri") or redirects[0])
        self.tool = ToolUrls(
            launch.split("/lti/")[0],
            login=body["initiate_login_uri"],
            launch=launch,
            jwks=body["jwks_uri"],
        )
        self.registrations.append(body)
        return {
            **body,
            "client_id": self.client_id,
            "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                **tool,
                "deployment_id": deployment,
            },
        }

    # --- failures ---

    def fail_next(self, n: int, status: int = 500, on: str = "scores") -> None:
        """The next `n` requests to `on` (scores, lineitems, token, memberships, any) answer
        `status`."""
        with self._lock:
            self._failures += [Failure(status, on)] * n

    def clear_failures(self) -> None:
        """The failures still programmed are dropped: the LMS is back."""
        with self._lock:
            self._failures.clear()

    def _failure(self, kind: str) -> int | None:
        with self._lock:
            for i, failure in enumerate(self._failures):
                if failure.on in (kind, "any"):
                    del self._failures[i]
                    return failure.status
        return None

    # --- the tool's keys ---

    async def tool_keys(self) -> dict[str, Any]:
        """The tool's JWKS, fetched live each time (as a platform does on an unknown kid)."""
        self.tool_jwks_fetches += 1
        if self.tool_jwks is not None:
            return self.tool_jwks()
        assert self.tool is not None, "call use_tool() first"
        async with httpx.AsyncClient(timeout=5) as http:
            answer = await http.get(self.tool.jwks)
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]

    async def verify_tool_jwt(self, token: str, *, audience: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise RefusalError(400, f"not a JWT: {exc}") from None
        if header.get("alg") != "RS256":
            raise RefusalError(400, f"alg must be RS256, not {header.get('alg')!r}")
        try:
            keys = await self.tool_keys()
        except (httpx.HTTPError, ValueError) as exc:
            raise RefusalError(400, f"the tool's JWKS could not be fetched: {exc!r}") from None
        jwk = next((k for k in keys.get("keys", []) if k.get("kid") == header.get("kid")), None)
        if jwk is None:
            raise RefusalError(400, f"kid {header.get('kid')!r} is not in the tool's JWKS")
        public = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
        try:
            return jwt.decode(
                token,
                public,  # type: ignore[arg-type]
                algorithms=["RS256"],
                audience=audience,
                options={"require": ["iss", "aud", "exp", "iat"]},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise RefusalError(400, f"the tool's JWT does not verify: {exc}") from None

    # --- token endpoint ---

    async def _token(self, form: dict[str, str]) -> dict[str, Any]:
        self.token_requests += 1
        if form.get("grant_type") != "client_credentials":
            raise RefusalError(400, "grant_type must be client_credentials")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise RefusalError(400, "client_assertion_type must be jwt-bearer")
        assertion = form.get("client_assertion", "")
        claims = await self.verify_tool_jwt(assertion, audience=self.token_url)
        self.assertion_kids.append(jwt.get_unverified_header(assertion)["kid"])
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            raise RefusalError(401, "the client assertion's iss and sub must be our client id")
        jti = claims.get("jti")
        if not jti or jti in self._jtis:
            raise RefusalError(401, "the client assertion's jti is missing or used before")
        self._jtis.add(jti)
        requested = set(form.get("scope", "").split())
        known = {*AGS_SCOPES.values(), NRPS_SCOPE}
        if not requested or not requested <= known:
            raise RefusalError(400, f"invalid scope: {sorted(requested - known) or 'none asked'}")
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (time.time() + self.token_lifetime, requested)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "scope": " ".join(sorted(requested)),
        }

    def _bearer(self, request: Request, *scopes: str) -> None:
        auth = request.headers.get("authorization", "")
        kind, _, token = auth.partition(" ")
        if kind.lower() != "bearer" or token not in self._tokens:
            raise RefusalError(401, "no valid bearer token")
        expires, granted = self._tokens[token]
        if expires < time.time():
            raise RefusalError(401, "the bearer token has expired")
        if not granted & set(scopes):
            raise RefusalError(403, f"the token lacks a scope of {list(scopes)}")

    # --- AGS ---

    def _line_item_url(self, item_id: str) -> str:
        return f"{self.url}/lineitems/{item_id}"

    def add_line_item(self, **fields: Any) -> dict[str, Any]:
        """A line item the platform made itself (as Open edX declares one)."""
        item_id = str(len(self.line_items) + 1)
        item = {"id": self._line_item_url(item_id), "scoreMaximum": 1, "label": "Item", **fields}
        self.line_items[item_id] = item
        return item

    def _create_line_item(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise RefusalError(400, "a line item is a JSON object")
        if not isinstance(body.get("label"), str) or not body["label"]:
            raise RefusalError(400, "a line item needs a label")
        maximum = body.get("scoreMaximum")
        if not isinstance(maximum, int | float) or maximum <= 0:
            raise RefusalError(400, "a line item needs a positive scoreMaximum")
        return self.add_line_item(**{k: v for k, v in body.items() if k != "id"})

    def _post_score(self, item_id: str, body: Any) -> None:
        if item_id not in self.line_items:
            raise RefusalError(404, f"no line item {item_id}")
        if not isinstance(body, dict):
            raise RefusalError(400, "a score is a JSON object")
        for name in ("userId", "timestamp", "activityProgress", "gradingProgress"):
            if name not in body:
                raise RefusalError(400, f"a score needs {name}")
        try:
            moment = datetime.fromisoformat(body["timestamp"])
        except (TypeError, ValueError):
            raise RefusalError(400, f"timestamp {body['timestamp']!r} is not ISO 8601") from None
        if moment.tzinfo is None:
            raise RefusalError(400, f"timestamp {body['timestamp']!r} has no time zone")
        if body["userId"] not in self.enrolled:  # Moodle: 400, "User not found in course"
            raise RefusalError(400, f"user {body['userId']!r} is not in the course")
        if "scoreGiven" in body:
            given, maximum = body.get("scoreGiven"), body.get("scoreMaximum")
            if not isinstance(given, int | float) or not isinstance(maximum, int | float):
                raise RefusalError(400, "scoreGiven and scoreMaximum must be numbers")
            if given < 0 or maximum <= 0:
                raise RefusalError(400, "scoreGiven must be >= 0 and scoreMaximum > 0")
        second = int(moment.timestamp())
        key = (item_id, body["userId"])
        with self._lock:  # Moodle: 409 unless later than the last, at one-second resolution
            if key in self._last_score_second and second <= self._last_score_second[key]:
                raise RefusalError(409, "the score's timestamp is not after the last one")
            self._last_score_second[key] = second
            self.scores.append({**body, "lineitem": self._line_item_url(item_id)})

    def scores_for(self, user: str) -> list[dict[str, Any]]:
        return [s for s in self.scores if s["userId"] == user]

    # --- NRPS ---

    def _memberships(self, page: int) -> tuple[dict[str, Any], str | None]:
        start = page * self.page_size
        members = self.members[start : start + self.page_size]
        more = start + self.page_size < len(self.members)
        next_url = f"{self.memberships_url}?{urlencode({'page': page + 1})}" if more else None
        body = {
            "id": self.memberships_url,
            "context": {"id": self.context_id, "title": self.context_title},
            "members": members,
        }
        return body, next_url

    # --- deep linking ---

    async def _deep_link_return(self, token: str) -> list[dict[str, Any]]:
        claims = await self.verify_tool_jwt(token, audience=self.issuer)
        if claims.get("iss") != self.client_id:
            raise RefusalError(400, f"iss must be our client id, not {claims.get('iss')!r}")
        if claims.get(LTI + "message_type") != "LtiDeepLinkingResponse":
            raise RefusalError(400, "message_type must be LtiDeepLinkingResponse")
        if claims.get(LTI + "version") != "1.3.0":
            raise RefusalError(400, "version must be 1.3.0")
        if claims.get(LTI + "deployment_id") not in self.deployment_ids:
            raise RefusalError(400, "deployment_id is not one of ours")
        if claims.get(DL + "data") != "opaque-platform-data":
            raise RefusalError(400, "data must echo the request's deep_linking_settings.data")
        if not claims.get("nonce"):
            raise RefusalError(400, "nonce is missing")
        items = claims.get(DL + "content_items")
        if not isinstance(items, list):
            raise RefusalError(400, "content_items must be a list")
        self.deep_link_responses.append(claims)
        for item in items:
            self._place(item)
        return items

    def _place(self, item: Any) -> None:
        if not isinstance(item, dict) or item.get("type") != "ltiResourceLink":
            return
        link_id = f"placed-{len(self.placed) + 1}"
        lineitem = None
        if isinstance(item.get("lineItem"), dict):
            made = self.add_line_item(**item["lineItem"], resourceLinkId=link_id)
            lineitem = made["id"]
        given = item.get("custom")
        custom: dict[str, Any] = given if isinstance(given, dict) else {}
        title = str(item.get("title") or "")
        self.placed.append(PlacedLink(link_id, title, custom, str(item.get("url")), lineitem))

    @property
    def content_items(self) -> list[dict[str, Any]]:
        """The content items of the last deep-linking response."""
        return (
            self.deep_link_responses[-1][DL + "content_items"] if self.deep_link_responses else []
        )

    # --- the web app ---

    def asgi(self) -> FastAPI:
        app = FastAPI(title="Emulated LMS", docs_url=None, redoc_url=None, openapi_url=None)
        platform = self

        @app.exception_handler(RefusalError)
        async def refused(request: Request, exc: RefusalError) -> Response:
            platform.errors.append(f"{request.method} {request.url.path}: {exc.message}")
            return JSONResponse({"error": exc.message}, status_code=exc.status)

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            response: Response = await call_next(request)
            platform.requests.append((request.method, request.url.path, response.status_code))
            return response

        def failing(kind: str) -> None:
            status = platform._failure(kind)
            if status is not None:
                raise RefusalError(status, f"programmed failure ({kind})")

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            return platform.jwks()

        @app.api_route("/auth", methods=["GET", "POST"])
        async def auth(request: Request) -> Response:
            params = dict(request.query_params)
            if request.method == "POST":
                params |= {k: str(v) for k, v in (await request.form()).items()}
            try:
                return platform._auth(params)
            except RefusalError as exc:  # a page, as an LMS shows it in the frame
                platform.errors.append(f"/auth: {exc.message}")
                return HTMLResponse(page("Launch refused", html.escape(exc.message)), 400)

        @app.get("/course")
        async def course(launch: str) -> HTMLResponse:
            known = platform.launches.get(launch)
            if known is None:
                return HTMLResponse(page("No such launch", ""), 404)
            src = html.escape(platform.login_url(known))
            body = (
                f"<h1>{html.escape(platform.context_title)}</h1>"
                f'<iframe id="tool" name="tool" title="torchquiz" src="{src}" '
                'width="1000" height="800" allow="clipboard-write"></iframe>'
            )
            script = STORAGE_SCRIPT if platform.storage_target else ""
            return HTMLResponse(page(platform.context_title, body, script))

        @app.post("/token")
        async def token(request: Request) -> JSONResponse:
            failing("token")
            form = {k: str(v) for k, v in (await request.form()).items()}
            try:
                return JSONResponse(await platform._token(form))
            except RefusalError as exc:
                platform.errors.append(f"/token: {exc.message}")
                error = "invalid_client" if exc.status == 401 else "invalid_request"
                return JSONResponse({"error": error, "error_description": exc.message}, exc.status)

        @app.get("/lineitems")
        async def lineitems(request: Request) -> JSONResponse:
            platform._bearer(request, AGS_SCOPES["lineitem"], AGS_SCOPES["lineitem.readonly"])
            failing("lineitems")
            wanted = {
                k: request.query_params[k]
                for k in ("resource_link_id", "resource_id", "tag")
                if k in request.query_params
            }
            items = [
                item
                for item in platform.line_items.values()
                if all(item.get(_camel(k)) == v for k, v in wanted.items())
            ]
            return JSONResponse(items, media_type=LINEITEMS_TYPE)

        @app.post("/lineitems")
        async def create_lineitem(request: Request) -> JSONResponse:
            platform._bearer(request, AGS_SCOPES["lineitem"])
            failing("lineitems")
            item = platform._create_line_item(await _json(request))
            return JSONResponse(item, status_code=201, media_type=LINEITEM_TYPE)

        @app.get("/lineitems/{item_id}")
        async def lineitem(item_id: str, request: Request) -> JSONResponse:
            platform._bearer(request, AGS_SCOPES["lineitem"], AGS_SCOPES["lineitem.readonly"])
            if item_id not in platform.line_items:
                raise RefusalError(404, f"no line item {item_id}")
            return JSONResponse(platform.line_items[item_id], media_type=LINEITEM_TYPE)

        @app.post("/lineitems/{item_id}/scores")
        async def scores(item_id: str, request: Request) -> Response:
            platform._bearer(request, AGS_SCOPES["score"])
            failing("scores")
            if not request.headers.get("content-type", "").startswith(SCORE_TYPE):
                raise RefusalError(415, f"a score is posted as {SCORE_TYPE}")
            platform._post_score(item_id, await _json(request))
            return Response(status_code=204)

        @app.get("/memberships")
        async def memberships(request: Request, page: int = 0) -> JSONResponse:
            platform._bearer(request, NRPS_SCOPE)
            failing("memberships")
            body, next_url = platform._memberships(page)
            headers = {"link": f'<{next_url}>; rel="next"'} if next_url else {}
            return JSONResponse(body, headers=headers, media_type=MEMBERSHIPS_TYPE)

        @app.get("/.well-known/openid-configuration")
        async def openid_configuration() -> dict[str, Any]:
            return platform.openid_configuration()

        @app.post("/register")
        async def register(request: Request) -> JSONResponse:
            return JSONResponse(platform._register(request, await _json(request)))

        @app.post("/deep-link-return")
        async def deep_link_return(request: Request) -> HTMLResponse:
            form = await request.form()
            try:
                items = await platform._deep_link_return(str(form.get("JWT", "")))
            except RefusalError as exc:
                platform.errors.append(f"/deep-link-return: {exc.message}")
                return HTMLResponse(page("Content refused", html.escape(exc.message)), 400)
            titles = "".join(f"<li>{html.escape(str(i.get('title')))}</li>" for i in items)
            return HTMLResponse(page("Content added", f"<ul>{titles}</ul>"))

        return app


LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
MEMBERSHIPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise RefusalError(400, "the body is not JSON") from None


def page(title: str, body: str, script: str = "") -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title></head><body><main>{body}</main>{script}</body></html>"
    )


# The platform's side of the LTI client-side storage (1EdTech "LTI Client Side
# postMessages"): lti.put_data / lti.get_data from the tool's frame, answered with
# "<subject>.response" to the asking window, keyed per origin as the spec says.
STORAGE_SCRIPT = """<script>
(function () {
  var kept = {};
  window.addEventListener("message", function (event) {
    var m = event.data;
    if (!m || typeof m !== "object" || !m.subject || !m.message_id) return;
    var key = event.origin + " " + m.key, answer = {subject: m.subject + ".response",
      message_id: m.message_id, key: m.key};
    if (m.subject === "lti.put_data") { kept[key] = m.value; answer.value = m.value; }
    else if (m.subject === "lti.get_data") {
      if (key in kept) answer.value = kept[key];
      else answer.error = {code: "bad_request", message: "no such key"};
    } else return;
    event.source.postMessage(answer, event.origin);
  });
})();
</script>"""


def auto_post(action: str, *, at_once: bool = True, **fields: str) -> str:
    """The form an LMS answers with: posted at once by script (the platform has no CSP), or
    (`at_once` False) when its button is pressed."""
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )
    form = (
        f'<form id="launch" method="post" action="{html.escape(action)}">{inputs}'
        '<button type="submit">Continue</button></form>'
    )
    script = "<script>document.getElementById('launch').submit()</script>" if at_once else ""
    return page("Launching", form, script)


def parse_form(text: str) -> AuthAnswer:
    """The action and hidden fields of an auto-submitting form (ours, or the tool's)."""
    fields = parse_hidden_fields(text)
    action = re.search(r'<form[^>]*\saction="([^"]*)"', text)
    assert action, f"no form in: {text[:500]}"
    return AuthAnswer(html.unescape(action[1]), fields.get("id_token", ""), fields.get("state", ""))


def parse_hidden_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", text):
        name = re.search(r'\sname="([^"]*)"', tag)
        value = re.search(r'\svalue="([^"]*)"', tag)
        if name:
            fields[html.unescape(name[1])] = html.unescape(value[1]) if value else ""
    return fields


def form_action(text: str) -> str:
    action = re.search(r'<form[^>]*\saction="([^"]*)"', text)
    assert action, f"no form in: {text[:500]}"
    return html.unescape(action[1])


def query_of(location: str) -> dict[str, str]:
    """A redirect's query parameters, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class _Served:
    """An ASGI app under uvicorn in a thread, on a free port of 127.0.0.1 (bound first and
    handed over: no window in which another process takes the port)."""

    def __init__(self, app: Any, *, host_name: str = "127.0.0.1") -> None:
        config = uvicorn.Config(
            app, lifespan="on", ws="none", log_level="warning", log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.host_name = host_name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self, ready_path: str = "/jwks", timeout: float = 180) -> str:
        url = f"http://{self.host_name}:{self.sock.getsockname()[1]}"
        self.thread.start()
        deadline = time.monotonic() + timeout
        while True:
            assert self.thread.is_alive(), f"the server at {url} stopped during start-up"
            try:
                with urllib.request.urlopen(url + ready_path, timeout=2):
                    return url
            except urllib.error.HTTPError as exc:
                exc.close()
            except OSError:
                pass
            assert time.monotonic() < deadline, f"{url}{ready_path} did not answer in {timeout} s"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@contextlib.contextmanager
def served(app: Any, *, ready_path: str, host_name: str = "127.0.0.1") -> Iterator[str]:
    """`app` served on a free port until the block ends; yields its URL."""
    server = _Served(app, host_name=host_name)
    try:
        yield server.start(ready_path)
    finally:
        server.stop()
