// The login form: POST /api/login as JSON, then to the app. Nothing from the server is
// written into the page as markup (the error line is set with textContent).
(function () {
  "use strict";
  var form = document.getElementById("login-form");
  var error = document.getElementById("login-error");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.hidden = true;
    var body = JSON.stringify({
      user: document.getElementById("login-user").value,
      password: document.getElementById("login-password").value
    });
    fetch("/api/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: body
    }).then(function (response) {
      if (response.ok) {
        window.location.assign("/");
        return null;
      }
      return response.json().then(function (answer) {
        error.textContent = (answer && typeof answer.detail === "string") ? answer.detail : "login failed";
        error.hidden = false;
      });
    }).catch(function () {
      error.textContent = "the server did not answer";
      error.hidden = false;
    });
  });
})();
