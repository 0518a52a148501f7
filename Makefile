# The two commands of the README. Each first installs what is missing (idempotent).
APT_PACKAGES := libxmlsec1-dev libxml2-dev libclang-dev pkg-config libssl-dev xmlsec1 python3-pip chromium postgresql
PY_PACKAGES := python3-saml==1.16.0 xmlsec==1.3.17 lxml==6.1.3 PyJWT[crypto]==2.15.1 cryptography==48.0.0 requests==2.34.2 Authlib==1.6.5 pyotp==2.12.1 aiosmtpd==1.4.6

.PHONY: deps run demo test bench load fuzz

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	@python3 -c "import onelogin.saml2, jwt, requests, authlib, pyotp, aiosmtpd" 2>/dev/null || python3 -m pip install -q $(PY_PACKAGES)
	@[ -d tests/browser/node_modules/playwright-core ] || (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

run: deps
	cargo build --release
	@python3 fixtures/tenant/consent_app.py http://127.0.0.1:3000 3001 & consent=$$!; \
	(sleep 2; python3 fixtures/tenant/demo_apps.py http://127.0.0.1:3000 8080) & apps=$$!; \
	python3 -m aiosmtpd -n -l 127.0.0.1:2525 & smtp=$$!; \
	trap "kill $$consent $$apps $$smtp 2>/dev/null; pkill -f fixtures/tenant/demo_apps.py 2>/dev/null" EXIT INT TERM; \
	echo "demo apps: http://127.0.0.1:8080/ (OIDC and SAML logins; users in the README)"; \
	./target/release/idpipe serve --config fixtures/tenant/demo.toml --listen 127.0.0.1:3000

demo: deps
	cargo build --release
	./target/release/idpipe run --trigger post-login --event fixtures/events/post-login-typical.json \
		--action fixtures/actions/role-claims.js
	./target/release/idpipe saml response --user fixtures/users/jane.json --settings fixtures/saml/sp-basic.json \
		--request fixtures/saml/authn-request.xml --relay-state demo --action fixtures/cli-actions/saml-attributes.js
	./target/release/idpipe kit saml --sp fixtures/saml/demo-sp.json --acs http://127.0.0.1:8080/saml/acs --tenant demo \
		--user fixtures/users/jane.json --out var/kit/saml
	./target/release/idpipe kit oidc --client fixtures/clients/demo-app.json --issuer http://127.0.0.1:3000/ \
		--user fixtures/users/jane.json --out var/kit/oidc

test: deps
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo test

bench: deps
	cargo bench

# Full SAML SSO round trips from a second process against the release server (figures in the README).
load: deps
	cargo build --release --bins --example sso_load
	./scripts/load.sh

# Coverage-guided fuzzing (libFuzzer through cargo fuzz) of every parser of untrusted input, each
# for FUZZ_SECONDS (default 600) from the checked-in seeds in fuzz/corpus; what libFuzzer finds
# goes to var/fuzz (not committed), crashes to fuzz/artifacts. Uses the nightly toolchain when
# installed, else the stable one with RUSTC_BOOTSTRAP (cargo fuzz needs unstable flags).
FUZZ_TARGETS := saml_post saml_redirect jwt token_request tenant_config
fuzz:
	@command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
	@if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then fc="cargo +nightly"; else fc="env RUSTC_BOOTSTRAP=1 cargo"; fi; \
	for t in $(or $(TARGETS),$(FUZZ_TARGETS)); do mkdir -p var/fuzz/$$t; \
	  echo "== fuzzing $$t for $${FUZZ_SECONDS:-600} s"; \
	  $$fc fuzz run -O $$t var/fuzz/$$t fuzz/corpus/$$t -- -max_total_time=$${FUZZ_SECONDS:-600} -rss_limit_mb=2048 -print_final_stats=1 || exit 1; \
	done
