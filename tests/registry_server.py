"""A local HTTP server (a real socket) speaking the shape of Bolagsverket's "Värdefulla datamängder" v1:
`POST /oauth2/token` (client credentials, HTTP Basic) and `POST /vardefulla-datamangder/v1/organisationer`
with `{"identitetsbeteckning": "..."}` and a bearer token, answering `{"organisationer": [...]}` with every
field wrapped as the published OpenAPI description has it."""

import base64
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

CLIENT_ID, CLIENT_SECRET = "kundregister-test", "hemligt-" + "x" * 8
BASE_PATH = "/vardefulla-datamangder/v1"


def organisation(orgnr, name, *, form=("AB", "Aktiebolag"), street=None, postcode=None, city=None, co=None,
                 deregistered=None, active=True):  # fmt: skip
    """One `Organisation` as the API has it."""
    return {
        "organisationsidentitet": {"identitetsbeteckning": orgnr, "typ": {"kod": "ORGNR"}},
        "organisationsnamn": {
            "organisationsnamnLista": [
                {"namn": name, "organisationsnamntyp": {"kod": "FORETAGSNAMN"}, "registreringsdatum": "2001-02-03"}
            ],
            "dataproducent": "Bolagsverket",
        },
        "organisationsform": {"kod": form[0], "klartext": form[1], "dataproducent": "Bolagsverket"},
        "organisationsdatum": {"registreringsdatum": "2001-02-03", "dataproducent": "Bolagsverket"},
        "avregistreradOrganisation": {"avregistreringsdatum": deregistered, "dataproducent": "Bolagsverket"},
        "verksamOrganisation": {"kod": "JA" if active else "NEJ", "dataproducent": "SCB"},
        "verksamhetsbeskrivning": {"beskrivning": "Handel med kaffe.", "dataproducent": "Bolagsverket"},
        "postadressOrganisation": {
            "postadress": {
                "utdelningsadress": street, "postnummer": postcode, "postort": city, "coAdress": co, "land": "Sverige"
            },
            "dataproducent": "SCB",
        },
    }  # fmt: skip


class RegistryApi:
    """The server's state: its organisations, the tokens it gave, and the requests it had."""

    def __init__(self, organisations: dict[str, dict]):
        self.organisations = organisations
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, dict]] = []
        self.token_requests = 0
        self.fail_with: int | None = None


def _handler(api: RegistryApi):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/oauth2/token":
                return self._token(body)
            if self.path != f"{BASE_PATH}/organisationer":
                return self._answer(404, {"error": "not found"})
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            if token not in api.tokens:
                return self._answer(401, {"error": "Unauthorized"})
            if api.fail_with:
                return self._answer(api.fail_with, {"error": "down"})
            try:
                request = json.loads(body)
            except ValueError:
                return self._answer(400, {"typ": "OGILTIG_BEGARAN"})
            api.requests.append((self.headers.get("X-Request-Id"), request))
            orgnr = str(request.get("identitetsbeteckning", ""))
            if orgnr not in api.organisations:
                return self._answer(
                    200,
                    {"organisationer": [{"organisationsidentitet": {"identitetsbeteckning": orgnr},
                                         "fel": {"typ": "ORGANISATION_FINNS_EJ", "felBeskrivning": "Finns ej"}}]},
                )  # fmt: skip
            return self._answer(200, {"organisationer": [api.organisations[orgnr]]})

        def _token(self, body: bytes):
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            form = parse_qs(body.decode())
            if self.headers.get("Authorization") != expected or form.get("grant_type") != ["client_credentials"]:
                return self._answer(401, {"error": "invalid_client"})
            api.token_requests += 1
            token = secrets.token_hex(8)
            api.tokens.add(token)
            return self._answer(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

        def _answer(self, status: int, data: dict):
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    return Handler


def start(api: RegistryApi) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def config(server) -> dict:
    host, port = server.server_address
    return {
        "REGISTRY_API_URL": f"http://{host}:{port}{BASE_PATH}",
        "REGISTRY_API_TOKEN_URL": f"http://{host}:{port}/oauth2/token",
        "REGISTRY_API_CLIENT_ID": CLIENT_ID,
        "REGISTRY_API_CLIENT_SECRET": CLIENT_SECRET,
    }
