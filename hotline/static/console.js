/* 12345 console: talks to /api/v1 with the session cookie and CSRF header,
   and listens for live ticket changes over Socket.IO. */
(function () {
  "use strict";
  // Labels, the workflow's named sets and the reader's role, handed over by
  // base.html as JSON (hotline/console.py builds it from dispatch/workflow.py).
  const H = window.HOTLINE = JSON.parse(document.getElementById("hotline-data").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const fmt = (iso) => iso ? new Date(iso).toLocaleString("zh-CN", {hour12: false}) : "—";

  async function api(method, path, body) {
    const res = await fetch("/api/v1" + path, {
      method, credentials: "same-origin",
      headers: Object.assign({"Accept": "application/json"}, body !== undefined ? {"Content-Type": "application/json", "X-CSRFToken": csrf} : {"X-CSRFToken": csrf}),
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const data = await res.json().catch(() => ({error: {message: "响应无法解析"}}));
    if (!res.ok) { const e = new Error((data.error && data.error.message) || res.statusText); e.data = data; e.status = res.status; throw e; }
    return data;
  }
  function toast(msg, kind) {
    const t = $("#toast"); t.textContent = msg; t.className = "toast " + (kind || ""); t.hidden = false;
    clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
  }
  function statusBadge(t) { return `<span class="status s-${esc(t.status)}">${esc(H.statuses[t.status] || t.status)}</span>`; }
  // A due the calendar cannot give yet (a year not loaded), or one computed
  // on a provisional year (docs/sla.md).
  function dueText(t, iso) {
    if (t.due_state === "pending" && !iso) return t.due_state_label || "时限待定（缺少工作日历）";
    return fmt(iso) + (t.due_state === "provisional" && iso ? "（暂定）" : "");
  }
  function dueCell(t, iso, startIso) {
    if (t.due_state === "pending" && !iso) return `<span class="overdue">${esc(dueText(t, iso))}</span>`;
    return countdown(iso, startIso) + (t.due_state === "provisional" && iso ? ' <span class="muted">（暂定）</span>' : "");
  }
  function countdown(iso, startIso) {
    if (!iso) return "—";
    const ms = new Date(iso) - new Date();
    // Past 80 % of the time allowed: the same warning the SLA timers give.
    const soon = startIso && ms > 0 && ms < 0.2 * (new Date(iso) - new Date(startIso));
    const abs = Math.abs(ms), h = Math.floor(abs / 3600000), m = Math.floor((abs % 3600000) / 60000);
    const txt = (h >= 48 ? Math.floor(h / 24) + "天" : h + "小时" + m + "分");
    return ms < 0 ? `<span class="overdue" title="${esc(fmt(iso))}">超时 ${txt}</span>` : `<span class="${soon ? "soon" : ""}" title="${esc(fmt(iso))}">剩 ${txt}</span>`;
  }

  // How long a ticket has waited since it was accepted (受理).
  function waited(iso) {
    if (!iso) return "—";
    const m = Math.max(0, Math.floor((new Date() - new Date(iso)) / 60000));
    return m >= 2880 ? Math.floor(m / 1440) + "天" : m >= 60 ? Math.floor(m / 60) + "小时" + (m % 60) + "分" : m + "分";
  }

  function emClock(iso) {
    if (!iso) return "";
    const ms = new Date(iso) - new Date(), abs = Math.abs(ms);
    const txt = `${Math.floor(abs / 60000)}分${String(Math.floor((abs % 60000) / 1000)).padStart(2, "0")}秒`;
    return ms < 0 ? `<span class="overdue em-clock">紧急签收超时 ${txt}</span>` : `<span class="em-clock">紧急签收剩 ${txt}</span>`;
  }

  // ------------------------------------------------------------ live
  const listeners = [];
  function onTicketChanged(fn) { listeners.push(fn); }
  const socket = io({transports: ["websocket", "polling"]});
  // Catch-up: every notice carries its event id; after a reconnect (the
  // server went away, the load balancer moved us) the console fetches what
  // it missed since the last one, so nothing is lost between sockets.
  let cursor = null;
  const seen = new Set();
  function deliver(msg) {
    const id = msg.event && msg.event.id;
    if (id) {
      if (seen.has(id)) return;
      seen.add(id); cursor = Math.max(cursor || 0, id);
    }
    listeners.forEach((fn) => fn(msg));
  }
  async function catchUp() {
    if (cursor === null) {
      const d = await api("GET", "/changes");
      if (cursor === null) cursor = d.cursor;
      return;
    }
    for (let more = true; more;) {
      const from = cursor, d = await api("GET", "/changes?after=" + from);
      d.items.forEach(deliver);
      cursor = Math.max(cursor, d.cursor);
      more = d.more && d.cursor > from;
    }
  }
  socket.on("connect", () => {
    catchUp().then(() => { $("#live").className = "live on"; $("#live").dataset.cursor = cursor; })
      .catch(() => { $("#live").className = "live on"; });
  });
  socket.on("disconnect", () => { $("#live").className = "live off"; });
  socket.on("ticket.changed", deliver);

  // ------------------------------------------------------------ intake
  // The routing suggestion (matter, unit, confidence, runners-up, reasons)
  // as intake and the calls page show it.
  function suggestionHtml(s) {
    const pct = (p) => (p == null ? "—" : Math.round(p * 100) + "%");
    const matter = s.matter ? s.matter.full_name : (s.category ? s.category.name : "未能判断");
    const lex = (s.reasons || []).filter((r) => r.kind === "lexicon");
    const words = (s.reasons || []).filter((r) => r.kind === "word").map((r) => r.word);
    const why = lex.length || words.length
      ? `<div class="muted" id="sug-reasons">依据：${lex.map((r) => `词条“${esc(r.phrase)}”→${esc(r.matter.split("/").pop())}`).join("；")}${lex.length && words.length ? "；" : ""}${words.length ? "关键词 " + words.map(esc).join("、") : ""}</div>`
      : (s.explain && s.explain.length ? `<div class="muted" id="sug-reasons">依据词：${s.explain.map((x) => esc(x.word)).join("、")}</div>` : "");
    return `<div class="sug ${s.needs_review ? "review" : "ok"}">
      <div>事项（三级分类）：<strong id="sug-category">${esc(matter)}</strong></div>
      <div>承办单位：<strong id="sug-unit">${esc(s.unit.name)}</strong>
        <span class="conf" id="sug-confidence">置信度 ${pct(s.unit_confidence != null ? s.unit_confidence : s.confidence)}</span></div>
      ${s.needs_review ? '<div class="warn">置信度不足或无匹配派单目录，提交后进入人工派单队列</div>' : ""}
      ${(s.unit_top || []).length > 1 ? `<div class="muted" id="sug-unit-top">候选单位：${s.unit_top.map((u) => esc(u.name) + " " + pct(u.p)).join("，")}</div>` : ""}
      ${s.top.length ? `<div class="muted">诉求大类：${s.top.map((x) => esc(x.label) + " " + pct(x.p)).join("，")}</div>` : ""}
      ${why}
    </div>`;
  }
  // Possible repeats of the ticket being taken (POST /duplicates), as intake and the calls page show them.
  function duplicatesHtml(items) {
    const why = {same_caller: "同一来电人30日内", similar_text: "同区域同类7日内相似"};
    return `<div class="dups warn" id="duplicates">可能重复：${items.map((c) =>
      `<a href="/tickets/${c.ticket_id}" target="_blank">${esc(c.number)}</a>（${esc(why[c.reason] || c.reason)}，相似度 ${Math.round(c.score)}，${esc(H.statuses[c.status] || c.status)}）`).join("；")}</div>`;
  }
  function initIntake() {
    const form = $("#intake-form"), box = $("#suggestion"), sel = $("#category-select"), unitSel = $("#unit-select");
    api("GET", "/categories").then((d) => {
      d.items.filter((c) => c.level <= 2).forEach((c) => {
        const o = document.createElement("option"); o.value = c.code; o.textContent = (c.level === 2 ? "　" : "") + c.full_name; sel.appendChild(o);
      });
    });
    let allUnits = [];
    api("GET", "/units").then((d) => { allUnits = d.items.filter((u) => u.kind === "department" || u.kind === "district"); fillUnits([]); });
    // The router's best units first, then every other unit; "" keeps the suggestion.
    function fillUnits(top) {
      const keep = unitSel.value, ids = new Set(top.map((u) => u.id));
      unitSel.innerHTML = '<option value="">采用推荐单位</option>'
        + top.map((u) => `<option value="${u.id}">${esc(u.name)}（${Math.round(u.p * 100)}%）</option>`).join("")
        + allUnits.filter((u) => !ids.has(u.id)).map((u) => `<option value="${u.id}">${esc(u.name)}</option>`).join("");
      unitSel.value = keep;
    }
    let timer = null, seq = 0;
    const refresh = () => {
      const description = form.description.value.trim();
      if (!description) { box.innerHTML = '<p class="muted">输入诉求内容后将自动推荐分类与承办单位。</p>'; return; }
      const my = ++seq;
      api("POST", "/suggest", {description, subject: form.subject.value, address: form.address.value, category: sel.value || null})
        .then((s) => {
          if (my !== seq) return null;
          box.innerHTML = suggestionHtml(s);
          fillUnits(s.unit_top || []);
          return s;
        })
        // The suggestion's category and place go along: the server does not classify the text again.
        .then((s) => s && api("POST", "/duplicates", {description, subject: form.subject.value, address: form.address.value,
                                                      category: s.category ? s.category.code : null,
                                                      division_code: s.division_code || "",
                                                      caller_phone: form.caller_phone.value}))
        .then((d) => {
          if (my !== seq || !d || !d.items.length) return;
          box.insertAdjacentHTML("beforeend", duplicatesHtml(d.items));
        })
        .catch((e) => { if (my === seq) box.innerHTML = `<p class="error">${esc(e.message)}</p>`; });
    };
    ["description", "subject", "address", "caller_phone"].forEach((n) => form[n].addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 300); }));
    sel.addEventListener("change", refresh);
    // The emergency banner (emergency.js) tells the form what it saw: an
    // emergency makes the ticket 紧急; a dismissal travels with it.
    let emergencyState = null;
    const intake = window.hotlineIntake = {setEmergency(st) { emergencyState = st; }, create: createTicket, onCreated: null,
      form, body: formBody, done: created, check: null, refresh};
    // What the form says, as POST /tickets takes it (also the knowledge
    // base's direct answer, intake.js).
    function formBody() {
      const body = {
        channel: form.channel.value, request_type: form.request_type.value, urgency: form.urgency.value,
        caller: {name: form.caller_name.value, phone: form.caller_phone.value},
        subject: form.subject.value, address: form.address.value, description: form.description.value,
        confidential: form.confidential.checked,
      };
      if (sel.value) body.category = sel.value;
      if (unitSel.value) body.unit_id = Number(unitSel.value);
      if (emergencyState && emergencyState.emergency) body.urgency = "emergency";
      if (emergencyState && emergencyState.dismissed) body.emergency_dismissal = emergencyState.dismissed;
      return body;
    }
    // A ticket made from the form: shown, listed, and the form cleared.
    function created(t, text) {
      $("#intake-result").innerHTML = text || `已生成工单 <a id="new-number" href="/tickets/${t.id}">${esc(t.number)}</a>，${t.emergency ? '<strong class="em-tag">紧急</strong> ' : ""}${t.responsible_unit ? "已派至 " + esc(t.responsible_unit.name) : "待人工派单"}`;
      addMine(t); form.reset(); box.innerHTML = ""; emergencyState = null;
      if (intake.onCreated) intake.onCreated(t);
      return t;
    }
    async function createTicket() {
      return created(await api("POST", "/tickets", formBody()));
    }
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (intake.check && !intake.check()) return;
      const btn = $("#submit-ticket"); btn.disabled = true;
      try {
        await createTicket();
      } catch (e) {
        // The server's message names each field in Chinese.
        $("#intake-result").innerHTML = `<span class="error" id="intake-error">${esc(e.message)}</span>`;
      } finally { btn.disabled = false; }
    });
    const tbody = $("#my-tickets tbody");
    function addMine(t) {
      const tr = document.createElement("tr"); tr.dataset.id = t.id;
      tr.innerHTML = `<td><a href="/tickets/${t.id}">${esc(t.number)}</a></td><td>${esc(t.subject || t.description.slice(0, 30))}</td><td>${esc(t.responsible_unit ? t.responsible_unit.name : "待派单")}</td><td class="st">${statusBadge(t)}</td>`;
      tbody.prepend(tr);
    }
    onTicketChanged((msg) => {
      const tr = tbody.querySelector(`tr[data-id="${msg.ticket.id}"]`);
      if (tr) { tr.querySelector(".st").innerHTML = statusBadge(msg.ticket); tr.classList.add("flash"); setTimeout(() => tr.classList.remove("flash"), 1500); }
    });
  }

  // ------------------------------------------------------------ inbox
  function initInbox() {
    const tbody = $("#inbox tbody"), form = $("#list-filters"), dept = H.role === "department";
    const cols = dept ? 10 : 9;
    let page = 1, pages = 1, total = 0, seq = 0, reloadTimer = null;
    const selected = new Set();
    function row(t) {
      const tr = document.createElement("tr"); tr.dataset.id = t.id;
      const unit = t.responsible_unit ? (t.responsible_unit.name || t.responsible_unit) : "待派单";
      const cat = t.category && t.category.name !== undefined ? t.category.name : t.category;
      const em = t.emergency && !["closed", "archived", "cancelled", "merged"].includes(t.status) ? t.emergency : null;
      if (em) { tr.classList.add("emergency-row"); tr.dataset.emergency = "1"; }
      const signable = (t.allowed_actions || []).includes("sign_for");
      tr.innerHTML = (dept ? `<td>${signable ? `<input type="checkbox" class="pick" aria-label="选择 ${esc(t.number)}"${selected.has(t.id) ? " checked" : ""}>` : ""}</td>` : "")
        + `<td><a href="/tickets/${t.id}">${esc(t.number)}</a>${em ? ` <strong class="em-tag">紧急·${esc(em.kind_label)}</strong>` : ""}</td><td>${esc(t.subject || (t.description || "").slice(0, 30))}${em && ["accepted", "dispatched"].includes(t.status) ? ` <span class="em-clock-cell">${emClock(em.clock_due_at)}</span>` : ""}</td>
        <td>${esc(cat || "未分类")}</td><td>${esc(unit)}</td><td class="u-${esc(t.urgency)}">${esc(H.urgencies[t.urgency] || t.urgency)}</td><td class="st">${statusBadge(t)}</td>
        <td class="waited" title="${esc(fmt(t.created_at))}">${esc(fmt(t.created_at))}${["accepted", "dispatched"].includes(t.status) ? ` · 已等待 ${waited(t.created_at)}` : ""}</td>
        <td>${t.status === "dispatched" ? dueCell(t, t.sign_due_at, t.dispatched_at) : "—"}</td><td>${H.sets.paused.includes(t.status) && !t.due_at ? '<span class="muted">已暂停（待群众补充）</span>' : H.sets.clocked.includes(t.status) ? dueCell(t, t.due_at, t.dispatched_at) : "—"}</td>`;
      tr._t = t;
      return tr;
    }
    // Emergencies jump to the top of the page, the soonest clock first.
    function pinEmergencies() {
      const ems = [...tbody.querySelectorAll("tr[data-emergency]")].sort((a, b) =>
        String(a._t.emergency.clock_due_at).localeCompare(String(b._t.emergency.clock_due_at)));
      ems.reverse().forEach((tr) => tbody.prepend(tr));
    }
    function params() {
      const p = new URLSearchParams();
      new FormData(form).forEach((v, k) => { if (String(v).trim() !== "") p.set(k, String(v).trim()); });
      p.set("page", page);
      return p;
    }
    // The list is the server's: every change (a filter, a page, a live
    // notice) asks for the page again, so the rows and "共 N 件" agree.
    async function load(flashId) {
      const my = ++seq;
      let d;
      try { d = await api("GET", "/tickets?" + params()); }
      catch (e) {
        if (my !== seq) return;
        const f = e.data && e.data.error && e.data.error.fields;
        $("#list-error").textContent = e.message + (f ? "" : ""); $("#list-error").hidden = false; return;
      }
      if (my !== seq) return;
      $("#list-error").hidden = true;
      if (d.items.length === 0 && d.total > 0 && page > 1) { page = d.pages; return load(); }
      total = d.total; pages = d.pages;
      tbody.innerHTML = "";
      if (!d.items.length) emptyRow(tbody, cols, form.q.value.trim() ? "没有找到匹配的工单" : "暂无工单");
      d.items.forEach((t) => tbody.appendChild(row(t))); pinEmergencies();
      $("#pager").textContent = `共 ${d.total} 件`;
      $("#page-info").textContent = `第 ${d.page} / ${d.pages} 页`;
      $("#page-prev").disabled = d.page <= 1; $("#page-next").disabled = d.page >= d.pages;
      tbody.dataset.loaded = String(seq);
      if (flashId) { const tr = tbody.querySelector(`tr[data-id="${flashId}"]`); if (tr) { tr.classList.add("flash"); setTimeout(() => tr.classList.remove("flash"), 1500); } }
      syncBulk();
    }
    form.addEventListener("submit", (ev) => { ev.preventDefault(); page = 1; load(); });
    form.addEventListener("change", (ev) => { if (ev.target.name !== "q") { page = 1; load(); } });
    form.addEventListener("reset", () => setTimeout(() => { page = 1; load(); }, 0));
    let typing = null;
    form.q.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => { page = 1; load(); }, 350); });
    $("#page-prev").addEventListener("click", () => { if (page > 1) { page--; load(); } });
    $("#page-next").addEventListener("click", () => { if (page < pages) { page++; load(); } });
    $("#page-jump").addEventListener("change", (ev) => {
      const n = Math.floor(Number(ev.target.value));
      if (n >= 1) { page = Math.min(n, pages); ev.target.value = ""; load(); }
    });
    // Filter choices from the API: the units one may see, the categories.
    if ($("#unit-filter")) api("GET", "/units").then((d) => {
      d.items.filter((u) => !u.kind.endsWith("platform")).forEach((u) => {
        const o = document.createElement("option"); o.value = u.id; o.textContent = u.name; $("#unit-filter").appendChild(o); });
    }).catch(() => {});
    api("GET", "/categories").then((d) => {
      d.items.filter((c) => c.level <= 2).forEach((c) => {
        const o = document.createElement("option"); o.value = c.code; o.textContent = (c.level === 2 ? "　" : "") + c.full_name; $("#category-filter").appendChild(o); });
    }).catch(() => {});
    load();

    // Bulk 签收: each selected ticket through the ordinary action, one by
    // one, each with its own result (a ticket another person signed for in
    // the meantime fails alone).
    function syncBulk() {
      const btn = $("#bulk-sign"); if (!btn) return;
      $("#bulk-count").textContent = selected.size; btn.disabled = selected.size === 0;
    }
    if (dept) {
      tbody.addEventListener("change", (ev) => {
        if (!ev.target.classList.contains("pick")) return;
        const t = ev.target.closest("tr")._t;
        if (ev.target.checked) selected.add(t.id); else selected.delete(t.id);
        syncBulk();
      });
      $("#select-all").addEventListener("change", (ev) => {
        tbody.querySelectorAll("input.pick").forEach((c) => { c.checked = ev.target.checked; const id = c.closest("tr")._t.id; if (c.checked) selected.add(id); else selected.delete(id); });
        syncBulk();
      });
      $("#bulk-sign").addEventListener("click", async () => {
        const btn = $("#bulk-sign"), out = $("#bulk-result"); btn.disabled = true; out.innerHTML = "";
        const rows = new Map([...tbody.querySelectorAll("tr")].filter((tr) => tr._t).map((tr) => [tr._t.id, tr._t]));
        let ok = 0, failed = 0;
        for (const id of [...selected]) {
          const t = rows.get(id) || {id, number: "#" + id, version: undefined};
          const li = document.createElement("li"); li.dataset.id = id;
          try {
            await api("POST", `/tickets/${id}/actions/sign_for`, t.version !== undefined ? {expected_version: t.version} : {});
            li.className = "ok"; li.textContent = `${t.number}：已签收`; ok++;
          } catch (e) { li.className = "error"; li.textContent = `${t.number}：签收失败，${e.message}`; failed++; }
          out.appendChild(li); selected.delete(id);
        }
        toast(`批量签收：成功 ${ok} 件${failed ? `，失败 ${failed} 件` : ""}`, failed ? "error" : "ok");
        $("#select-all").checked = false; syncBulk(); load();
      });
    }

    socket.on("sla.warning", (msg) => toast(`临期预警：${msg.ticket.number} ${msg.stage === "sign" ? "签收" : "办结"}时限将至（${fmt(msg.due_at)}）`, "error"));
    // Countdowns tick every 30 s without a reload.
    setInterval(() => tbody.querySelectorAll("tr").forEach((tr) => { if (tr._t) tr.replaceWith(Object.assign(row(tr._t), {_t: tr._t})); }), 30000);
    // An emergency's own clock ticks every second.
    setInterval(() => tbody.querySelectorAll("tr[data-emergency] .em-clock-cell").forEach((span) => {
      span.innerHTML = emClock(span.closest("tr")._t.emergency.clock_due_at); }), 1000);
    const assists = $("#assists tbody");
    if (assists) {
      api("GET", "/assists").then((d) => {
        if (!d.items.length) { $("#assists-card").hidden = true; return; }
        assists.innerHTML = d.items.map((t) => `<tr><td><a href="/tickets/${t.id}">${esc(t.number)}</a></td><td>${esc(t.subject || t.description.slice(0, 30))}</td>
          <td>${esc(t.responsible_unit ? t.responsible_unit.name : "")}</td><td>${statusBadge(t)}</td>
          <td>${t.assist.state === "pending" ? countdown(t.assist.due_at, t.dispatched_at) : esc({given: "已反馈", timed_out: "已超时", withdrawn: "已撤回"}[t.assist.state] || t.assist.state)}</td></tr>`).join("");
      });
    }
    // Live: a notice about a ticket one may see reloads the page shown
    // (a burst of notices, once), so the rows and the count follow arrivals.
    onTicketChanged((msg) => {
      const t = msg.ticket;
      if (dept && t.responsible_unit_id !== H.unitId) return;
      const known = tbody.querySelector(`tr[data-id="${t.id}"]`);
      if (!known && msg.event && ["accept", "dispatch", "forward", "reassign", "uphold_return", "redo"].includes(msg.event.action))
        toast(`${t.emergency ? "紧急" : "新"}工单 ${t.number}：${t.subject}`, t.emergency ? "error" : "info");
      clearTimeout(reloadTimer); reloadTimer = setTimeout(() => load(t.id), 300);
    });
  }

  // ------------------------------------------------------------ ticket
  const FIELD_LABELS = {reason: "理由", reply_text: "答复内容", unit_id: "承办单位", days: "延期天数", satisfaction: "回访结果", into_ticket_id: "并入工单ID", note: "备注", suggested_unit: "应由哪个单位负责（本单位意见）"};
  function initTicket() {
    const id = Number($("#ticket-page").dataset.ticketId);
    let ticket = null, units = null;
    async function load() {
      ticket = await api("GET", "/tickets/" + id);
      const t = ticket;
      $("#t-number").textContent = t.number; $("#t-status").outerHTML = `<span id="t-status">${statusBadge(t)}</span>`;
      const f = [["渠道", t.channel_label], ["来电人", t.caller.name], ["电话", t.caller.phone], ["标题", t.subject], ["诉求", t.description],
        ["地址", t.address], ["分类", t.category.name ? `${t.category.name}${t.category.confidence != null ? "（" + Math.round(t.category.confidence * 100) + "%）" : ""}` : "未分类"],
        ["承办单位", t.responsible_unit ? t.responsible_unit.name : "待派单"], ["紧急程度", t.urgency_label],
        ["签收时限", dueText(t, t.sign_due_at)], ["办结时限", dueText(t, t.due_at)], ["答复", t.reply_text || "—"], ["退单次数", t.return_count]];
      $("#t-fields").innerHTML = f.map(([k, v]) => `<dt>${k}</dt><dd>${esc(v)}</dd>`).join("");
      $("#actions").innerHTML = t.allowed_actions.map((a) => `<button type="button" data-action="${a}" id="act-${a}">${esc(H.actionLabels[a] || a)}</button>`).join("") || '<span class="muted">当前无可执行操作</span>';
      const OUT = {met: "按时", late: "超时", superseded: "已改派", cancelled: "已撤销", merged: "已并单", "": "计时中"};
      api("GET", `/tickets/${id}/clocks`).then((d) => {
        $("#clocks tbody").innerHTML = d.items.map((c) => `<tr><td>${c.round}</td><td>${c.stage === "sign" ? "签收" : "办结"}</td><td>${esc(fmt(c.started_at))}</td>
          <td>${c.paused ? "已暂停" : c.due_state === "pending" ? `时限待定（缺少${c.missing_year}年工作日历）` : esc(fmt(c.due_at)) + (c.due_state === "provisional" ? "（暂定）" : "")}</td><td class="${c.outcome === "late" ? "overdue" : ""}">${esc(OUT[c.outcome] || c.outcome)}${!c.outcome && !c.paused ? " · " + countdown(c.due_at, c.started_at) : ""}</td></tr>`).join("") || '<tr><td colspan="5" class="muted">未派单</td></tr>';
      }).catch(() => {});
      const ev = await api("GET", `/tickets/${id}/events`);
      $("#events").innerHTML = ev.items.map((e) => `<li><time>${esc(fmt(e.at))}</time> <strong>${esc(H.actionLabels[e.action] || (e.action === "accept" ? "受理" : e.action))}</strong>
        ${e.from_status || e.to_status ? `<span class="muted">${esc(H.statuses[e.from_status] || "—")} → ${esc(H.statuses[e.to_status] || "—")}</span>` : ""}
        · ${esc(e.actor_name)}${e.reason ? "：" + esc(e.reason) : ""}${e.payload && e.payload.reply_text ? "<br>" + esc(e.payload.reply_text) : ""}</li>`).join("");
    }
    $("#actions").addEventListener("click", async (ev) => {
      const action = ev.target.dataset.action; if (!action) return;
      const req = H.actionRequired[action] || [];
      if (!req.length) return run(action, {});
      if (req.includes("unit_id") && !units) units = (await api("GET", "/units")).items.filter((u) => u.id !== H.unitId);
      // Dispatching by hand: the router's suggested unit preselected, the
      // other units ordered by its score for this ticket.
      let unitOptions = units, suggested = null, routing = null;
      if (req.includes("unit_id") && ["dispatch", "reassign"].includes(action)) {
        routing = await api("GET", `/tickets/${id}/routing`).catch(() => null);
        if (routing && routing.units.length) {
          const byId = new Map(units.map((u) => [u.id, u]));
          unitOptions = routing.units.filter((u) => byId.has(u.id)).map((u) => Object.assign({}, byId.get(u.id), {score: u.score}))
            .concat(units.filter((u) => !routing.units.some((r) => r.id === u.id)));
          suggested = routing.suggested_unit_id;
        }
      }
      $("#action-title").textContent = H.actionLabels[action];
      $("#action-inputs").innerHTML = req.map((f) => {
        if (f === "unit_id") return `<label>${FIELD_LABELS[f]} <select name="unit_id" id="unit-choice">${unitOptions.map((u) => `<option value="${u.id}"${u.id === suggested ? " selected" : ""}>${esc(u.name)}${u.id === suggested ? "（推荐）" : ""}${u.score ? " " + Math.round(u.score * 100) + "%" : ""}</option>`).join("")}</select></label>`
          + (routing && routing.matter ? `<p class="muted" id="routing-why">推荐事项：${esc(routing.matter)}${routing.confidence != null ? "，置信度 " + Math.round(routing.confidence * 100) + "%" : ""}${(routing.reasons || []).filter((r) => r.kind === "lexicon").length ? "；词条 " + routing.reasons.filter((r) => r.kind === "lexicon").map((r) => esc(r.phrase)).join("、") : ""}</p>` : "");
        if (f === "satisfaction" && action === "redo") return `<label>${FIELD_LABELS[f]} <select name="satisfaction"><option value="unsatisfied">不满意</option></select></label>`;
        if (f === "satisfaction") return `<label>${FIELD_LABELS[f]} <select name="satisfaction"><option value="satisfied">满意</option><option value="basically_satisfied">基本满意</option><option value="unreachable">无法联系（第${H.callbackTries}次未接通）</option></select></label>`;
        if (f === "reply_text" || f === "reason") return `<label>${FIELD_LABELS[f]} <textarea name="${f}" rows="4" required></textarea></label>`;
        return `<label>${FIELD_LABELS[f] || f} <input name="${f}" required></label>`;
      }).join("") + (action === "dispatch" ? `<label>协办单位（可多选） <select name="assist_unit_ids" multiple size="5">${units.filter((u) => !u.kind.endsWith("platform")).map((u) => `<option value="${u.id}">${esc(u.name)}</option>`).join("")}</select></label>` : "");
      const form = $("#action-form"); form.hidden = false; form.dataset.action = action;
    });
    $("#action-cancel").addEventListener("click", () => { $("#action-form").hidden = true; });
    $("#action-form").addEventListener("submit", (ev) => {
      ev.preventDefault(); const form = ev.target, body = {};
      new FormData(form).forEach((v, k) => {
        if (k === "assist_unit_ids") (body[k] = body[k] || []).push(Number(v));
        else body[k] = ["unit_id", "days", "into_ticket_id"].includes(k) ? Number(v) : v;
      });
      run(form.dataset.action, body).then(() => { form.hidden = true; });
    });
    async function run(action, body) {
      try {
        await api("POST", `/tickets/${id}/actions/${action}`, Object.assign({expected_version: ticket.version}, body));
        toast("已" + (H.actionLabels[action] || action), "ok"); await load();
      } catch (e) { toast(e.message, "error"); if (e.status === 409) load(); }
    }
    onTicketChanged((msg) => { if (msg.ticket.id === id && msg.ticket.version !== (ticket && ticket.version)) load(); });
    load().catch((e) => { $("#t-fields").innerHTML = `<p class="error">${esc(e.message)}</p>`; });
  }

  // ------------------------------------------------------------ dispatch work queues
  const SAT = {satisfied: "满意", basically_satisfied: "基本满意", unsatisfied: "不满意", unreachable: "无法联系"};
  function emptyRow(tbody, cols, text) { tbody.innerHTML = `<tr><td colspan="${cols}" class="muted">${esc(text)}</td></tr>`; }
  function link(t) { return `<a href="/tickets/${t.id}">${esc(t.number)}</a>`; }
  async function act(t, action, body) {
    return api("POST", `/tickets/${t.id}/actions/${action}`, Object.assign({expected_version: t.version}, body || {}));
  }

  function initReview() {
    let current = null, action = null, units = null;
    const form = $("#review-form");
    async function load() {
      const d = await api("GET", "/review");
      const rt = $("#returns tbody"), lt = $("#low-confidence tbody"), et = $("#extensions tbody");
      $("#returns-count").textContent = `（${d.returns.length}）`;
      $("#low-count").textContent = `（${d.low_confidence.length}）`;
      $("#ext-count").textContent = `（${d.extensions.length}）`;
      if (!d.returns.length) emptyRow(rt, 9, "暂无待审核退单"); else rt.innerHTML = "";
      d.returns.forEach((t) => {
        const tr = document.createElement("tr"); tr.dataset.id = t.id;
        const locked = t.needs_coordinator && !["coordinator", "admin"].includes(H.role);
        tr.innerHTML = `<td>${link(t)}</td><td>${esc(t.subject)}</td><td>${esc(t.category || "未分类")}</td><td>${esc(t.responsible_unit)}</td>
          <td>${esc(t.reason)}</td><td>${esc(t.suggested_unit)}</td><td>${t.return_count}${t.needs_coordinator ? ' <span class="warn">需协调员</span>' : ""}</td>
          <td>${countdown(t.due_at)}</td>
          <td>${locked ? '<span class="muted">待协调员审核</span>' : `<button type="button" data-do="uphold_return">同意并改派</button><button type="button" data-do="reject_return">驳回</button>`}</td>`;
        tr._t = t; rt.appendChild(tr);
      });
      if (!d.low_confidence.length) emptyRow(lt, 8, "暂无待人工派单工单"); else lt.innerHTML = "";
      d.low_confidence.forEach((t) => {
        const tr = document.createElement("tr");
        if (t.emergency) tr.classList.add("emergency-row");
        tr.innerHTML = `<td>${link(t)}</td><td>${t.emergency ? '<strong class="em-tag">紧急</strong> ' : ""}${esc(t.subject)}</td>
          <td class="u-${esc(t.urgency)}">${esc(H.urgencies[t.urgency] || t.urgency)}</td><td class="waited" title="${esc(fmt(t.created_at))}">${waited(t.created_at)}</td><td>${esc(t.category || "未能判断")}</td>
          <td>${t.category_confidence == null ? "—" : Math.round(t.category_confidence * 100) + "%"}</td><td>${esc(t.platform)}</td><td><a href="/tickets/${t.id}">派单</a></td>`;
        lt.appendChild(tr);
      });
      if (!d.extensions.length) emptyRow(et, 7, "暂无延期申请"); else et.innerHTML = "";
      d.extensions.forEach((t) => {
        const tr = document.createElement("tr"); tr._t = t;
        tr.innerHTML = `<td>${link(t)}</td><td>${esc(t.subject)}</td><td>${esc(t.responsible_unit)}</td><td>${t.days} 个工作日</td><td>${esc(t.reason)}</td>
          <td>${countdown(t.due_at)}</td><td><button type="button" data-do="approve_extension">批准</button><button type="button" data-do="refuse_extension">驳回</button></td>`;
        et.appendChild(tr);
      });
    }
    document.addEventListener("click", async (ev) => {
      const what = ev.target.dataset && ev.target.dataset.do; if (!what) return;
      const tr = ev.target.closest("tr"); current = tr._t; action = what;
      if (what === "uphold_return" && !units) {
        units = (await api("GET", "/units")).items.filter((u) => u.id !== H.unitId && !u.kind.endsWith("platform"));
        $("#review-unit").innerHTML = units.map((u) => `<option value="${u.id}">${esc(u.name)}</option>`).join("");
        const cats = (await api("GET", "/categories")).items.filter((c) => c.level <= 2);
        $("#review-category").innerHTML = '<option value="">不更正</option>' + cats.map((c) => `<option value="${esc(c.code)}">${esc(c.full_name)}</option>`).join("");
      }
      $("#review-unit").closest("label").hidden = what !== "uphold_return";
      $("#review-category").closest("label").hidden = what !== "uphold_return";
      $("#review-title").textContent = `${H.actionLabels[what]}：${current.number}`;
      form.hidden = false; form.reason.focus();
    });
    $("#review-cancel").addEventListener("click", () => { form.hidden = true; });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {reason: form.reason.value};
      if (action === "uphold_return") { body.unit_id = Number(form.unit_id.value); if (form.category.value) body.category = form.category.value; }
      try { await act(current, action, body); toast("已" + H.actionLabels[action], "ok"); form.hidden = true; form.reset(); }
      catch (e) { toast(e.message, "error"); }
      load();
    });
    onTicketChanged((msg) => { if (["returned", "accepted"].includes(msg.ticket.status) || ["return", "request_extension", "uphold_return", "reject_return", "approve_extension", "refuse_extension", "dispatch"].includes(msg.event.action)) load(); });
    load().catch((e) => toast(e.message, "error"));
  }

  function initBoard() {
    const tbody = $("#board tbody"), all = $("#board-all");
    function row(i) {
      const t = i.ticket || {};
      const tr = document.createElement("tr"); tr.dataset.id = i.id;
      tr.innerHTML = `<td>${esc(fmt(i.created_at))}</td><td><span class="status k-${esc(i.kind)}">${esc(i.kind_label)}</span></td><td>${esc(i.reason)}</td>
        <td>${t.id ? link(t) : "—"}</td><td>${esc(t.responsible_unit || "—")}</td><td>${t.status ? statusBadge(t) : "—"}</td>
        <td>${t.due_at ? countdown(t.due_at) : "—"}</td>
        <td>${i.resolved_at ? '<span class="muted">已处理</span>' : `<button type="button" data-resolve="${i.id}">标记已处理</button>`}</td>`;
      return tr;
    }
    async function load() {
      const d = await api("GET", "/supervision" + (all.checked ? "?all=1" : ""));
      tbody.innerHTML = ""; d.items.forEach((i) => tbody.appendChild(row(i)));
      $("#board-count").textContent = `（${d.items.filter((i) => !i.resolved_at).length} 项待处理）`;
      if (!d.items.length) emptyRow(tbody, 8, "暂无督办事项");
    }
    all.addEventListener("change", load);
    tbody.addEventListener("click", async (ev) => {
      const id = ev.target.dataset.resolve; if (!id) return;
      try { await api("POST", `/supervision/${id}/resolve`, {}); load(); } catch (e) { toast(e.message, "error"); }
    });
    socket.on("supervision.new", (item) => {
      if (tbody.querySelector(`tr[data-id="${item.id}"]`)) return;
      const tr = row(item); tr.classList.add("flash");
      const empty = tbody.querySelector("td[colspan]"); if (empty) tbody.innerHTML = "";
      tbody.prepend(tr); setTimeout(() => tr.classList.remove("flash"), 1500);
      $("#board-count").textContent = `（${tbody.querySelectorAll("button[data-resolve]").length} 项待处理）`;
      toast(`${item.kind_label}：${item.reason}`, "error");
    });
    load().catch((e) => toast(e.message, "error"));
  }

  function initCallbacks() {
    const tbody = $("#callbacks tbody"), form = $("#cb-form");
    let current = null;
    async function load() {
      const d = await api("GET", "/callbacks");
      $("#cb-count").textContent = `（${d.items.length}）`;
      if (!d.items.length) { emptyRow(tbody, 9, "暂无待回访工单"); return; }
      tbody.innerHTML = "";
      d.items.forEach((t) => {
        const tr = document.createElement("tr"); tr._t = t;
        const last = t.attempts >= H.callbackTries - 1;
        tr.innerHTML = `<td>${link(t)}</td><td>${esc(t.subject)}</td><td>${esc(t.caller_name)}</td><td>${esc(t.caller_phone)}</td>
          <td>${esc(t.responsible_unit || "直办")}</td><td>${esc((t.reply_text || "").slice(0, 60))}</td><td>${countdown(t.callback_due_at)}</td><td>${t.attempts} 次</td>
          <td><button type="button" data-cb="result">记录结果</button>${last ? `<button type="button" data-cb="unreachable">第${H.callbackTries}次未接通：无法联系</button>` : '<button type="button" data-cb="no_answer">未接通</button>'}</td>`;
        tbody.appendChild(tr);
      });
    }
    tbody.addEventListener("click", async (ev) => {
      const what = ev.target.dataset.cb; if (!what) return;
      current = ev.target.closest("tr")._t;
      try {
        if (what === "no_answer") { await act(current, "callback_no_answer"); toast("已记录未接通", "ok"); return load(); }
        if (what === "unreachable") { await act(current, "callback", {satisfaction: "unreachable", note: `${H.callbackTries}次未接通`}); toast("已记录无法联系", "ok"); return load(); }
      } catch (e) { toast(e.message, "error"); return load(); }
      $("#cb-title").textContent = `回访：${current.number}`; form.hidden = false;
      showUnitChoice();
    });
    // A direct answer has no unit: redoing it means dispatching it to one.
    async function showUnitChoice() {
      const need = !current.responsible_unit && form.satisfaction.value === "unsatisfied";
      $("#cb-unit-label").hidden = !need;
      if (need && !$("#cb-unit").options.length) {
        const units = (await api("GET", "/units")).items.filter((u) => !u.kind.endsWith("platform"));
        $("#cb-unit").innerHTML = units.map((u) => `<option value="${u.id}">${esc(u.name)}</option>`).join("");
      }
    }
    form.satisfaction.addEventListener("change", showUnitChoice);
    $("#cb-cancel").addEventListener("click", () => { form.hidden = true; });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const sat = form.satisfaction.value, note = form.note.value;
      try {
        if (sat === "unsatisfied") {
          const extra = current.responsible_unit ? {} : {unit_id: Number($("#cb-unit").value)};
          await act(current, "redo", Object.assign({satisfaction: "unsatisfied", reason: note || "回访不满意", note}, extra));
        }
        else await act(current, "callback", {satisfaction: sat, note});
        toast(sat === "unsatisfied" ? "不满意，已转承办单位重办" : "已记录回访：" + SAT[sat], "ok"); form.hidden = true; form.reset();
      } catch (e) { toast(e.message, "error"); }
      load();
    });
    onTicketChanged((msg) => { if (["close", "direct_answer", "callback", "redo"].includes(msg.event.action)) load(); });
    load().catch((e) => toast(e.message, "error"));
  }

  const page = document.body.dataset.page;
  if (page === "intake") initIntake();
  if (page === "inbox") initInbox();
  if (page === "ticket") initTicket();
  if (page === "review") initReview();
  if (page === "board") initBoard();
  if (page === "callbacks") initCallbacks();
  window.hotlineConsole = {api, onTicketChanged, socket, esc, fmt, suggestionHtml, duplicatesHtml};
})();
