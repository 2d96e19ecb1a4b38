/* Linkage console pages: the coordinators' 110/综治 board (live, with an
   audible and visual alert for new escalations) and the agent's call page
   (caller history on ringing, transcript streaming into the intake form).
   Uses the API helper and the Socket.IO connection of console.js. */
(function () {
  "use strict";
  const C = window.hotlineConsole;
  if (!C) return;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const fmt = (iso) => iso ? new Date(iso).toLocaleString("zh-CN", {hour12: false}) : "—";
  const STATES = {suggested: "疑似警情待确认", pending: "推送中", sent: "已送达", acknowledged: "已接收", feedback: "已反馈",
    closed: "已办结", failed: "推送失败", received: "110移交待办", feedback_sent: "已反馈110"};
  const ALERT = new Set(["suggested", "pending", "failed", "received"]);

  // ------------------------------------------------------------ board
  function initBoard() {
    const tbody = $("#linkages tbody"), filter = $("#linkage-state"), count = $("#alert-count");
    let audio = null;
    $("#sound-toggle").addEventListener("click", (ev) => {
      // Browsers let a page make sound only after a click.
      audio = audio ? null : new (window.AudioContext || window.webkitAudioContext)();
      ev.target.setAttribute("aria-pressed", audio ? "true" : "false");
      ev.target.textContent = audio ? "关闭提醒音" : "开启提醒音";
    });
    function beep() {
      if (!audio) return;
      [0, 0.25].forEach((at) => {
        const o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = 880; g.gain.value = 0.2; o.connect(g); g.connect(audio.destination);
        o.start(audio.currentTime + at); o.stop(audio.currentTime + at + 0.15);
      });
    }
    function row(l) {
      const tr = document.createElement("tr"); tr.dataset.id = l.id; tr.dataset.state = l.state;
      const t = l.ticket || {};
      const unseen = ALERT.has(l.state) && !l.seen;
      const alarm = !!(l.detail && l.detail.alarm_at) && ["pending", "sent"].includes(l.state);
      if (unseen) tr.classList.add("escalation");
      if (alarm) tr.classList.add("alarm");
      tr.innerHTML = `<td><a href="/tickets/${l.ticket_id}">${esc(t.number)}</a></td><td>${esc(t.subject)}</td>
        <td>${esc(l.peer_label)}</td><td>${l.direction === "outbound" ? "12345→" : "→12345"}</td>
        <td><span class="status ls-${esc(l.state)}">${esc(STATES[l.state] || l.state)}</span>${alarm ? ' <strong class="alarm-tag">未回执告警</strong>' : ""}</td><td>${esc(l.external_id || "—")}</td>
        <td>${esc(l.last_note)}</td><td>${esc(fmt(l.updated_at))}</td>
        <td>${unseen ? `<button type="button" data-seen="${l.id}">确认知悉</button>` : ""}</td>`;
      return tr;
    }
    function recount() {
      const n = tbody.querySelectorAll("tr.escalation, tr.alarm").length;
      count.hidden = n === 0; count.textContent = `${n} 条待处理联动`;
      document.title = (n ? `(${n}) ` : "") + "联动看板 · 12345";
    }
    // A closed ticket leaves the board (unless one asks for 已办结); the
    // emergencies themselves have their own list above (emergency.js).
    const FINAL = ["closed", "archived", "cancelled", "merged"];
    const shown = (l) => l.peer !== "emergency" && (filter.value === "closed" || !l.ticket || !FINAL.includes(l.ticket.status));
    async function load() {
      const q = filter.value ? "?state=" + encodeURIComponent(filter.value) : "";
      const d = await C.api("GET", "/linkages" + q);
      tbody.innerHTML = ""; d.items.filter(shown).forEach((l) => tbody.appendChild(row(l))); recount();
    }
    // ---------------------------------------------------------- undelivered messages, live
    const undelivered = new Map();   // id → message JSON
    let skew = 0;                    // server clock − browser clock (ms)
    const PEERS = {police110: "110", governance: "综治平台"};
    function age(m) {
      if (!m.first_failed_at) return "—";
      const s = Math.max(0, Math.round((Date.now() + skew - new Date(m.first_failed_at).getTime()) / 1000));
      const h = Math.floor(s / 3600), min = Math.floor((s % 3600) / 60), sec = s % 60;
      return (h ? `${h}小时` : "") + (h || min ? `${min}分` : "") + `${sec}秒`;
    }
    function stateLabel(m) {
      if (m.state === "dead") return m.dead_reason === "refused" ? "死信（对方拒收）" : "死信（重试用尽）";
      return m.timeouts ? `重试中（${m.timeouts} 次未应答）` : "重试中";
    }
    function drawUndelivered() {
      const items = [...undelivered.values()].sort((a, b) => (b.critical - a.critical) ||
        String(a.first_failed_at).localeCompare(String(b.first_failed_at)));
      $("#undelivered tbody").innerHTML = items.map((m) => `<tr data-id="${m.id}" class="${m.critical ? "critical escalation" : ""}">
        <td>#${m.id}</td><td>${m.ticket_id ? `<a href="/tickets/${m.ticket_id}">${esc(m.ticket ? m.ticket.number : m.ticket_id)}</a>` : "—"}</td>
        <td>${esc(PEERS[m.peer] || m.peer)}</td><td>${esc(m.kind)}</td><td>${esc(stateLabel(m))}</td><td>${m.attempts}</td>
        <td>${esc(fmt(m.first_failed_at))}</td><td class="age" data-since="${esc(m.first_failed_at || "")}">${esc(age(m))}</td>
        <td>${esc(m.last_error)}</td>
        <td>${m.state === "dead" ? `<button type="button" data-retry="${m.id}">重试投递</button>` : ""}</td></tr>`).join("")
        || '<tr><td colspan="10" class="muted">无</td></tr>';
      const critical = items.filter((m) => m.critical).length, c = $("#undelivered-count");
      c.hidden = critical === 0; c.textContent = `${critical} 条紧急消息未送达`;
    }
    async function loadUndelivered() {
      const d = await C.api("GET", "/outbox/undelivered");
      skew = new Date(d.now).getTime() - Date.now();
      undelivered.clear(); d.items.forEach((m) => undelivered.set(m.id, m)); drawUndelivered();
    }
    setInterval(() => {
      document.querySelectorAll("#undelivered td.age").forEach((td) => {
        td.textContent = age({first_failed_at: td.dataset.since || null});
      });
    }, 1000);
    C.socket.on("outbox.changed", (m) => {
      const isNew = !undelivered.has(m.id);
      if (m.undelivered) undelivered.set(m.id, m); else undelivered.delete(m.id);
      if (m.undelivered && m.critical && isNew) beep();
      drawUndelivered();
    });
    tbody.addEventListener("click", async (ev) => {
      const id = ev.target.dataset.seen; if (!id) return;
      const l = await C.api("POST", `/linkages/${id}/seen`);
      tbody.querySelector(`tr[data-id="${id}"]`).replaceWith(row(l)); recount();
    });
    $("#undelivered").addEventListener("click", async (ev) => {
      const id = ev.target.dataset.retry; if (!id) return;
      ev.target.disabled = true;
      try { await C.api("POST", `/outbox/${id}/retry`); } catch (e) { alert(e.message); }
      loadUndelivered(); load();
    });
    filter.addEventListener("change", load);
    C.socket.on("linkage.changed", (l) => {
      const old = tbody.querySelector(`tr[data-id="${l.id}"]`);
      if (!shown(l)) { if (old) { old.remove(); recount(); } return; }
      if (filter.value && filter.value !== l.state) return;
      const tr = row(l); tr.classList.add("flash");
      if (old) old.replaceWith(tr); else tbody.prepend(tr);
      if (ALERT.has(l.state) && !l.seen && (!old || old.dataset.state !== l.state)) beep();
      if (tr.classList.contains("alarm") && !(old && old.classList.contains("alarm"))) beep();
      setTimeout(() => tr.classList.remove("flash"), 1500);
      recount();
    });
    C.socket.on("emergency.alarm", () => beep());
    if (window.hotlineEmergency) window.hotlineEmergency.initBoardEmergencies(beep);
    load(); loadUndelivered();
  }

  // ------------------------------------------------------------ calls
  function initCalls() {
    const form = $("#call-form"), list = $("#transcript"), state = $("#call-state");
    let edited = false, current = null, created = null;
    const banner = window.hotlineEmergency && window.hotlineEmergency.watch(form.description, $("#emergency-banner"), {
      ticket: async () => created || (created = await createTicket()),
      onChange: (st) => { emergencyState = st; },
    });
    let emergencyState = null;
    form.description.addEventListener("input", () => { edited = true; });
    function fill(d) {
      if (!d) return;
      form.call_id.value = d.call_id;
      if (!edited) form.description.value = d.description;
      if (!form.caller_name.value && d.caller.name) form.caller_name.value = d.caller.name;
      if (!form.caller_phone.value && d.caller.phone) form.caller_phone.value = d.caller.phone;
      if (!form.address.value && d.address) form.address.value = d.address;
      if (banner) banner.check();
      detect();
    }
    let seq = 0, detectTimer = null;
    function detect() {
      clearTimeout(detectTimer);
      detectTimer = setTimeout(async () => {
        const text = form.description.value.trim(); if (!text) return;
        const my = ++seq;
        // The routing suggestion follows the transcript as it streams.
        C.api("POST", "/suggest", {description: text, subject: form.subject.value, address: form.address.value})
          .then((s) => { if (my === seq) $("#call-suggestion").innerHTML = C.suggestionHtml(s); })
          .catch(() => {});
        // …and so does the duplicate check, as on 受理登记.
        C.api("POST", "/duplicates", {description: text.slice(0, 5000), subject: form.subject.value, address: form.address.value,
          caller_phone: form.caller_phone.validity.patternMismatch ? "" : form.caller_phone.value})
          .then((d) => { if (my === seq) $("#call-duplicates").innerHTML = d.items.length ? C.duplicatesHtml(d.items) : ""; })
          .catch(() => {});
        const r = await C.api("POST", "/police110/detect", {text});
        const hint = $("#police-hint");
        hint.hidden = !r.police;
        hint.textContent = r.police ? `疑似警情（${r.matched.join("、")}）：生成工单后请在工单页确认“推送110”` : "";
      }, 300);
    }
    C.socket.on("call.ringing", (m) => {
      current = m.call_id; edited = false; created = null; form.reset(); list.innerHTML = ""; $("#call-result").innerHTML = "";
      if (banner) banner.reset();
      $("#call-suggestion").innerHTML = '<p class="muted">转写开始后将推荐事项与承办单位。</p>';
      state.textContent = "振铃 " + m.caller_phone; form.caller_phone.value = m.caller_phone; form.call_id.value = m.call_id;
      $("#caller-history").innerHTML = m.history.length
        ? `<div class="sug review"><strong>来电人历史工单</strong><ul>${m.history.map((h) => `<li><a href="/tickets/${h.id}" target="_blank">${esc(h.number)}</a> ${esc(h.subject)} · ${esc(window.HOTLINE.statuses[h.status] || h.status)}</li>`).join("")}</ul></div>`
        : '<p class="muted">首次来电，无历史工单。</p>';
    });
    C.socket.on("call.answered", (m) => { if (m.call_id === current) state.textContent = "通话中"; });
    C.socket.on("call.transcript", (m) => {
      if (m.call_id !== current) return;
      const li = document.createElement("li"); li.dataset.seq = m.seq;
      li.innerHTML = `<strong>${m.speaker === "agent" ? "坐席" : "来电人"}</strong>：${esc(m.text)}`;
      list.appendChild(li); fill(m.draft);
    });
    C.socket.on("call.ended", (m) => { if (m.call_id === current) { state.textContent = "已挂机"; fill(m.draft); } });
    async function createTicket() {
      const call = form.call_id.value ? await C.api("GET", "/calls/" + encodeURIComponent(form.call_id.value)) : null;
      const body = {channel: form.channel.value, request_type: form.request_type.value, urgency: form.urgency.value,
        caller: {name: form.caller_name.value, phone: form.caller_phone.value}, subject: form.subject.value,
        address: form.address.value, description: form.description.value, confidential: form.confidential.checked};
      if (call) { body.call_id = call.call_id; body.transcript = call.draft.transcript; }
      if (emergencyState && emergencyState.emergency) body.urgency = "emergency";
      if (emergencyState && emergencyState.dismissed) body.emergency_dismissal = emergencyState.dismissed;
      const t = await C.api("POST", "/tickets", body);
      $("#call-result").innerHTML = `已生成工单 <a id="call-ticket" href="/tickets/${t.id}">${esc(t.number)}</a>${t.emergency ? ' <strong class="em-tag">紧急</strong>' : ""}`;
      created = t;
      return t;
    }
    // The description's counter and the field checks, as on 受理登记 (never cut silently).
    const LIMIT = 5000, counter = $("#desc-count");
    const count = () => { const n = form.description.value.length; counter.textContent = `${n} / ${LIMIT} 字` + (n > LIMIT ? `，超出 ${n - LIMIT} 字` : ""); counter.classList.toggle("over", n > LIMIT); };
    form.description.addEventListener("input", count);
    ["subject", "address", "description"].forEach((n) => form[n].addEventListener("input", detect));
    setInterval(count, 1000);   // the transcript fills the field without input events
    function problems() {
      const out = [], d = form.description.value;
      if (!d.trim()) out.push("诉求内容为必填项");
      else if (d.length > LIMIT) out.push(`诉求内容不能超过 ${LIMIT} 字（现 ${d.length} 字），请精简后再提交`);
      if (form.caller_phone.validity.patternMismatch) out.push("联系电话格式不正确（只能填数字、空格和 + - ( )）");
      return out;
    }
    form.addEventListener("keydown", (ev) => { if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); } });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const p = problems();
      if (p.length) { $("#call-result").innerHTML = `<span class="error" id="call-error">${esc(p.join("；"))}</span>`; return; }
      if (created) { $("#call-result").innerHTML = `本次来电已生成工单 <a id="call-ticket" href="/tickets/${created.id}">${esc(created.number)}</a>`; return; }
      try { await createTicket(); } catch (e) { $("#call-result").innerHTML = `<span class="error">${esc(e.message)}</span>`; }
    });
  }

  const page = document.body.dataset.page;
  if (page === "linkage") initBoard();
  if (page === "calls") initCalls();
})();
