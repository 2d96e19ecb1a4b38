/* Admin page: the knowledge base (知识库): search, add, edit (with a
   reason), disable / enable, and each entry's history. */
(function () {
  "use strict";
  const C = window.hotlineConsole;
  if (!C) return;
  const {api, esc, fmt} = C;
  const $ = (s) => document.querySelector(s);
  const form = $("#kb-form");
  const note = (msg, bad) => { const t = $("#toast"); t.textContent = msg; t.className = "toast " + (bad ? "error" : "ok"); t.hidden = false; setTimeout(() => { t.hidden = true; }, 4000); };
  const ACTIONS = {create: "新增", update: "修改", disable: "停用", enable: "启用", seed: "导入"};
  let rows = [];

  async function load() {
    const q = $("#kb-q").value.trim();
    const d = await api("GET", "/knowledge?all=1&per_page=30" + (q ? "&q=" + encodeURIComponent(q) : ""));
    rows = d.items;
    $("#kb-count").textContent = `（启用 ${d.active} 条${q ? "，匹配 " + d.total + " 条" : "，共 " + d.total + " 条"}）`;
    $("#kb-admin tbody").innerHTML = rows.map((e) => `<tr data-id="${e.id}" class="${e.active ? "" : "muted"}">
      <td>${e.id}</td><td>${esc(e.question)}</td><td>${esc(e.matter ? e.matter.full_name : "—")}</td><td>${esc(e.unit ? e.unit.name : "—")}</td>
      <td>${esc(e.valid_from || "…")} 至 ${esc(e.valid_until || "…")}</td><td>v${e.version}</td><td>${e.active ? "启用" : "已停用"}</td>
      <td><button type="button" data-do="edit">编辑</button><button type="button" data-do="${e.active ? "disable" : "enable"}">${e.active ? "停用" : "启用"}</button><button type="button" data-do="history">历史</button></td></tr>`).join("")
      || '<tr><td colspan="8" class="muted">无匹配条目</td></tr>';
  }
  function edit(e) {
    $("#kb-form-title").textContent = e ? `编辑条目 #${e.id}（v${e.version}）` : "新增条目";
    form.reset();
    if (!e) return;
    form.id.value = e.id; form.version.value = e.version;
    form.question.value = e.question; form.answer.value = e.answer;
    form.category.value = e.matter ? e.matter.full_name : ""; form.unit_code.value = e.unit ? e.unit.code : "";
    form.valid_from.value = e.valid_from || ""; form.valid_until.value = e.valid_until || ""; form.source.value = e.source;
    form.question.focus();
  }
  async function history(id) {
    const d = await api("GET", `/knowledge/${id}/history`);
    const show = (v) => esc(v == null ? "（空）" : String(v).slice(0, 80));
    $("#kb-history").innerHTML = `<h2>条目 #${id} 的历史</h2><ol class="events" id="kb-history-list">${d.items.map((h) => `<li><time>${esc(fmt(h.at))}</time>
      <strong>v${h.version} ${esc(ACTIONS[h.action] || h.action)}</strong> · ${esc(h.actor || "系统")}${h.reason ? "：" + esc(h.reason) : ""}
      ${Object.entries(h.changes || {}).filter(() => h.action !== "create").map(([k, [a, b]]) => `<div class="muted">${esc(k)}：${show(a)} → ${show(b)}</div>`).join("")}</li>`).join("")}</ol>`;
  }
  $("#kb-search").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  $("#kb-new").addEventListener("click", () => edit(null));
  $("#kb-admin").addEventListener("click", async (ev) => {
    const what = ev.target.dataset.do; if (!what) return;
    const id = Number(ev.target.closest("tr").dataset.id), e = rows.find((r) => r.id === id);
    if (what === "edit") return edit(e);
    if (what === "history") return history(id).catch((x) => note(x.message, true));
    const reason = prompt(what === "disable" ? "停用理由（如：政策已调整）" : "启用理由");
    if (!reason) return;
    try { await api("POST", `/knowledge/${id}/${what}`, {reason}); note(what === "disable" ? "已停用" : "已启用"); load(); history(id); }
    catch (x) { note(x.message, true); }
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    ["question", "answer", "category", "unit_code", "valid_from", "valid_until", "source", "reason"].forEach((k) => { body[k] = form[k].value; });
    const id = form.id.value;
    try {
      let e;
      if (id) e = await api("PATCH", `/knowledge/${id}`, Object.assign(body, {expected_version: Number(form.version.value)}));
      else e = await api("POST", "/knowledge", body);
      note(id ? `已保存（v${e.version}）` : "已新增条目 #" + e.id);
      $("#kb-q").value = e.question; edit(null); await load(); history(e.id);
    } catch (x) { note(x.message, true); }
  });
  load().catch((e) => note(e.message, true));
})();
