// accord: live updates of a proposal page (Server-Sent Events) and the deadline countdown.
// Everything here is an enhancement: every page works without JavaScript.
"use strict";

(function () {
  const SYMBOLS = { support: "✓", object: "✗", abstain: "–", "no ballot": "·" };
  const CLASSES = { support: "support", object: "object", abstain: "abstain", "no ballot": "none" };

  function countdown() {
    const deadline = document.getElementById("deadline");
    const out = document.getElementById("countdown");
    if (!deadline || !out) return;
    const at = Date.parse(deadline.getAttribute("datetime"));
    if (isNaN(at)) return;
    function tick() {
      let s = Math.max(0, Math.floor((at - Date.now()) / 1000));
      if (s === 0) { out.textContent = "(deadline reached)"; return; }
      const d = Math.floor(s / 86400); s -= d * 86400;
      const h = Math.floor(s / 3600); s -= h * 3600;
      const m = Math.floor(s / 60); s -= m * 60;
      out.textContent = "(closes in " + (d ? d + " d " : "") + (d || h ? h + " h " : "") + m + " min " + s + " s)";
      setTimeout(tick, 1000);
    }
    tick();
  }

  function recount() {
    const seats = document.querySelectorAll("#seat-chart .seat");
    const counts = { support: 0, object: 0, abstain: 0, none: 0 };
    seats.forEach(function (s) {
      for (const c in counts) if (s.classList.contains(c)) counts[c] += 1;
    });
    for (const c in counts) {
      const el = document.getElementById("count-" + c);
      if (el) el.textContent = String(counts[c]);
    }
    const desc = document.getElementById("seats-desc");
    if (desc) {
      desc.textContent = "support: " + counts.support + ", abstain: " + counts.abstain +
        ", no ballot: " + counts.none + ", object: " + counts.object +
        ". The table of ballots below lists every seat.";
    }
  }

  function applyBallot(b) {
    const word = b.choice;
    const cls = CLASSES[word] || "none";
    const seat = document.getElementById("seat-" + b.member);
    if (seat) {
      seat.setAttribute("class", "seat " + cls);
      const title = seat.querySelector("title");
      if (title) title.textContent = title.textContent.replace(/: [^:]*$/, ": " + word);
      const sym = seat.querySelector("text.symbol");
      if (sym) sym.textContent = SYMBOLS[word] || "·";
    }
    const row = document.getElementById("ballot-" + b.member);
    if (row) {
      const choice = row.querySelector("td.choice");
      if (choice) {
        choice.textContent = "";
        const tag = document.createElement("span");
        tag.className = "tag " + cls;
        tag.textContent = (SYMBOLS[word] || "·") + " " + word;
        choice.appendChild(tag);
      }
      const set = function (sel, v) { const td = row.querySelector(sel); if (td) td.textContent = v; };
      set("td.position", b.position || "");
      set("td.salience", b.salience == null ? "" : Number(b.salience).toFixed(2));
      set("td.reason", b.reason || "");
    }
  }

  let refreshTimer = null;
  function refreshEvaluation(id) {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      fetch("/proposals/" + id + "/evaluation", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          const el = document.getElementById("evaluation");
          if (html !== null && el) el.innerHTML = html;
        })
        .catch(function () {});
    }, 800);
  }

  function setStatus(text) {
    const el = document.getElementById("live-status");
    if (el) el.textContent = text;
  }

  function closed(state, text) {
    const st = document.getElementById("state");
    if (st) { st.textContent = state; st.className = "state state-" + state; }
    const dt = document.getElementById("decision-text");
    if (dt && text) dt.textContent = text;
    const form = document.getElementById("vote-form");
    if (form) form.hidden = true;
    const cd = document.getElementById("countdown");
    if (cd) cd.textContent = "";
  }

  function live() {
    const root = document.getElementById("proposal");
    if (!root || !window.EventSource) return;
    const id = root.getAttribute("data-proposal");
    if (root.getAttribute("data-state") !== "open") { setStatus(""); return; }
    const source = new EventSource("/proposals/" + id + "/events");
    setStatus("Connecting to live updates…");
    source.addEventListener("snapshot", function (e) {
      const data = JSON.parse(e.data);
      data.ballots.forEach(applyBallot);
      recount();
      root.setAttribute("data-live", "on");
      setStatus("Live: new ballots appear as they are cast.");
    });
    // Ballots come in batches (at most one event every 200 ms), the latest of each member.
    source.addEventListener("ballots", function (e) {
      const data = JSON.parse(e.data);
      data.ballots.forEach(applyBallot);
      recount();
      const last = data.ballots[data.ballots.length - 1];
      if (last) setStatus("Live: " + (data.ballots.length > 1 ? data.ballots.length + " ballots, the last: " : "") + last.member + " cast " + last.choice + ".");
      refreshEvaluation(id);
    });
    source.addEventListener("silence-broken", function (e) {
      const data = JSON.parse(e.data);
      setStatus("Live: " + data.members.join(", ") + " broke the silence.");
    });
    source.addEventListener("decided", function (e) {
      const d = JSON.parse(e.data);
      closed(d.state, "Decided: " + (d.outcome || d.state) + (d.support ? " — support " + d.support : "") + ".");
      setStatus("Decided: " + d.state + ".");
      refreshEvaluation(id);
      source.close();
    });
    source.addEventListener("withdrawn", function (e) {
      closed("withdrawn", "Withdrawn by its sponsor.");
      setStatus("Withdrawn.");
      source.close();
    });
    source.addEventListener("resync", function () { source.close(); window.location.reload(); });
    source.addEventListener("shutdown", function () { setStatus("The server is shutting down: live updates stopped."); source.close(); });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) setStatus("Live updates stopped; reload to resume.");
      else setStatus("Reconnecting to live updates…");
    };
  }

  document.addEventListener("DOMContentLoaded", function () { countdown(); live(); });
})();
