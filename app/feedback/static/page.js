// The feedback page: records the score chosen in the mail after a short pause, then saves each
// answer as it is given. Every post carries evidence for the server's scanner judgement
// (docs/mail-scanners.md): which kind of post it is, whether a trusted input event caused it, whether
// the page was visible, and how long after the page (or the confirm button) appeared. The page
// says "Saved" only when the server counted the answer; otherwise it says so and offers one
// button to confirm. Without this script the page's plain forms do the same.
(function () {
  "use strict";
  var loadedAt = performance.now();
  var lastInput = null;  // the latest click or key event: was it a person's (isTrusted)?
  ["click", "keydown"].forEach(function (name) {
    window.addEventListener(name, function (e) {
      lastInput = { trusted: e.isTrusted, at: performance.now() };
    }, { capture: true, passive: true });
  });

  // The opt-out page's plain forms: the press's evidence travels in a hidden field.
  document.querySelectorAll("form.judged").forEach(function (form) {
    form.addEventListener("submit", function () {
      var confirmed = !!form.querySelector("input[name=confirm]");
      form.querySelector("input[name=signals]").value = JSON.stringify({
        mode: confirmed ? "confirm" : "press",
        trusted: !!(lastInput && lastInput.trusted),
        visible: document.visibilityState === "visible",
        since_ms: Math.round(performance.now() - loadedAt),
        webdriver: !!navigator.webdriver
      });
    });
  });

  var main = document.getElementById("main");
  if (!main) { return; }
  var d = main.dataset;
  var statusEl = document.getElementById("status");
  var thanks = document.getElementById("thanks");
  var details = document.getElementById("details-form");
  var scoreForm = document.getElementById("score-form");
  var comment = document.getElementById("comment");
  var notice = document.getElementById("uncounted");
  var noticeText = document.getElementById("uncounted-text");
  var confirmForm = document.getElementById("confirm-form");
  var confirmScore = document.getElementById("confirm-score");
  var happyFrom = parseInt(d.happyFrom, 10);
  var neutralFrom = parseInt(d.neutralFrom, 10);
  var pending = d.pending === "" ? null : parseInt(d.pending, 10);
  var recorded = pending === null;  // is the score on screen the counted one?
  var noticeAt = null;
  var sweepAt = parseInt(d.sweep, 10) || 4;
  var sweepSent = false;
  var pressed = { score: {}, lost: {} };  // options pressed on this page, per question
  var chain = Promise.resolve();

  function say(text) { if (statusEl) { statusEl.textContent = text; } }

  function count(map) { return Object.keys(map).length; }

  function signals(mode, since) {
    return {
      mode: mode,
      trusted: mode === "auto" ? null : !!(lastInput && lastInput.trusted),
      visible: document.visibilityState === "visible",
      since_ms: Math.round(since),
      webdriver: !!navigator.webdriver,
      options: Math.max(count(pressed.score), count(pressed.lost))
    };
  }

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
  }

  function showCounted() {
    notice.hidden = true;
    thanks.hidden = false;
    say(d.saved);
  }

  function showNotCounted(score) {
    noticeText.textContent = d.notCounted.replace("{score}", String(score));
    confirmScore.value = String(score);
    thanks.hidden = true;
    if (notice.hidden) { noticeAt = performance.now(); }
    notice.hidden = false;
    say(d.uncounted);
  }

  function send(fields, evidence) {
    var body = new URLSearchParams();
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
    body.append("view", d.view);
    body.append("signals", JSON.stringify(evidence));
    // keepalive: the last answer still arrives when the person closes the page at once.
    return fetch(d.post, {
      method: "POST",
      headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString(),
      credentials: "same-origin",
      keepalive: true
    });
  }

  // Posts go one after another, in order; the evidence is taken when a post leaves, so a
  // post queued behind others reports every press made on the page by then.
  function post(fields, evidence) {
    if (!recorded && pending !== null && fields.score === undefined) { fields.score = pending; }
    var score = fields.score;
    chain = chain.then(function () {
      say(d.saving);
      return send(fields, evidence()).then(function (r) {
        if (!r.ok) { throw new Error(String(r.status)); }
        return r.json();
      }).then(function (answer) {
        if (answer.counted) {
          if (score !== undefined) { recorded = true; }
          showCounted();
        } else {
          recorded = false;
          showNotCounted(score !== undefined ? score : pending);
        }
        return answer;
      }).catch(function () { say(d.failed); });
    });
    return chain;
  }

  function press(fields) {
    var since = performance.now() - loadedAt;
    var evidence = function () { return signals("press", since); };
    if (!sweepSent && count(pressed.score) + count(pressed.lost) > 0 &&
        Math.max(count(pressed.score), count(pressed.lost)) >= sweepAt) {
      // Pressing option after option is what button-pressing scanners do: report it at once,
      // not behind the queue, in case the page is closed before the queue drains.
      sweepSent = true;
      send({ score: pending }, evidence());
    }
    post(fields, evidence);
  }

  function checkedFactors() {
    return Array.prototype.map.call(details.querySelectorAll("input[name=factors]:checked"), function (i) { return i.value; });
  }

  function allDetails(fields) {
    var lost = details.querySelector("input[name=lost_time]:checked");
    fields.factors = checkedFactors();
    fields.comment = comment.value;
    if (lost) { fields.lost_time = lost.value; }
    return fields;
  }

  scoreForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var button = e.submitter;
    if (!button || !button.value) { return; }
    var score = parseInt(button.value, 10);
    pressed.score[score] = true;
    pending = score;
    recorded = false;
    showScore(score);
    press({ score: score, factors: checkedFactors() });
  });

  confirmForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var score = parseInt(confirmScore.value, 10);
    if (isNaN(score)) { return; }
    pending = score;
    var since = noticeAt === null ? performance.now() - loadedAt : performance.now() - noticeAt;
    post(allDetails({ score: score }), function () { return signals("confirm", since); });
  });

  details.addEventListener("change", function (e) {
    var t = e.target;
    if (t.name === "factors") { press({ factors: checkedFactors() }); }
    else if (t.name === "lost_time") { pressed.lost[t.value] = true; press({ lost_time: t.value }); }
    else if (t === comment) { press({ comment: comment.value }); }
  });

  var typing = null;
  comment.addEventListener("input", function () {
    clearTimeout(typing);
    typing = setTimeout(function () { press({ comment: comment.value }); }, 1200);
  });

  details.addEventListener("submit", function (e) {
    e.preventDefault();
    clearTimeout(typing);
    var fields = allDetails({});
    if (pending !== null) { fields.score = pending; }
    press(fields);
  });

  if (d.unconfirmed !== "") {  // a plain form post was not counted: the notice is on screen
    pending = parseInt(d.unconfirmed, 10);
    recorded = false;
    noticeAt = loadedAt;
  }

  if (pending !== null && d.unconfirmed === "") {
    showScore(pending);
    // The one click from the mail is recorded after a pause: long enough for a scanner's
    // other fetches of the same mail to arrive first, short enough for a person.
    var dwell = parseInt(d.dwell, 10) || 0;
    setTimeout(function () {
      if (recorded || count(pressed.score) > 0) { return; }  // the person already chose
      post({ score: pending }, function () { return signals("auto", dwell); }).then(function () {
        var url = new URL(window.location.href);
        url.searchParams.delete("s");
        window.history.replaceState(null, "", url.pathname + url.search);
        document.querySelectorAll(".langs a").forEach(function (a) {
          var link = new URL(a.href);
          link.searchParams.delete("s");
          a.href = link.pathname + link.search;
        });
      });
    }, dwell);
  }
})();
