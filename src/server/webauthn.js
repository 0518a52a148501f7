(function () {
  var f = document.getElementById("webauthn");
  if (!f || !window.PublicKeyCredential) return;
  var st = document.getElementById("webauthn-status");
  var out = document.getElementById("credential");
  function b64u(buf) {
    var s = "", a = new Uint8Array(buf);
    for (var i = 0; i < a.length; i++) s += String.fromCharCode(a[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function bin(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var r = atob(s), a = new Uint8Array(r.length);
    for (var i = 0; i < r.length; i++) a[i] = r.charCodeAt(i);
    return a.buffer;
  }
  var known = ["usb", "nfc", "ble", "internal", "hybrid"];
  function created(c) {
    var r = c.response, t = r.getTransports ? r.getTransports() : [];
    return { id: c.id, rawId: b64u(c.rawId), type: c.type, extensions: c.getClientExtensionResults(),
      response: { attestationObject: b64u(r.attestationObject), clientDataJSON: b64u(r.clientDataJSON),
        transports: t.filter(function (x) { return known.indexOf(x) >= 0; }) } };
  }
  function asserted(c) {
    var r = c.response;
    return { id: c.id, rawId: b64u(c.rawId), type: c.type, extensions: c.getClientExtensionResults(),
      response: { authenticatorData: b64u(r.authenticatorData), clientDataJSON: b64u(r.clientDataJSON),
        signature: b64u(r.signature), userHandle: r.userHandle ? b64u(r.userHandle) : null } };
  }
  f.addEventListener("submit", function (e) {
    if (out.value) return;
    e.preventDefault();
    var o = JSON.parse(f.getAttribute("data-options")).publicKey, p;
    o.challenge = bin(o.challenge);
    if (f.getAttribute("data-mode") === "create") {
      o.user.id = bin(o.user.id);
      (o.excludeCredentials || []).forEach(function (c) { c.id = bin(c.id); });
      p = navigator.credentials.create({ publicKey: o }).then(created);
    } else {
      (o.allowCredentials || []).forEach(function (c) { c.id = bin(c.id); });
      p = navigator.credentials.get({ publicKey: o }).then(asserted);
    }
    st.textContent = "Waiting for your authenticator\u2026";
    p.then(function (c) { out.value = JSON.stringify(c); f.submit(); },
      function (err) { st.textContent = "The authenticator did not answer (" + err.name + "). Try again, or use another method."; });
  });
})();
