# The two commands of the README. Each first installs what is missing (idempotent).
APT_PACKAGES := libxmlsec1-dev libxml2-dev libclang-dev pkg-config libssl-dev xmlsec1 python3-pip chromium
PY_PACKAGES := python3-saml==1.16.0 xmlsec==1.3.17 lxml==6.1.3 PyJWT[crypto]==2.15.1 cryptography==48.0.0 requests==2.34.2

.PHONY: deps run demo test bench

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	@python3 -c "import onelogin.saml2, jwt, requests" 2>/dev/null || python3 -m pip install -q $(PY_PACKAGES)
	@[ -d tests/browser/node_modules/playwright-core ] || (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

run: deps
	cargo run --release -- serve --config fixtures/tenant/demo.toml --listen 127.0.0.1:3000

demo: deps
	cargo build --release
	./target/release/idpipe run --trigger post-login --event fixtures/events/post-login-typical.json \
		--action fixtures/actions/role-claims.js
	./target/release/idpipe saml response --user fixtures/users/jane.json --settings fixtures/saml/sp-basic.json \
		--request fixtures/saml/authn-request.xml --relay-state demo --action fixtures/cli-actions/saml-attributes.js

test: deps
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo test

bench: deps
	cargo bench
