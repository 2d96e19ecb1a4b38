/* Intake for speed (受理登记): the knowledge base beside the suggestion
   (one click answers directly, 直办), the caller's history as soon as the
   phone number is typed, field checks that name the field in Chinese, a
   character counter, keyboard shortcuts and a draft that survives a
   reload.  Works on the form of console.js (window.hotlineIntake). */
(function () {
  "use strict";
  const C = window.hotlineConsole, I = window.hotlineIntake;
  if (!C || !I || !I.form) return;
  const {api, esc} = C;
  const form = I.form, $ = (sel) => document.querySelector(sel);
  const kb = $("#knowledge"), history = $("#caller-history"), counter = $("#desc-count"), result = $("#intake-result");
  const LIMIT = Number(form.description.dataset.limit || 5000);
  const debounce = (fn, ms) => { let t = null; return () => { clearTimeout(t); t = setTimeout(fn, ms); }; };

  // ---------------------------------------------------------- checks
  const LABELS = {caller_name: "来电人", caller_phone: "联系电话", subject: "标题", address: "事发地址", description: "诉求内容"};
  function problems() {
    const out = [];
    const d = form.description.value;
    if (!d.trim()) out.push(["description", "诉求内容为必填项"]);
    else if (d.length > LIMIT) out.push(["description", `诉求内容不能超过 ${LIMIT} 字（现 ${d.length} 字），请精简后再提交`]);
    if (form.caller_phone.validity.patternMismatch) out.push(["caller_phone", "联系电话格式不正确（只能填数字、空格和 + - ( )）"]);
    ["caller_name", "subject", "address"].forEach((n) => {
      const max = Number(form[n].getAttribute("maxlength"));
      if (max && form[n].value.length > max) out.push([n, `${LABELS[n]}不能超过 ${max} 字`]);
    });
    return out;
  }
  function check() {
    Object.keys(LABELS).forEach((n) => form[n].removeAttribute("aria-invalid"));
    const p = problems();
    if (!p.length) return true;
    p.forEach(([n]) => form[n].setAttribute("aria-invalid", "true"));
    result.innerHTML = `<span class="error" id="intake-error">${esc(p.map(([, m]) => m).join("；"))}</span>`;
    form[p[0][0]].focus();
    return false;
  }
  I.check = check;

  function count() {
    const n = form.description.value.length;
    counter.textContent = `${n} / ${LIMIT} 字` + (n > LIMIT ? `，超出 ${n - LIMIT} 字` : "");
    counter.classList.toggle("over", n > LIMIT);
  }
  form.description.addEventListener("input", count);

  // ---------------------------------------------------------- knowledge base
  let kbItems = [], kbSeq = 0;
  const kbQuery = () => (form.subject.value + " " + form.description.value).trim();
  async function searchKb() {
    const q = kbQuery(), my = ++kbSeq;
    if (q.length < 4) { kbItems = []; kb.innerHTML = ""; return; }
    try {
      const d = await api("GET", "/knowledge?limit=5&q=" + encodeURIComponent(q.slice(0, 1000)));
      if (my !== kbSeq) return;
      kbItems = d.items;
      kb.dataset.q = q;
      kb.innerHTML = kbItems.length
        ? `<h3>知识库答复（${kbItems.length}）</h3><ol id="kb-list">${kbItems.map((e, i) => `<li data-kb="${e.id}">
            <div class="kb-q"><kbd>Alt+${i + 1}</kbd> <strong>${esc(e.question)}</strong></div>
            <div class="muted">${esc(e.matter ? e.matter.full_name : "未归类")}${e.unit ? " · " + esc(e.unit.name) : ""} · 条目 #${e.id}</div>
            <details><summary>${esc(e.answer.slice(0, 60))}${e.answer.length > 60 ? "…" : ""}</summary><div class="kb-a">${esc(e.answer)}</div></details>
            <button type="button" class="kb-answer" data-kb="${e.id}">直办：以此答复</button></li>`).join("")}</ol>`
        : '<p class="muted">知识库中没有相近的答复。</p>';
    } catch (e) { if (my === kbSeq) kb.innerHTML = `<p class="error">知识库查询失败：${esc(e.message)}</p>`; }
  }
  async function answerWith(id) {
    if (!check()) return;
    const entry = kbItems.find((e) => e.id === id);
    const btn = kb.querySelector(`button[data-kb="${id}"]`);
    if (btn) btn.disabled = true;
    try {
      const t = await api("POST", `/knowledge/${id}/direct-answer`, I.body());
      I.done(t, `已直办：工单 <a id="new-number" href="/tickets/${t.id}">${esc(t.number)}</a> 已按知识库条目 #${id}${entry ? "（" + esc(entry.question) + "）" : ""}答复并办结，待回访`);
      kbItems = []; kb.innerHTML = ""; clearDraft(); count(); showHistory();
    } catch (e) {
      result.innerHTML = `<span class="error" id="intake-error">${esc(e.message)}</span>`;
      if (btn) btn.disabled = false;
    }
  }
  kb.addEventListener("click", (ev) => {
    const b = ev.target.closest("button.kb-answer");
    if (b) answerWith(Number(b.dataset.kb));
  });
  const kbSoon = debounce(searchKb, 250);
  form.description.addEventListener("input", kbSoon);
  form.subject.addEventListener("input", kbSoon);

  // ---------------------------------------------------------- caller history
  let histSeq = 0;
  async function showHistory() {
    const phone = form.caller_phone.value.trim(), digits = phone.replace(/\D/g, ""), my = ++histSeq;
    if (digits.length < 7 || form.caller_phone.validity.patternMismatch) { history.hidden = true; history.innerHTML = ""; return; }
    try {
      const d = await api("GET", "/callers/history?phone=" + encodeURIComponent(phone));
      if (my !== histSeq) return;
      history.hidden = false;
      history.dataset.phone = phone;
      history.innerHTML = d.items.length
        ? `<h3>来电人历史工单（共 ${d.total} 件${d.open ? `，未办结 ${d.open} 件` : ""}）</h3><ul id="history-list">${d.items.map((h) =>
            `<li><a href="/tickets/${h.id}" target="_blank">${esc(h.number)}</a> ${esc(C.fmt(h.created_at))} · ${esc(h.subject)} · ${esc(window.HOTLINE.statuses[h.status] || h.status)}${h.unit ? " · " + esc(h.unit) : ""}</li>`).join("")}</ul>`
        : '<p class="muted" id="history-none">首次来电，无历史工单。</p>';
    } catch (e) { if (my === histSeq) { history.hidden = false; history.innerHTML = `<p class="error">${esc(e.message)}</p>`; } }
  }
  form.caller_phone.addEventListener("input", debounce(showHistory, 300));

  // ---------------------------------------------------------- draft
  const DRAFT = "hotline.intake.draft." + (document.body.dataset.unit || "") + "." + (window.HOTLINE.role || "");
  const FIELDS = ["caller_name", "caller_phone", "channel", "request_type", "urgency", "subject", "address", "description"];
  function saveDraft() {
    const d = {};
    FIELDS.forEach((n) => { d[n] = form[n].value; });
    d.confidential = form.confidential.checked;
    if (FIELDS.some((n) => !["channel", "request_type", "urgency"].includes(n) && d[n])) localStorage.setItem(DRAFT, JSON.stringify(d));
    else localStorage.removeItem(DRAFT);
  }
  function clearDraft() { localStorage.removeItem(DRAFT); $("#draft-note").hidden = true; }
  function restoreDraft() {
    let d = null;
    try { d = JSON.parse(localStorage.getItem(DRAFT) || "null"); } catch (e) { d = null; }
    if (!d) return;
    FIELDS.forEach((n) => { if (d[n] != null) form[n].value = d[n]; });
    form.confidential.checked = !!d.confidential;
    $("#draft-note").hidden = false;
    count();
    if (d.description) { I.refresh(); searchKb(); form.description.dispatchEvent(new Event("input")); }
    if (d.caller_phone) showHistory();
  }
  form.addEventListener("input", debounce(saveDraft, 200));
  form.addEventListener("change", saveDraft);
  $("#draft-clear").addEventListener("click", () => { form.reset(); clearDraft(); count(); kb.innerHTML = ""; history.hidden = true; });
  const onCreated = I.onCreated;
  // emergency.js may set its own onCreated after this file: chain through a setter.
  let next = onCreated;
  Object.defineProperty(I, "onCreated", {configurable: true, get: () => (t) => { clearDraft(); count(); if (next) next(t); },
    set: (fn) => { next = fn; }});

  // ---------------------------------------------------------- keyboard
  const ORDER = ["caller_name", "caller_phone", "channel", "request_type", "urgency", "subject", "address", "description"];
  form.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); return; }
    const el = ev.target;
    if (ev.key === "Enter" && !ev.altKey && !ev.shiftKey && (el.tagName === "INPUT" && el.type !== "checkbox" && el.type !== "submit" || el.tagName === "SELECT")
        && !el.closest("#emergency-banner")) {
      ev.preventDefault();
      const i = ORDER.indexOf(el.name);
      if (i >= 0 && i < ORDER.length - 1) form[ORDER[i + 1]].focus();
    }
  });
  document.addEventListener("keydown", (ev) => {
    if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const n = Number(ev.key);
    if (n >= 1 && n <= 5) {
      if (kbItems[n - 1]) { ev.preventDefault(); answerWith(kbItems[n - 1].id); }
      return;
    }
    const k = ev.key.toLowerCase();
    if (k === "d") { ev.preventDefault(); form.description.focus(); }
    if (k === "u") { ev.preventDefault(); const sel = $("#unit-select"); if (sel) { sel.value = ""; sel.focus(); } }
  });

  count();
  restoreDraft();
  if (document.activeElement === document.body) form.caller_name.focus();
})();
