/* django-qrlogin phone page: scan as soon as the page is shown to the logged-in person.
 *
 * A plain GET changes nothing (link previews and prefetchers must not scan), so the page
 * scans itself with a CSRF-protected POST once a browser runs it: the computer then shows
 * "scanned, confirm on your phone" while the person reads, as with the app. The answer's
 * temp token goes into the form, so Confirm and Deny act on this scan. Without this script
 * the buttons still work: a decision without a temp token scans first.
 */
(function () {
  "use strict";

  var form = document.querySelector("form[data-qrlogin-phone]");
  if (!form) return;
  var token = form.querySelector("input[name=temp_token]");
  if (!token || token.value) return; // the number step already holds this phone's scan

  function refuse(detail) {
    // Someone else scanned first, the request ended, or another network: no details left,
    // no buttons that can only fail.
    var error = document.querySelector("[data-qrlogin-error]");
    if (error) {
      error.textContent = detail;
      error.hidden = false;
    }
    document.querySelectorAll("[data-qrlogin-facts]").forEach(function (el) {
      el.hidden = true;
    });
    form.hidden = true;
  }

  var body = new FormData();
  body.append("action", "scan");
  body.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
  fetch(window.location.href, {
    method: "POST",
    body: body,
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  })
    .then(function (response) {
      return response.json().then(function (data) {
        if (response.ok && data.temp_token) {
          token.value = data.temp_token;
        } else {
          refuse(data.detail || "");
        }
      });
    })
    .catch(function () {
      // Offline or an unexpected answer: leave the page; pressing a button scans anyway.
    });
})();
