"""A small SAML service provider for the browser test: python3-saml behind http.server.

GET /login starts an SP-initiated login (HTTP-Redirect binding) at the IdP whose metadata URL
is argv[1]; POST /acs validates the Response in strict mode and shows the NameID
(<h1 id="nameid">) or the errors. Listens on 127.0.0.1:argv[2] and prints "ready" when it does.
"""
import html
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

metadata_url, port = sys.argv[1], int(sys.argv[2])
base = f"http://127.0.0.1:{port}"
settings = OneLogin_Saml2_IdPMetadataParser.merge_settings(
    {
        "strict": True,
        "sp": {
            "entityId": base + "/metadata",
            "assertionConsumerService": {"url": base + "/acs", "binding": C.BINDING_HTTP_POST},
            "NameIDFormat": C.NAMEID_UNSPECIFIED,
        },
        "security": {"wantAssertionsSigned": True, "requestedAuthnContext": False},
    },
    OneLogin_Saml2_IdPMetadataParser.parse_remote(metadata_url),
)
settings["security"]["authnRequestsSigned"] = False
pending = set()


class Handler(BaseHTTPRequestHandler):
    def req(self, post=None):
        return {"https": "off", "http_host": "127.0.0.1", "server_port": str(port), "script_name": self.path.split("?")[0],
                "get_data": {}, "post_data": post or {}}

    def page(self, status, body):
        data = f"<!DOCTYPE html><html><head><title>Test SP</title></head><body>{body}</body></html>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/login"):
            auth = OneLogin_Saml2_Auth(self.req(), settings)
            url = auth.login(return_to="browser-test")
            pending.add(auth.get_last_request_id())
            self.send_response(302)
            self.send_header("Location", url)
            self.end_headers()
        else:
            self.page(404, "not found")

    def do_POST(self):
        if not self.path.startswith("/acs"):
            return self.page(404, "not found")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        post = {k: v[0] for k, v in parse_qs(body).items()}
        auth = OneLogin_Saml2_Auth(self.req(post), settings)
        ids = list(pending)
        auth.process_response(request_id=ids[-1] if ids else None)
        errors = auth.get_errors()
        if errors or not auth.is_authenticated():
            return self.page(400, f"<h1 id=\"error\">{html.escape(str(errors))}</h1><p>{html.escape(str(auth.get_last_error_reason()))}</p>")
        attrs = "".join(f"<li>{html.escape(k)}: {html.escape(', '.join(v))}</li>" for k, v in auth.get_attributes().items())
        self.page(200, f"<h1 id=\"nameid\">{html.escape(auth.get_nameid())}</h1>"
                       f"<p id=\"relay\">{html.escape(post.get('RelayState', ''))}</p><ul>{attrs}</ul>")

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("ready", flush=True)
server.serve_forever()
