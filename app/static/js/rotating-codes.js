// Rotating ticket codes in the browser (README "Rotating codes"): the live ticket page draws them, an
// offline door scanner checks them with the show's key from its check-in bundle. The same rules as the
// server's (app/tickets/rotating.py): secret = HMAC-SHA256(show key, "seatline rotating v1|booking|seat|version"),
// value = RFC 6238 TOTP over it (HMAC-SHA256, 15 s steps from the Unix epoch, 8 digits, RFC 4226 truncation),
// QR text = static code + ":" + value. Everything returns a Promise (WebCrypto).
(function () {
  "use strict";

  var LABEL = "seatline rotating v1";
  var B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  var enc = new TextEncoder();

  function fromBase64Url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function hmacKey(raw) {
    return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  }

  function hmac(raw, message) {
    return hmacKey(raw).then(function (key) {
      return crypto.subtle.sign("HMAC", key, message);
    }).then(function (mac) { return new Uint8Array(mac); });
  }

  function stepOf(nowMs, stepSeconds) {
    return Math.floor(nowMs / 1000 / stepSeconds);
  }

  function totp(secret, step, digits) {
    var counter = new Uint8Array(8);
    var view = new DataView(counter.buffer);
    view.setUint32(0, Math.floor(step / 4294967296));
    view.setUint32(4, step >>> 0);
    return hmac(secret, counter).then(function (mac) {
      var offset = mac[mac.length - 1] & 0x0f;
      var value = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
      var text = String(value % Math.pow(10, digits));
      while (text.length < digits) text = "0" + text;
      return text;
    });
  }

  function ticketSecret(showKey, ticket) {
    var message = [LABEL, ticket.bookingId, ticket.seatId, String(ticket.version)].join("|");
    return hmac(showKey, enc.encode(message));
  }

  // The QR text of a live ticket at nowMs (the server's clock, as the page estimates it).
  function liveText(staticCode, secretB64, nowMs, rules) {
    var r = rules || {};
    return totp(fromBase64Url(secretB64), stepOf(nowMs, r.stepSeconds || 15), r.digits || 8).then(function (value) {
      return staticCode + (r.separator || ":") + value;
    });
  }

  // The steps a door accepts at nowMs: its own, `previousSteps` before, and the next one during its
  // first `earlySeconds` before it begins.
  function acceptedSteps(nowMs, rules) {
    var now = stepOf(nowMs, rules.stepSeconds);
    var steps = [];
    for (var back = 0; back <= rules.previousSteps; back++) steps.push(now - back);
    if (stepOf(nowMs + rules.earlySeconds * 1000, rules.stepSeconds) > now) steps.push(now + 1);
    return steps;
  }

  function base32Bytes(text) {
    var bits = 0, value = 0, out = [];
    for (var i = 0; i < text.length; i++) {
      var index = B32.indexOf(text[i]);
      if (index < 0) return null;
      value = (value << 5) | index;
      bits += 5;
      if (bits >= 8) {
        out.push((value >>> (bits - 8)) & 0xff);
        bits -= 8;
      }
    }
    if (bits >= 5 || (value & ((1 << bits) - 1)) !== 0) return null; // one text per code, as the server reads it
    return new Uint8Array(out);
  }

  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  function uuidOf(bytes) {
    var h = hex(bytes);
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }

  function varint(raw, at) {
    var value = 0, shift = 0;
    for (;;) {
      if (at >= raw.length || shift > 49) return null;
      var byte = raw[at++];
      value += (byte & 0x7f) * Math.pow(2, shift);
      shift += 7;
      if (!(byte & 0x80)) return [value, at];
    }
  }

  // The static code's fields and signed bytes, as app/tickets/codes.py `read` gives them; null if malformed.
  function readCode(code) {
    var raw = base32Bytes(code.trim().toUpperCase());
    if (!raw || raw.length < 1 + 4 + 16 + 3 + 64 || raw[0] !== 1) return null;
    var payload = raw.slice(0, raw.length - 64), signature = raw.slice(raw.length - 64);
    var show = varint(payload, 21);
    if (!show) return null;
    var version = varint(payload, show[1]);
    if (!version) return null;
    var at = version[1];
    if (at >= payload.length || at + 1 + payload[at] !== payload.length) return null;
    var seat;
    try {
      seat = new TextDecoder("utf-8", { fatal: true }).decode(payload.slice(at + 1));
    } catch (e) {
      return null;
    }
    return {
      ticket: { kid: hex(payload.slice(1, 5)), bookingId: uuidOf(payload.slice(5, 21)), showId: String(show[0]), seatId: seat, version: version[0] },
      payload: payload,
      signature: signature,
    };
  }

  function signatureOk(read, bundle) {
    var jwk = (bundle.keys || {})[read.ticket.kid];
    if (!jwk) return Promise.resolve(false);
    return crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x }, { name: "Ed25519" }, false, ["verify"])
      .then(function (key) { return crypto.subtle.verify({ name: "Ed25519" }, key, read.signature, read.payload); })
      .catch(function () { return false; });
  }

  function refuse(reason, ticket) {
    return { ok: false, reason: reason, ticket: ticket || null };
  }

  function sameTicket(entry, ticket) {
    return entry.bookingId === ticket.bookingId && entry.seatId === ticket.seatId;
  }

  // What a door decides offline about a scanned text at nowMs, with the show's check-in bundle, in the
  // server's order (README "Door check-in"): the window, the code (signature, show), static or rotating,
  // the one-time value, revoked, admitted before. Resolves to {ok, reason, ticket}; reason is the error
  // code the server would answer with (null when ok).
  function verify(text, bundle, nowMs) {
    var opens = bundle.checkinOpensAt ? Date.parse(bundle.checkinOpensAt) : null;
    if ((opens !== null && nowMs < opens) || nowMs >= Date.parse(bundle.checkinClosesAt)) {
      return Promise.resolve(refuse("CHECKIN_CLOSED"));
    }
    var rules = bundle.rotation;
    var separator = rules ? rules.separator : ":";
    var cut = String(text).trim().indexOf(separator);
    var trimmed = String(text).trim();
    var staticCode = cut < 0 ? trimmed : trimmed.slice(0, cut);
    var value = cut < 0 ? null : trimmed.slice(cut + separator.length);
    var read = readCode(staticCode);
    if (!read) return Promise.resolve(refuse("TICKET_INVALID"));
    var ticket = read.ticket;
    return signatureOk(read, bundle).then(function (signed) {
      if (!signed) return refuse("TICKET_INVALID");
      if (ticket.showId !== String(bundle.showId)) return refuse("WRONG_SHOW", ticket);
      var rotatingShow = bundle.ticketCodes === "ROTATING";
      if (rotatingShow && value === null && !bundle.staticCodesAllowed) return refuse("TICKET_STATIC_NOT_ALLOWED", ticket);
      var checked = Promise.resolve(true);
      if (rotatingShow && value !== null) {
        checked = !rules || !/^[0-9]+$/.test(value) || value.length !== rules.digits
          ? Promise.resolve(false)
          : ticketSecret(fromBase64Url(rules.key), ticket).then(function (secret) {
              return Promise.all(acceptedSteps(nowMs, rules).map(function (step) { return totp(secret, step, rules.digits); }));
            }).then(function (values) { return values.indexOf(value) >= 0; });
      }
      return checked.then(function (fresh) {
        if (!fresh) return refuse("TICKET_CODE_EXPIRED", ticket);
        var revoked = (bundle.revoked || []).some(function (r) { return sameTicket(r, ticket) && r.version === ticket.version; });
        if (revoked) return refuse("TICKET_REVOKED", ticket);
        if ((bundle.checkins || []).some(function (c) { return sameTicket(c, ticket); })) return refuse("ALREADY_CHECKED_IN", ticket);
        return { ok: true, reason: null, ticket: ticket };
      });
    });
  }

  window.SeatlineRotating = { verify: verify, liveText: liveText, readCode: readCode, totp: totp, acceptedSteps: acceptedSteps };
})();
