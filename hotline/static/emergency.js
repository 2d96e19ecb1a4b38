/* Emergency banner (受理登记, 来电受理, ticket page) and the coordinators'
   紧急工单 list on the 联动看板.  Uses the API helper and Socket.IO
   connection of console.js (window.hotlineConsole).

   watch(textarea, banner, opts): checks the text 120 ms after the last
   keystroke or transcript segment; on an emergency shows the kind, the
   words that decided and one-click hand-overs.  opts.ticket() returns the
   ticket to act on (creating it from the form when there is none yet);
   opts.onChange(state) hears {emergency, kind, dismissed}. */
(function () {
  "use strict";
  const C = window.hotlineConsole;
  if (!C) return;
  const {esc} = C;
  const $ = (sel, root) => (root || document).querySelector(sel);

  // The banner sits inside the intake form, so its own fields are plain
  // inputs in divs (a form cannot nest in a form) and Enter must not submit
  // the ticket.
  const field = (root, name) => root.querySelector(`input[name="${name}"]`);

  function watch(textarea, banner, opts) {
    let timer = null, seq = 0, verdict = null, dismissed = null, done = false;
    const state = () => ({emergency: !!(verdict && verdict.emergency) && !dismissed, kind: verdict && verdict.kind,
      dismissed, verdict});
    function render() {
      const v = verdict;
      if (!v || !v.emergency || dismissed || done) { banner.hidden = true; banner.innerHTML = ""; return; }
      banner.hidden = false;
      banner.dataset.kind = v.kind;
      banner.innerHTML = `<div class="em-head"><strong>紧急情况：<span id="em-kind">${esc(v.kind_label)}</span></strong>
          <span class="em-conf">把握 ${Math.round(v.confidence * 100)}%</span></div>
        <div>依据：<span id="em-words">${v.words.map(esc).join("、")}</span></div>
        <div class="em-actions">${v.offers.map((o) => `<button type="button" class="danger" data-target="${esc(o.target)}" data-number="${esc(o.number)}">${o.target === "police110" ? "一键转110" : esc(o.label) + " 三方通话"}</button>`).join("")}
          <button type="button" data-dismiss="1">不是紧急情况…</button></div>
        <div class="em-form em-handover" hidden><input type="hidden" name="em_target">
          <label>对方号码 <input name="em_number" maxlength="32"></label>
          <label>对方接线员 <input name="em_operator" maxlength="50" placeholder="工号或姓名"></label>
          <label>结果 <input name="em_outcome" maxlength="500" placeholder="如：已出警/已派车，预计10分钟到达"></label>
          <button type="button" class="primary" data-submit="handover">记录三方通话并移交</button> <button type="button" data-cancel="1">取消</button></div>
        <div class="em-form em-dismiss" hidden><label>排除理由 <input name="em_reason" maxlength="500" placeholder="如：来电人说的是上个月的事"></label>
          <button type="button" data-submit="dismiss">确认排除</button> <button type="button" data-cancel="1">取消</button></div>
        <p class="em-result" aria-live="polite"></p>`;
    }
    function changed() { if (opts.onChange) opts.onChange(state()); }
    async function check() {
      const text = textarea.value.trim(), my = ++seq;
      if (!text) { verdict = null; render(); changed(); return; }
      try {
        const v = await C.api("POST", "/emergency/detect", {text});
        if (my !== seq) return;
        banner.dataset.checked = String(my);
        const wasKind = verdict && verdict.emergency ? verdict.kind : null;
        verdict = v;
        if (v.emergency && wasKind && v.kind !== wasKind) dismissed = null;  // a new kind of danger
        if (!(banner.querySelector(".em-form:not([hidden])"))) render();
        changed();
      } catch (e) { /* the banner is an aid; the form still works */ }
    }
    function schedule() { clearTimeout(timer); timer = setTimeout(check, 120); }
    textarea.addEventListener("input", schedule);
    banner.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && ev.target.tagName === "INPUT") {
        ev.preventDefault();
        const go = ev.target.closest(".em-form").querySelector("button[data-submit]"); if (go) go.click();
      }
    });
    banner.addEventListener("click", async (ev) => {
      const b = ev.target.closest("button"); if (!b) return;
      if (b.dataset.cancel) { b.closest(".em-form").hidden = true; return; }
      if (b.dataset.dismiss) { $(".em-dismiss", banner).hidden = false; $(".em-handover", banner).hidden = true; field(banner, "em_reason").focus(); return; }
      if (b.dataset.submit === "dismiss") {
        const reason = field(banner, "em_reason").value.trim(); if (!reason) { field(banner, "em_reason").focus(); return; }
        dismissed = {reason, kind: verdict.kind};
        if (opts.dismiss) { try { await opts.dismiss(dismissed); } catch (e) { $(".em-result", banner).innerHTML = `<span class="error">${esc(e.message)}</span>`; dismissed = null; return; } }
        render(); changed(); return;
      }
      if (b.dataset.submit === "handover") {
        const f = $(".em-handover", banner);
        await act({target: field(f, "em_target").value, number: field(f, "em_number").value, operator: field(f, "em_operator").value, outcome: field(f, "em_outcome").value});
        return;
      }
      const target = b.dataset.target; if (!target) return;
      if (target === "police110") { await act({target}); return; }
      const f = $(".em-handover", banner); f.hidden = false; $(".em-dismiss", banner).hidden = true;
      field(f, "em_target").value = target; field(f, "em_number").value = b.dataset.number; field(f, "em_operator").focus();
    });
    async function act(body) {
      const out = $(".em-result", banner);
      try {
        const t = await opts.ticket();
        const after = await C.api("POST", `/tickets/${t.id}/emergency/handover`, body);
        out.innerHTML = `已移交（${esc(body.target === "police110" ? "110" : body.target)}），工单 <a id="em-ticket" href="/tickets/${after.id}">${esc(after.number)}</a>`;
        banner.querySelectorAll(".em-form").forEach((f) => { f.hidden = true; });
        banner.classList.add("handed");
        if (opts.handedOver) opts.handedOver(after, body);
      } catch (e) {
        const f = e.data && e.data.error && e.data.error.fields;
        out.innerHTML = `<span class="error">${esc(e.message)}${f ? "：" + esc(Object.keys(f).join("、")) : ""}</span>`;
      }
    }
    return {check: schedule, now: check, state, reset() { verdict = null; dismissed = null; done = false; banner.classList.remove("handed"); render(); },
      finish() { done = true; render(); }};
  }

  // ------------------------------------------------------------ the board's 紧急工单
  function clock(iso, signedAt) {
    if (signedAt) return '<span class="muted">已签收</span>';
    if (!iso) return "—";
    const ms = new Date(iso) - Date.now(), abs = Math.abs(ms);
    const m = Math.floor(abs / 60000), s = Math.floor((abs % 60000) / 1000);
    const txt = `${m}分${String(s).padStart(2, "0")}秒`;
    return ms < 0 ? `<span class="overdue em-clock">签收超时 ${txt}</span>` : `<span class="em-clock">剩 ${txt}</span>`;
  }
  function initBoardEmergencies(beep) {
    const tbody = $("#emergencies tbody"); if (!tbody) return;
    const rows = new Map();
    function draw() {
      const items = [...rows.values()].sort((a, b) => (!!a.detail.signed_at - !!b.detail.signed_at) ||
        String(a.detail.clock_due_at || "").localeCompare(String(b.detail.clock_due_at || "")));
      tbody.innerHTML = items.map((l) => `<tr class="emergency-row" data-ticket="${l.ticket_id}">
        <td><a href="/tickets/${l.ticket_id}">${esc(l.ticket.number)}</a></td><td>${esc(l.detail.kind_label || "")}</td>
        <td>${esc(l.ticket.subject)}</td><td>${esc((l.detail.words || []).join("、"))}</td>
        <td>${esc(l.state === "handed_over" ? "已移交" : "待处置")}</td><td>${esc(l.last_note)}</td>
        <td data-due="${esc(l.detail.clock_due_at || "")}" data-signed="${esc(l.detail.signed_at || "")}">${clock(l.detail.clock_due_at, l.detail.signed_at)}</td></tr>`).join("")
        || '<tr><td colspan="7" class="muted">当前没有紧急工单</td></tr>';
      $("#emergency-count").textContent = rows.size ? `${rows.size} 件紧急工单` : "";
    }
    const live = (l) => ["open", "handed_over"].includes(l.state) && !["closed", "archived", "cancelled", "merged"].includes((l.ticket || {}).status);
    C.api("GET", "/emergencies").then((d) => { d.items.forEach((l) => rows.set(l.ticket_id, l)); draw(); });
    C.socket.on("linkage.changed", (l) => {
      if (l.peer !== "emergency") {
        // Any linkage of a ticket that has closed takes its emergency off too.
        if (l.ticket && ["closed", "archived", "cancelled", "merged"].includes(l.ticket.status) && rows.delete(l.ticket_id)) draw();
        return;
      }
      const isNew = !rows.has(l.ticket_id);
      if (live(l)) { rows.set(l.ticket_id, l); if (isNew) beep(); } else rows.delete(l.ticket_id);
      draw();
    });
    // The clocks tick every second without a reload.
    setInterval(() => tbody.querySelectorAll("td[data-due]").forEach((td) => { td.innerHTML = clock(td.dataset.due, td.dataset.signed); }), 1000);
  }

  // ------------------------------------------------------------ 受理登记
  function initIntake() {
    const form = $("#intake-form"), intake = window.hotlineIntake;
    if (!form || !intake) return;
    let created = null, handing = false;
    const w = watch(form.description, $("#emergency-banner"), {
      ticket: async () => { handing = true; try { return created || (created = await intake.create()); } finally { handing = false; } },
      onChange: (st) => { intake.setEmergency(st); if (st.emergency) form.urgency.value = "emergency"; },
    });
    // After a plain submit the banner goes with the form; after a hand-over
    // it stays to show what was done, until the next caller's text.
    intake.onCreated = (t) => { created = t; if (!handing) w.reset(); };
    form.description.addEventListener("input", () => { if (created) { created = null; w.reset(); w.check(); } });
  }

  // ------------------------------------------------------------ 工单页
  // A ticket screened as an emergency and still open shows the same banner
  // (the agent who took it, or a colleague, can still hand over or dismiss).
  async function initTicket() {
    const page = $("#ticket-page"), banner = $("#emergency-banner"), text = $("#emergency-text");
    if (!page || !banner || !window.HOTLINE || window.HOTLINE.role === "department") return;
    const id = Number(page.dataset.ticketId);
    const t = await C.api("GET", "/tickets/" + id);
    const em = t.emergency;
    if (!em || ["dismissed", "closed"].includes(em.state) || ["closed", "archived", "cancelled", "merged"].includes(t.status)) return;
    text.value = [t.subject, t.description].filter(Boolean).join(" ");
    const w = watch(text, banner, {
      ticket: async () => t,
      dismiss: (d) => C.api("POST", `/tickets/${id}/emergency/dismiss`, {reason: d.reason}),
    });
    w.now();
  }

  if (document.body.dataset.page === "intake") initIntake();
  if (document.body.dataset.page === "ticket") initTicket();
  window.hotlineEmergency = {watch, initBoardEmergencies, clock};
})();
