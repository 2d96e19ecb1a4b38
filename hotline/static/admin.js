/* Admin page: model registry and routing catalogue. */
(function () {
  "use strict";
  const {api} = window.hotlineConsole;
  const $ = (s) => document.querySelector(s);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const pct = (x) => x == null ? "—" : (x * 100).toFixed(1) + "%";
  const note = (msg, bad) => { const t = $("#toast"); t.textContent = msg; t.className = "toast " + (bad ? "error" : "ok"); t.hidden = false; setTimeout(() => { t.hidden = true; }, 4000); };

  async function loadModels() {
    const d = await api("GET", "/admin/models");
    $("#corrections").textContent = `人工纠正样本 ${d.corrections.total} 条，其中 ${d.corrections.unused} 条尚未用于训练。`;
    // The model that serves, also when it is the built-in default (no registered version active).
    const builtIn = (d.serving || []).filter((m) => !d.items.some((v) => v.active && v.kind === m.kind && v.version === m.version))
      .map((m) => `<tr class="serving-default"><td>${esc(m.version || "无法加载")}${m.kind === "units" ? ' <span class="muted">单位路由</span>' : ""} <span class="status s-closed">使用中</span></td>
        <td colspan="6" class="muted">内置默认模型（随代码发布，未登记到模型库；评估数字见 docs）</td><td></td></tr>`).join("");
    $("#models tbody").innerHTML = builtIn + d.items.map((v) => {
      // A retrained candidate carries its figures on the fixed evaluation
      // split beside those of the model active when it was trained.
      const m = (v.metrics && v.metrics.holdout) || {}, a = (v.metrics && v.metrics.active_on_holdout) || null;
      const dec = v.metrics && v.metrics.decision;
      const f1 = m.macro_f1 != null ? m.macro_f1.toFixed(3) : "—";
      return `<tr><td>${esc(v.version)}${v.kind === "units" ? ' <span class="muted">单位路由</span>' : ""}${v.active ? ' <span class="status s-closed">使用中</span>' : ""}</td><td>${esc((v.created_at || "").slice(0, 16).replace("T", " "))}</td>
        <td>${f1}${a ? ` <span class="muted">（对比 ${a.macro_f1.toFixed(3)}）</span>` : ""}</td><td>${pct(m.accuracy)}${a ? ` <span class="muted">（${pct(a.accuracy)}）</span>` : ""}</td>
        <td>${pct(m.auto_routed_share)}</td><td>${pct(m.auto_routed_accuracy)}</td>
        <td>${esc(v.note)}${dec ? `<br><span class="muted">${dec.activated ? "已自动启用" : "未启用：不优于现用模型"}（${esc(dec.rule)}）</span>` : ""}</td>
        <td>${v.active ? "" : `<button data-activate="${esc(v.version)}">启用</button>`}</td></tr>`;
    }).join("") || (builtIn ? "" : '<tr><td colspan="8" class="muted">尚无登记的模型版本</td></tr>');
  }
  $("#models").addEventListener("click", async (ev) => {
    const v = ev.target.dataset.activate; if (!v) return;
    try { await api("POST", `/admin/models/${encodeURIComponent(v)}/activate`, {}); note("已启用 " + v); refresh(); } catch (e) { note(e.message, true); }
  });
  $("#retrain").addEventListener("click", async () => {
    try { const r = await api("POST", "/admin/models/retrain", {}); note(r.queued ? "重训任务已排队：" + r.job_id : "重训已完成"); refresh(); } catch (e) { note(e.message, true); }
  });
  $("#retrain-units").addEventListener("click", async () => {
    try { const r = await api("POST", "/admin/models/retrain-units", {}); note(r.queued ? "单位路由重训已排队：" + r.job_id : "单位路由重训已完成"); refresh(); } catch (e) { note(e.message, true); }
  });
  $("#rollback").addEventListener("click", async () => {
    try { const r = await api("POST", "/admin/models/rollback", {}); note("已回滚到 " + r.version); refresh(); } catch (e) { note(e.message, true); }
  });

  async function loadRules() {
    const d = await api("GET", "/admin/routing-rules");
    $("#rules tbody").innerHTML = d.items.map((r) => `<tr class="${r.active ? "" : "muted"}"><td>${esc(r.platform.name)}</td><td>${esc(r.category || "（任意）")}</td>
      <td>${esc(r.division_code || "（全平台）")}</td><td>${esc(r.unit.name)}</td><td>${r.priority}</td><td>${esc(r.note)}</td>
      <td>${r.active && (r.category || r.division_code) ? `<button data-deactivate="${r.id}">停用</button>` : (r.active ? "兜底" : "已停用")}</td></tr>`).join("");
  }
  $("#rules").addEventListener("click", async (ev) => {
    const id = ev.target.dataset.deactivate; if (!id) return;
    const reason = prompt("停用理由"); if (!reason) return;
    try { await api("POST", `/admin/routing-rules/${id}/deactivate`, {reason}); note("已停用"); refresh(); } catch (e) { note(e.message, true); }
  });
  $("#rule-form").addEventListener("submit", async (ev) => {
    ev.preventDefault(); const f = ev.target;
    const body = {platform_id: Number(f.platform_id.value), unit_id: Number(f.unit_id.value), priority: Number(f.priority.value),
      division_code: f.division_code.value, note: f.note.value, category: f.category.value || null};
    try { await api("POST", "/admin/routing-rules", body); note("已添加"); f.reset(); refresh(); }
    catch (e) { const flds = e.data && e.data.error && e.data.error.fields; note(e.message + (flds ? "：" + Object.entries(flds).map(([k, v]) => k + " " + v).join("；") : ""), true); }
  });
  (async () => {
    const units = (await api("GET", "/units")).items;
    $("#rule-platform").innerHTML = units.filter((u) => u.kind.endsWith("platform")).map((u) => `<option value="${u.id}">${esc(u.name)}</option>`).join("");
    $("#rule-unit").innerHTML = units.map((u) => `<option value="${u.id}">${esc(u.name)}</option>`).join("");
    const cats = (await api("GET", "/categories")).items;
    $("#category-list").innerHTML = cats.map((c) => `<option value="${esc(c.full_name)}">`).join("");
  })();
  function refresh() { loadCalendar(); loadModels(); loadRules(); loadLexicon(); }

  // Missing calendar years hold dues pending; provisional ones may move (docs/sla.md).
  async function loadCalendar() {
    const d = await api("GET", "/admin/calendar");
    const alerts = d.missing.map((m) => `缺少${m.year}年工作日历：${m.open_tickets} 件在办工单时限待定。`);
    if (d.provisional_years.length) alerts.push(`${d.provisional_years.join("、")}年为暂定日历（${d.provisional_open_tickets} 件在办工单按暂定日历计算时限）。`);
    if (alerts.length) alerts.push(`国务院放假通知公布后，运行 ${d.command} 导入并重算。`);
    const box = $("#calendar-alert"); box.textContent = alerts.join(" "); box.hidden = !d.missing.length && !d.provisional_years.length;
    $("#calendar-years").textContent = `已有日历：${d.years.join("、")}年` + (Object.keys(d.imported).length ? `；导入：${Object.keys(d.imported).join("、")}年` : "");
  }
  // ------------------------------------------------------------ lexicon (通俗化词条)
  async function loadLexicon() {
    const q = $("#lexicon-q").value.trim();
    const d = await api("GET", "/admin/lexicon?per_page=30" + (q ? "&q=" + encodeURIComponent(q) : ""));
    $("#lexicon-count").textContent = `（启用 ${d.active} 条${q ? "，匹配 " + d.total + " 条" : ""}）`;
    $("#lexicon tbody").innerHTML = d.items.map((e) => `<tr class="${e.active ? "" : "muted"}" data-phrase="${esc(e.phrase)}"><td>${esc(e.phrase)}</td><td>${esc(e.matter)}</td>
      <td>${esc(e.unit_code || "按目录")}</td><td>v${e.version}</td><td>${e.active ? "启用" : "已停用"}</td>
      <td><button data-lex="${e.id}" data-lex-on="${e.active ? 0 : 1}">${e.active ? "停用" : "启用"}</button></td></tr>`).join("")
      || '<tr><td colspan="6" class="muted">无匹配词条</td></tr>';
  }
  $("#lexicon-search").addEventListener("submit", (ev) => { ev.preventDefault(); loadLexicon(); });
  $("#lexicon").addEventListener("click", async (ev) => {
    const id = ev.target.dataset.lex; if (!id) return;
    const on = ev.target.dataset.lexOn === "1";
    const reason = prompt(on ? "启用理由" : "停用理由"); if (!reason) return;
    try { await api("POST", `/admin/lexicon/${id}/${on ? "enable" : "disable"}`, {reason}); note(on ? "已启用" : "已停用"); loadLexicon(); }
    catch (e) { note(e.message, true); }
  });
  $("#lexicon-form").addEventListener("submit", async (ev) => {
    ev.preventDefault(); const f = ev.target;
    const body = {phrase: f.phrase.value, category: f.category.value, unit_code: f.unit_code.value, note: f.note.value};
    try { await api("POST", "/admin/lexicon", body); note("已添加词条"); $("#lexicon-q").value = body.phrase; f.reset(); loadLexicon(); }
    catch (e) { const flds = e.data && e.data.error && e.data.error.fields; note(e.message + (flds ? "：" + Object.entries(flds).map(([k, v]) => k + " " + v).join("；") : ""), true); }
  });
  $("#lexicon-test").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("POST", "/admin/lexicon/test", {text: ev.target.text.value});
      const s = r.suggestion;
      $("#lexicon-test-result").innerHTML = `<p>命中词条：${r.hits.length ? r.hits.map((h) => `<span class="hit">${esc(h.phrase)}</span>→${esc(h.matter.split("/").pop())}（${esc(h.unit)}）`).join("；") : "无"}</p>
        <p id="lexicon-test-unit">推荐：${esc(s.matter || "未能判断")} → <strong>${esc(s.unit.name)}</strong>${s.unit_confidence != null ? "（" + pct(s.unit_confidence) + "）" : ""}${s.needs_review ? " · 需人工派单" : ""}</p>`;
    } catch (e) { note(e.message, true); }
  });
  refresh();
})();
