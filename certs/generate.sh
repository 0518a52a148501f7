#!/usr/bin/env bash
# Generates the TEST-ONLY keys and certificates in this folder. They are public: never use them
# for anything but tests and the demo tenant.
set -euo pipefail
cd "$(dirname "$0")"
gen() { # name subject
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -keyout "$1.key" -out "$1.crt" -subj "$2" 2>/dev/null
}
gen idp-test "/CN=idpipe TEST ONLY IdP signing key"
gen idp-next-test "/CN=idpipe TEST ONLY IdP next signing key"
gen sp-test "/CN=idpipe TEST ONLY service provider"
openssl rsa -in sp-test.key -pubout -out sp-test.pub 2>/dev/null
