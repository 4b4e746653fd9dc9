"""A small but real OpenID Connect provider for the tests, shaped like ProConnect, on 127.0.0.1.

A threaded http.server answers discovery (`<issuer>/.well-known/openid-configuration`), the JWKS, the
authorization endpoint (which signs the test's person in at once and sends the browser back with a code), the
token endpoint (client id and secret, single-use code, redirect_uri checked; an ID token signed RS256 or ES256 with
the request's nonce), the userinfo endpoint (a signed JWT, as ProConnect's) and the end-session endpoint. Nothing
of the client library is mocked: Cadre talks HTTP to this server.

A test says who signs in (`person`) and how the provider misbehaves (`id_token_claims`, `userinfo_claims`,
`signing`: overrides merged into what is issued).
"""

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

CLIENT_ID = "cadre-client-de-test"
CLIENT_SECRET = "secret-de-test-" + "x" * 24

AGENT = {
    "sub": "agent-sub-0001",
    "email": "agente@caf69.example.fr",
    "given_name": "Camille",
    "usual_name": "Martin",
    "siret": "77566600100016",
    "idp_id": "fia-caf",
    "uid": "cmartin",
}


class LocalProvider:
    def __init__(self):
        self.rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig", "alg": "RS256"})
        self.ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig", "alg": "ES256"})
        # A key the JWKS does not publish, under a published kid: a forged signature.
        self.foreign = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig", "alg": "RS256"})
        self.reset()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}/api/v2"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reset(self):
        self.person = dict(AGENT)
        self.id_token_claims = {}  # merged into the ID token (None removes a claim)
        self.userinfo_claims = {}  # merged into the userinfo answer
        self.algorithm = "RS256"
        self.sign_with_foreign_key = False
        self.deny = False
        self.codes, self.access_tokens = {}, {}
        self.requests = []  # (path, parameters) in the order received
        self.issued_id_tokens = []

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def settings(self, **overrides):
        """CADRE_PROCONNECT pointing here."""
        return {
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scopes": "openid email given_name usual_name siret idp_id",
            "acr_values": "eidas1",
            "sign_algo": self.algorithm,
            "timeout": 5.0,
            **overrides,
        }

    def calls(self, path):
        return [params for p, params in self.requests if p == path]

    # What the provider issues -------------------------------------------------------------------------

    def key(self):
        if self.sign_with_foreign_key:
            return self.foreign
        return self.ec if self.algorithm == "ES256" else self.rsa

    def sign(self, claims):
        key = self.key()
        merged = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode({"alg": self.algorithm, "kid": key.kid}, merged, key)

    def discovery(self):
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "end_session_endpoint": f"{base}/session/end",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "userinfo_signing_alg_values_supported": ["RS256", "ES256"],
            "acr_values_supported": ["eidas1"],
            "claims_parameter_supported": True,
        }

    def jwks(self):
        return {"keys": [self.rsa.as_dict(private=False), self.ec.as_dict(private=False)]}

    def handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, status, body=b"", content_type="application/json", headers=None):
                if isinstance(body, dict):
                    body = json.dumps(body).encode()
                elif isinstance(body, str):
                    body = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def route(self):
                url = urlsplit(self.path)
                path = url.path.removeprefix(urlsplit(provider.issuer).path)
                return path, {k: v[0] for k, v in parse_qs(url.query).items()}

            def do_GET(self):
                path, params = self.route()
                provider.requests.append((path, params))
                if path == "/.well-known/openid-configuration":
                    return self.send(200, provider.discovery())
                if path == "/jwks":
                    return self.send(200, provider.jwks())
                if path == "/authorize":
                    return self.authorize(params)
                if path == "/userinfo":
                    return self.userinfo()
                if path == "/session/end":
                    target = params["post_logout_redirect_uri"] + "?" + urlencode({"state": params.get("state", "")})
                    return self.send(303, headers={"Location": target})
                return self.send(404, {"error": "not_found"})

            def do_POST(self):
                path, _ = self.route()
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                provider.requests.append((path, {k: v for k, v in form.items() if k != "client_secret"}))
                if path == "/token":
                    return self.token(form)
                return self.send(404, {"error": "not_found"})

            def authorize(self, params):
                if params.get("client_id") != CLIENT_ID or params.get("response_type") != "code":
                    return self.send(400, {"error": "invalid_request"})
                if "openid" not in params.get("scope", "").split() or not params.get("nonce"):
                    return self.send(400, {"error": "invalid_request"})
                if len(params.get("state", "")) < 32 or len(params.get("nonce", "")) < 32:
                    return self.send(400, {"error": "invalid_request", "error_description": "state/nonce < 32"})
                query = {"state": params["state"]}
                if provider.deny:
                    query["error"] = "access_denied"
                else:
                    code = secrets.token_urlsafe(24)
                    provider.codes[code] = {
                        "nonce": params["nonce"],
                        "redirect_uri": params["redirect_uri"],
                        "person": dict(provider.person),
                    }
                    query["code"] = code
                return self.send(302, headers={"Location": f"{params['redirect_uri']}?{urlencode(query)}"})

            def token(self, form):
                if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                    return self.send(401, {"error": "invalid_client"})
                grant = provider.codes.pop(form.get("code", ""), None)  # single use
                if grant is None or form.get("grant_type") != "authorization_code":
                    return self.send(400, {"error": "invalid_grant"})
                if form.get("redirect_uri") != grant["redirect_uri"]:
                    return self.send(400, {"error": "invalid_grant", "error_description": "redirect_uri"})
                now = int(time.time())
                claims = {
                    "iss": provider.issuer,
                    "sub": grant["person"]["sub"],
                    "aud": CLIENT_ID,
                    "exp": now + 60,
                    "iat": now,
                    "auth_time": now,
                    "nonce": grant["nonce"],
                    "acr": "eidas1",
                    "amr": ["pwd"],
                    "idp_id": grant["person"].get("idp_id"),
                    **provider.id_token_claims,
                }
                id_token = provider.sign(claims)
                provider.issued_id_tokens.append(id_token)
                access_token = secrets.token_urlsafe(24)
                provider.access_tokens[access_token] = grant["person"]
                body = {"access_token": access_token, "token_type": "Bearer", "expires_in": 60, "id_token": id_token}
                return self.send(200, body)

            def userinfo(self):
                person = provider.access_tokens.get(self.headers.get("Authorization", "").removeprefix("Bearer "))
                if person is None:
                    return self.send(401, {"error": "invalid_token"})
                claims = {"iss": provider.issuer, "aud": CLIENT_ID, **person, **provider.userinfo_claims}
                return self.send(200, provider.sign(claims), content_type="application/jwt")

        return Handler
