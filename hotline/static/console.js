/* 12345 console: talks to /api/v1 with the session cookie and CSRF header,
   and listens for live ticket changes over Socket.IO. */
(function () {
  "use strict";
  const H = window.HOTLINE;
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
  function countdown(iso) {
    if (!iso) return "—";
    const ms = new Date(iso) - new Date();
    const abs = Math.abs(ms), h = Math.floor(abs / 3600000), m = Math.floor((abs % 3600000) / 60000);
    const txt = (h >= 48 ? Math.floor(h / 24) + "天" : h + "小时" + m + "分");
    return ms < 0 ? `<span class="overdue">超时 ${txt}</span>` : `<span title="${esc(fmt(iso))}">剩 ${txt}</span>`;
  }

  // ------------------------------------------------------------ live
  const listeners = [];
  function onTicketChanged(fn) { listeners.push(fn); }
  const socket = io({transports: ["websocket", "polling"]});
  socket.on("connect", () => { $("#live").className = "live on"; });
  socket.on("disconnect", () => { $("#live").className = "live off"; });
  socket.on("ticket.changed", (msg) => listeners.forEach((fn) => fn(msg)));

  // ------------------------------------------------------------ intake
  function initIntake() {
    const form = $("#intake-form"), box = $("#suggestion"), sel = $("#category-select");
    api("GET", "/categories").then((d) => {
      d.items.filter((c) => c.level <= 2).forEach((c) => {
        const o = document.createElement("option"); o.value = c.code; o.textContent = (c.level === 2 ? "　" : "") + c.full_name; sel.appendChild(o);
      });
    });
    let timer = null, seq = 0;
    const refresh = () => {
      const description = form.description.value.trim();
      if (!description) { box.innerHTML = '<p class="muted">输入诉求内容后将自动推荐分类与承办单位。</p>'; return; }
      const my = ++seq;
      api("POST", "/suggest", {description, subject: form.subject.value, address: form.address.value, category: sel.value || null})
        .then((s) => {
          if (my !== seq) return;
          const pct = s.confidence == null ? "—" : Math.round(s.confidence * 100) + "%";
          box.innerHTML = `<div class="sug ${s.needs_review ? "review" : "ok"}">
            <div>推荐分类：<strong id="sug-category">${esc(s.category ? s.category.name : "未能判断")}</strong>
              <span class="conf" id="sug-confidence">置信度 ${pct}</span></div>
            <div>承办单位：<strong id="sug-unit">${esc(s.unit.name)}</strong></div>
            ${s.needs_review ? '<div class="warn">置信度不足或无匹配派单目录，提交后进入人工派单队列</div>' : ""}
            ${s.top.length ? `<div class="muted">候选：${s.top.map((x) => esc(x.label) + " " + Math.round(x.p * 100) + "%").join("，")}</div>` : ""}
            ${s.explain.length ? `<div class="muted">依据词：${s.explain.map((x) => esc(x.word)).join("、")}</div>` : ""}
          </div>`;
        })
        .catch((e) => { if (my === seq) box.innerHTML = `<p class="error">${esc(e.message)}</p>`; });
    };
    ["description", "subject", "address"].forEach((n) => form[n].addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 300); }));
    sel.addEventListener("change", refresh);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {
        channel: form.channel.value, request_type: form.request_type.value, urgency: form.urgency.value,
        caller: {name: form.caller_name.value, phone: form.caller_phone.value},
        subject: form.subject.value, address: form.address.value, description: form.description.value,
        confidential: form.confidential.checked,
      };
      if (sel.value) body.category = sel.value;
      const btn = $("#submit-ticket"); btn.disabled = true;
      try {
        const t = await api("POST", "/tickets", body);
        $("#intake-result").innerHTML = `已生成工单 <a id="new-number" href="/tickets/${t.id}">${esc(t.number)}</a>，${t.responsible_unit ? "已派至 " + esc(t.responsible_unit.name) : "待人工派单"}`;
        addMine(t); form.reset(); box.innerHTML = ""; 
      } catch (e) {
        const f = e.data && e.data.error && e.data.error.fields;
        $("#intake-result").innerHTML = `<span class="error">${esc(e.message)}${f ? "：" + esc(Object.entries(f).map(([k, v]) => k + " " + v).join("；")) : ""}</span>`;
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
    const tbody = $("#inbox tbody"), filter = $("#status-filter");
    function row(t) {
      const tr = document.createElement("tr"); tr.dataset.id = t.id;
      const unit = t.responsible_unit ? (t.responsible_unit.name || t.responsible_unit) : "待派单";
      const cat = t.category && t.category.name !== undefined ? t.category.name : t.category;
      tr.innerHTML = `<td><a href="/tickets/${t.id}">${esc(t.number)}</a></td><td>${esc(t.subject || (t.description || "").slice(0, 30))}</td>
        <td>${esc(cat || "未分类")}</td><td>${esc(unit)}</td><td class="st">${statusBadge(t)}</td>
        <td>${t.status === "dispatched" ? countdown(t.sign_due_at) : "—"}</td><td>${["dispatched", "handling", "returned"].includes(t.status) ? countdown(t.due_at) : "—"}</td>`;
      return tr;
    }
    async function load() {
      const q = filter.value ? "?status=" + encodeURIComponent(filter.value) : "";
      const d = await api("GET", "/tickets" + q);
      tbody.innerHTML = ""; d.items.forEach((t) => tbody.appendChild(row(t)));
      $("#pager").textContent = `共 ${d.total} 件`;
    }
    filter.addEventListener("change", load);
    load();
    onTicketChanged((msg) => {
      const t = msg.ticket, old = tbody.querySelector(`tr[data-id="${t.id}"]`);
      const visible = H.role !== "department" || t.responsible_unit_id === H.unitId;
      if (!visible || (filter.value && filter.value !== t.status)) { if (old) old.remove(); return; }
      const tr = row(t); tr.classList.add("flash");
      if (old) old.replaceWith(tr); else { tbody.prepend(tr); toast(`新工单 ${t.number}：${t.subject}`, "info"); }
      setTimeout(() => tr.classList.remove("flash"), 1500);
    });
  }

  // ------------------------------------------------------------ ticket
  const FIELD_LABELS = {reason: "理由", reply_text: "答复内容", unit_id: "承办单位", days: "延期天数", satisfaction: "回访结果", into_ticket_id: "并入工单ID", note: "备注"};
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
        ["签收时限", fmt(t.sign_due_at)], ["办结时限", fmt(t.due_at)], ["答复", t.reply_text || "—"], ["退单次数", t.return_count]];
      $("#t-fields").innerHTML = f.map(([k, v]) => `<dt>${k}</dt><dd>${esc(v)}</dd>`).join("");
      $("#actions").innerHTML = t.allowed_actions.map((a) => `<button type="button" data-action="${a}" id="act-${a}">${esc(H.actionLabels[a] || a)}</button>`).join("") || '<span class="muted">当前无可执行操作</span>';
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
      $("#action-title").textContent = H.actionLabels[action];
      $("#action-inputs").innerHTML = req.map((f) => {
        if (f === "unit_id") return `<label>${FIELD_LABELS[f]} <select name="unit_id">${units.map((u) => `<option value="${u.id}">${esc(u.name)}</option>`).join("")}</select></label>`;
        if (f === "satisfaction") return `<label>${FIELD_LABELS[f]} <select name="satisfaction"><option value="satisfied">满意</option><option value="basically_satisfied">基本满意</option><option value="unreachable">无法联系</option></select></label>`;
        if (f === "reply_text" || f === "reason") return `<label>${FIELD_LABELS[f]} <textarea name="${f}" rows="4" required></textarea></label>`;
        return `<label>${FIELD_LABELS[f] || f} <input name="${f}" required></label>`;
      }).join("");
      const form = $("#action-form"); form.hidden = false; form.dataset.action = action;
    });
    $("#action-cancel").addEventListener("click", () => { $("#action-form").hidden = true; });
    $("#action-form").addEventListener("submit", (ev) => {
      ev.preventDefault(); const form = ev.target, body = {};
      new FormData(form).forEach((v, k) => { body[k] = ["unit_id", "days", "into_ticket_id"].includes(k) ? Number(v) : v; });
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

  const page = document.body.dataset.page;
  if (page === "intake") initIntake();
  if (page === "inbox") initInbox();
  if (page === "ticket") initTicket();
  window.hotlineConsole = {api, onTicketChanged, socket};
})();
