// The feedback page: records the score chosen in the mail after a short pause (mail scanners
// that run scripts open every link at once; the server judges the evidence), then saves each
// answer as it is given. Without this script the page's plain forms do the same.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main) { return; }
  var d = main.dataset;
  var statusEl = document.getElementById("status");
  var thanks = document.getElementById("thanks");
  var details = document.getElementById("details-form");
  var scoreForm = document.getElementById("score-form");
  var comment = document.getElementById("comment");
  var happyFrom = parseInt(d.happyFrom, 10);
  var neutralFrom = parseInt(d.neutralFrom, 10);
  var pending = d.pending === "" ? null : parseInt(d.pending, 10);
  var recorded = pending === null;
  var signals = { interacted: false, webdriver: !!navigator.webdriver, visible: document.visibilityState === "visible" };
  var chain = Promise.resolve();

  ["pointerdown", "keydown", "touchstart"].forEach(function (name) {
    window.addEventListener(name, function (e) { if (e.isTrusted) { signals.interacted = true; } }, { capture: true, passive: true });
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { signals.visible = true; }
  });

  function say(text) { if (statusEl) { statusEl.textContent = text; } }

  function band(score) {
    if (score >= happyFrom) { return "happy"; }
    if (score >= neutralFrom) { return "neutral"; }
    return "unhappy";
  }

  function showScore(score) {
    scoreForm.querySelectorAll("button.score").forEach(function (b) {
      b.setAttribute("aria-pressed", String(parseInt(b.value, 10) === score));
    });
    var b = band(score);
    details.querySelectorAll(".chip").forEach(function (chip) {
      var p = chip.dataset.polarity;
      var offered = b === "neutral" || (b === "happy" && p === "positive") || (b === "unhappy" && p === "negative");
      chip.hidden = !offered;
      if (!offered) { chip.querySelector("input").checked = false; }
    });
    var hidden = document.getElementById("details-score");
    if (hidden) { hidden.value = String(score); }
    details.hidden = false;
    thanks.hidden = false;
  }

  function post(fields) {
    var body = new URLSearchParams();
    if (!recorded && pending !== null && fields.score === undefined) { fields.score = pending; }
    Object.keys(fields).forEach(function (key) {
      var value = fields[key];
      if (Array.isArray(value)) {
        if (value.length === 0) { body.append(key, ""); }
        value.forEach(function (v) { body.append(key, v); });
      } else {
        body.append(key, String(value));
      }
    });
    body.append("lang", d.lang);
    body.append("signals", JSON.stringify(signals));
    chain = chain.then(function () {
      say(d.saving);
      return fetch(d.post, {
        method: "POST",
        headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: body.toString(),
        credentials: "same-origin"
      }).then(function (r) {
        if (!r.ok) { throw new Error(String(r.status)); }
        if (fields.score !== undefined) { recorded = true; }
        say(d.saved);
        return r.json();
      }).catch(function () { say(d.failed); });
    });
    return chain;
  }

  function checkedFactors() {
    return Array.prototype.map.call(details.querySelectorAll("input[name=factors]:checked"), function (i) { return i.value; });
  }

  scoreForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var button = e.submitter;
    if (!button || !button.value) { return; }
    var score = parseInt(button.value, 10);
    pending = score;
    showScore(score);
    post({ score: score, factors: checkedFactors() });
  });

  details.addEventListener("change", function (e) {
    var t = e.target;
    if (t.name === "factors") { post({ factors: checkedFactors() }); }
    else if (t.name === "lost_time") { post({ lost_time: t.value }); }
    else if (t === comment) { post({ comment: comment.value }); }
  });

  var typing = null;
  comment.addEventListener("input", function () {
    clearTimeout(typing);
    typing = setTimeout(function () { post({ comment: comment.value }); }, 1200);
  });

  details.addEventListener("submit", function (e) {
    e.preventDefault();
    clearTimeout(typing);
    var lost = details.querySelector("input[name=lost_time]:checked");
    var fields = { factors: checkedFactors(), comment: comment.value };
    if (lost) { fields.lost_time = lost.value; }
    if (pending !== null) { fields.score = pending; }
    post(fields);
  });

  if (pending !== null) {
    showScore(pending);
    // The one click from the mail is recorded after a pause: long enough for a scanner's
    // other fetches of the same mail to arrive first, short enough for a person.
    setTimeout(function () {
      if (recorded) { return; }
      post({ score: pending }).then(function () {
        var url = new URL(window.location.href);
        url.searchParams.delete("s");
        window.history.replaceState(null, "", url.pathname + url.search);
        document.querySelectorAll(".langs a").forEach(function (a) {
          var link = new URL(a.href);
          link.searchParams.delete("s");
          a.href = link.pathname + link.search;
        });
      });
    }, parseInt(d.dwell, 10) || 0);
  }
})();
