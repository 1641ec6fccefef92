/* django-qrlogin PC client: follows a QR session and completes the login.
 *
 * No build step, no dependencies. Each [data-qrlogin] element is one login box. The browser
 * proves it is the PC through its own Django session (cookies) plus the CSRF token; it never
 * sees the PC secret. The status endpoint holds a request until something changes (long poll)
 * where the server can afford it (ASGI); a server that cannot (WSGI) answers at once with
 * X-QRLogin-Poll-After, and the client waits that long before asking again. No setting.
 * After a failed request it backs off 2, 4 ... 30 s, or waits the server's Retry-After (a
 * status poll past the limits on waiting polls gets 429 or 503 with one).
 *
 * What shows is CSS on the box's data-status; this script sets it, the sentence in the live
 * region, the countdown, the number and the avatar. An expired code is renewed silently up to
 * MAX_RENEWALS times in a row (a page left open must not make codes forever), then the box
 * shows "stopped": one button, no dead code.
 */
(function () {
  "use strict";

  var LONG_POLL_SECONDS = 25;
  var SHORT_POLL_MS = 1500;
  var RETRY_AFTER_MAX_SECONDS = 120; // a longer Retry-After would leave the page looking dead
  var MAX_RENEWALS = 10;
  var TERMINAL = { completed: 1, denied: 1, cancelled: 1, expired: 1 };

  function QRLogin(root) {
    this.root = root;
    this.statusUrl = root.dataset.statusUrl;
    this.completeUrl = root.dataset.completeUrl;
    this.renewUrl = root.dataset.renewUrl;
    this.csrf = root.dataset.csrfToken;
    this.status = root.dataset.status || "pending";
    this.renewals = 0;
    this.failures = 0;
    this.generation = 0;
    this.stateEl = root.querySelector("[data-qrlogin-state]");
    this.verifyEl = root.querySelector("[data-qrlogin-verify]");
    this.numberEl = root.querySelector("[data-qrlogin-number]");
    this.avatarEl = root.querySelector("[data-qrlogin-avatar]");
    this.svgEl = root.querySelector("[data-qrlogin-svg]");
    this.codeEl = root.querySelector("[data-qrlogin-user-code]");
    this.countdownEl = root.querySelector("[data-qrlogin-countdown]");
    this.renewButton = root.querySelector("[data-qrlogin-renew]");
    this.cancelButton = root.querySelector("[data-qrlogin-cancel]");
    var self = this;
    this.renewButton.addEventListener("click", function () {
      self.renewals = 0;
      self.renew(false);
    });
    if (this.cancelButton) {
      this.cancelButton.addEventListener("click", function () { self.startOver(); });
    }
    this.setDeadline(parseFloat(root.dataset.expiresIn));
    this.show({ status: this.status });
    this.timer = setInterval(function () { self.tick(); }, 1000);
    this.poll(this.generation);
  }

  QRLogin.prototype.text = function (name, values) {
    var template = this.root.dataset["text" + name.charAt(0).toUpperCase() + name.slice(1)] || "";
    return template.replace(/%\((\w+)\)s/g, function (_, key) {
      return values && values[key] != null ? values[key] : "";
    });
  };

  QRLogin.prototype.show = function (data) {
    var status = data.status;
    var who = data.scanned_by || {};
    // An answer that changes nothing leaves the sentence alone: a live region rewritten with
    // the same words is read out again, and "Expired: here is a new code" must stay.
    var seen = [status, who.display_name, who.avatar_url, data.verification_code].join("|");
    if (seen === this.seen) return this.tick();
    this.seen = seen;
    this.root.dataset.status = status;
    var text = this.text(status, { name: who.display_name || "" });
    this.stateEl.textContent = text;
    this.verifyEl.hidden = !data.verification_code;
    if (data.verification_code) {
      // Shown large beside; said in the live region too, for a screen reader.
      this.numberEl.textContent = data.verification_code;
      var spoken = document.createElement("span");
      spoken.className = "qrlogin-sr";
      spoken.textContent = " — " + this.text("verify", { code: data.verification_code });
      this.stateEl.appendChild(spoken);
    }
    if (who.display_name && this.avatarEl) this.showAvatar(who);
    this.tick();
  };

  QRLogin.prototype.showAvatar = function (who) {
    // The site's picture when its AVATAR_URL hook gives one, else the name's first letter.
    this.avatarEl.textContent = "";
    if (who.avatar_url) {
      var img = document.createElement("img");
      img.src = who.avatar_url;
      img.alt = "";
      this.avatarEl.appendChild(img);
    } else {
      this.avatarEl.textContent = who.display_name.charAt(0).toUpperCase();
    }
  };

  // Seconds left as the server counted them: the PC's own clock may be off.
  QRLogin.prototype.setDeadline = function (seconds) {
    this.deadline = isNaN(seconds) ? null : Date.now() + seconds * 1000;
  };

  QRLogin.prototype.tick = function () {
    if (!this.countdownEl) return;
    if (this.status !== "pending" || this.deadline === null) {
      this.countdownEl.textContent = "";
      return;
    }
    var left = Math.max(0, Math.ceil((this.deadline - Date.now()) / 1000));
    var clock = Math.floor(left / 60) + ":" + ("0" + (left % 60)).slice(-2);
    this.countdownEl.textContent = this.text("countdown", { time: clock });
    if (left === 0) {
      this.deadline = null;
      this.status = "expired";
      this.show({ status: "expired" });
      this.renew(true);
    }
  };

  QRLogin.prototype.request = function (method, url, body) {
    var headers = { Accept: "application/json" };
    if (method !== "GET") {
      headers["X-CSRFToken"] = this.csrf;
      headers["Content-Type"] = "application/json";
    }
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: headers,
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (response) {
      var result = {
        ok: response.ok,
        status: response.status,
        data: {},
        pollAfter: parseFloat(response.headers.get("X-QRLogin-Poll-After")) || 0,
        retryAfter: retryAfterSeconds(response.headers.get("Retry-After")),
      };
      return response.json().then(
        function (data) { result.data = data; return result; },
        function () { result.ok = false; result.pollAfter = 0; return result; }
      );
    });
  };

  // Retry-After in seconds (the form qrlogin sends), within 1 .. RETRY_AFTER_MAX_SECONDS;
  // null when absent or an HTTP date.
  function retryAfterSeconds(header) {
    if (!/^\d+$/.test(header || "")) return null;
    return Math.min(RETRY_AFTER_MAX_SECONDS, Math.max(1, parseInt(header, 10)));
  }

  QRLogin.prototype.poll = function (generation) {
    var self = this;
    if (generation !== this.generation) return;
    var started = Date.now();
    var url = this.statusUrl + "?wait=" + LONG_POLL_SECONDS + "&since=" + encodeURIComponent(this.status);
    this.request("GET", url).then(function (result) {
      if (generation !== self.generation) return;
      if (!result.ok) {
        if (result.status === 404) return self.renew(true);
        return self.retry(generation, result.retryAfter);
      }
      self.failures = 0;
      var changed = result.data.status !== self.status;
      self.status = result.data.status;
      self.show(result.data);
      if (self.status === "confirmed") return self.complete(generation);
      if (self.status === "expired") return self.renew(true);
      if (TERMINAL[self.status]) return self.focusRenew();
      // A server that cannot hold requests says when to ask again; otherwise ask at once.
      var delay = changed ? 0 : result.pollAfter * 1000;
      if (!changed && !delay && Date.now() - started < 500) delay = SHORT_POLL_MS;
      setTimeout(function () { self.poll(generation); }, delay);
    }, function () {
      self.retry(generation);
    });
  };

  // After a failure: the server's Retry-After when it gave one, else 2, 4, 8, 16, 30 s.
  QRLogin.prototype.retry = function (generation, retryAfter) {
    var self = this;
    this.failures += 1;
    this.seen = null; // the next answer replaces the error sentence
    this.stateEl.textContent = this.text("error");
    var delay = retryAfter
      ? retryAfter * 1000
      : Math.min(30000, 1000 * Math.pow(2, Math.min(this.failures, 5)));
    setTimeout(function () { self.poll(generation); }, delay);
  };

  QRLogin.prototype.complete = function (generation) {
    var self = this;
    this.request("POST", this.completeUrl, {}).then(function (result) {
      if (generation !== self.generation) return;
      if (result.ok && result.data.redirect_url) {
        self.show({ status: "completed" });
        window.location.assign(result.data.redirect_url);
      } else if (result.status === 409 || result.status === 410 || result.status === 404) {
        self.renew(true);
      } else {
        self.retry(generation, result.retryAfter);
      }
    }, function () {
      self.retry(generation);
    });
  };

  // "Not you? Start over": this session is cancelled (the phone sees it end) and a new code
  // shown. The generation moves first, so a confirm racing the click is never completed.
  QRLogin.prototype.startOver = function () {
    var self = this;
    this.generation += 1;
    var next = function () { self.renewals = 0; self.renew(false); };
    this.request("DELETE", this.statusUrl).then(next, next);
  };

  QRLogin.prototype.focusRenew = function () {
    if (this.root.contains(document.activeElement) || document.activeElement === document.body) {
      this.renewButton.focus();
    }
  };

  QRLogin.prototype.renew = function (automatic) {
    var self = this;
    if (automatic && this.renewals >= MAX_RENEWALS) {
      this.generation += 1;
      this.status = "stopped";
      this.show({ status: "stopped" });
      this.focusRenew();
      return;
    }
    this.renewals += 1;
    this.generation += 1;
    var generation = this.generation;
    this.request("POST", this.renewUrl, {}).then(function (result) {
      if (generation !== self.generation) return;
      if (!result.ok) return self.retry(generation, result.retryAfter);
      var data = result.data;
      self.statusUrl = data.status_url;
      self.completeUrl = data.complete_url;
      self.status = data.status;
      self.svgEl.innerHTML = data.qr_svg;
      self.codeEl.textContent = data.user_code;
      self.setDeadline(data.expires_in);
      self.show(data);
      if (automatic) self.stateEl.textContent = self.text("expired");
      if (!automatic) self.stateEl.focus(); // the pressed button is gone: keep the keyboard here
      self.poll(generation);
    }, function () {
      self.retry(generation);
    });
  };

  function start() {
    var boxes = document.querySelectorAll("[data-qrlogin]");
    for (var i = 0; i < boxes.length; i++) {
      if (!boxes[i].qrlogin) boxes[i].qrlogin = new QRLogin(boxes[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
