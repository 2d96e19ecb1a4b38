/* 我的账户 (sessions), 安全管理 (users, tokens, sessions) and 审计日志 pages. */
(function () {
  "use strict";
  const {api} = window.hotlineConsole;
  const $ = (s) => document.querySelector(s);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const fmt = (iso) => iso ? new Date(iso).toLocaleString("zh-CN", {hour12: false, timeZone: "Asia/Shanghai"}) : "—";
  const note = (msg, bad) => { const t = $("#toast"); t.textContent = msg; t.className = "toast " + (bad ? "error" : "ok"); t.hidden = false; setTimeout(() => { t.hidden = true; }, 4000); };
  const page = document.body.dataset.page;
  const STATE = {active: "有效", revoked: "已吊销", expired: "已过期", user_inactive: "用户已停用"};
  const RESULT = {success: "成功", failure: "失败", refused: "拒绝"};

  function on(table, attr, fn) {
    $(table).addEventListener("click", async (ev) => {
      const b = ev.target.closest(`button[${attr}]`);
      if (!b) return;
      try { await fn(b.getAttribute(attr), b); } catch (e) { note(e.message, true); }
    });
  }
  function formJSON(form) {
    const o = {};
    new FormData(form).forEach((v, k) => { o[k] = v; });
    return o;
  }

  // ------------------------------------------------------------ 我的账户
  async function loadMine() {
    const me = await api("GET", "/me");
    $("#me-last-login").textContent = me.last_login_at ? `上次登录：${fmt(me.last_login_at)} · 来自 ${me.last_login_address}` : "";
    const d = await api("GET", "/me/sessions");
    $("#my-sessions tbody").innerHTML = d.items.map((s) => `<tr><td>${fmt(s.created_at)}</td><td>${fmt(s.last_seen_at)}</td>
      <td>${fmt(s.expires_at)}</td><td>${esc(s.address)}</td><td>${esc(s.user_agent.slice(0, 60))}</td>
      <td>${s.current ? "当前会话" : `<button type="button" data-end="${s.id}">退出该会话</button>`}</td></tr>`).join("");
  }
  if (page === "account") {
    on("#my-sessions", "data-end", async (id) => { await api("POST", `/me/sessions/${id}/end`, {}); note("已退出该会话"); loadMine(); });
    loadMine().catch((e) => note(e.message, true));
  }

  // ------------------------------------------------------------ 安全管理
  async function loadUsers() {
    const d = await api("GET", "/security/users");
    $("#users tbody").innerHTML = d.items.map((u) => `<tr><td>${esc(u.username)}</td><td>${esc(u.display_name)}</td><td>${esc(u.role)}</td>
      <td>${esc(u.unit.name)}</td><td>${u.active ? "启用" : "停用"}${u.must_change_password ? " · 待改初始密码" : ""}</td>
      <td>${fmt(u.last_login_at)} ${esc(u.last_login_address)}</td>
      <td>${u.active ? `<button type="button" data-deactivate="${u.id}">停用</button>` : `<button type="button" data-activate="${u.id}">启用</button>`}</td></tr>`).join("");
  }
  async function loadTokens() {
    const d = await api("GET", "/security/tokens?all=1");
    $("#tokens tbody").innerHTML = d.items.map((t) => `<tr><td>${t.id}</td><td>${esc(t.user)}</td><td>${esc(t.name)}</td><td>${fmt(t.created_at)}</td>
      <td>${fmt(t.last_used_at)}</td><td>${fmt(t.expires_at)}</td><td>${STATE[t.state] || esc(t.state)}</td>
      <td>${t.state === "active" ? `<button type="button" data-revoke="${t.id}">吊销</button>` : ""}</td></tr>`).join("")
      || '<tr><td colspan="8" class="muted">暂无令牌</td></tr>';
  }
  async function loadSessions() {
    const d = await api("GET", "/security/sessions");
    $("#sessions tbody").innerHTML = d.items.map((s) => `<tr><td>${esc(s.user)}</td><td>${fmt(s.created_at)}</td><td>${fmt(s.last_seen_at)}</td>
      <td>${esc(s.address)}</td><td><button type="button" data-end="${s.id}">强制退出</button></td></tr>`).join("");
  }
  const reason = (what) => { const r = window.prompt(`${what}的理由：`); if (!r) throw new Error("已取消：需要填写理由"); return r; };
  if (page === "security") {
    api("GET", "/units").then((d) => { $("#user-unit").innerHTML = d.items.map((u) => `<option value="${u.id}">${esc(u.name)}</option>`).join(""); });
    on("#users", "data-deactivate", async (id) => { await api("POST", `/security/users/${id}/deactivate`, {reason: reason("停用账户")}); note("已停用，其会话已全部结束"); loadUsers(); loadSessions(); });
    on("#users", "data-activate", async (id) => { await api("POST", `/security/users/${id}/activate`, {reason: reason("启用账户")}); note("已启用"); loadUsers(); });
    on("#tokens", "data-revoke", async (id) => { await api("POST", `/security/tokens/${id}/revoke`, {reason: reason("吊销令牌")}); note("已吊销"); loadTokens(); });
    on("#sessions", "data-end", async (id) => { await api("POST", `/security/sessions/${id}/end`, {reason: reason("强制退出")}); note("已结束该会话"); loadSessions(); });
    $("#user-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = formJSON(ev.target); body.unit_id = Number(body.unit_id);
      try { await api("POST", "/security/users", body); note("已新增，首次登录须修改密码"); ev.target.reset(); loadUsers(); } catch (e) { note(e.message, true); }
    });
    $("#token-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = formJSON(ev.target); body.days = Number(body.days);
      try {
        const t = await api("POST", "/security/tokens", body);
        const box = $("#new-token"); box.textContent = `新令牌（只显示这一次）：${t.token}`; box.hidden = false;
        ev.target.reset(); loadTokens();
      } catch (e) { note(e.message, true); }
    });
    Promise.all([loadUsers(), loadTokens(), loadSessions()]).catch((e) => note(e.message, true));
  }

  // ------------------------------------------------------------ 审计日志
  function auditQuery() {
    const p = new URLSearchParams();
    Object.entries(formJSON($("#audit-form"))).forEach(([k, v]) => { if (v) p.set(k, v); });
    return p;
  }
  async function loadAudit() {
    const d = await api("GET", "/audit?" + auditQuery().toString());
    $("#audit-total").textContent = `共 ${d.total} 条，显示最新 ${d.items.length} 条`;
    $("#audit tbody").innerHTML = d.items.map((e) => `<tr><td>${fmt(e.at)}</td><td>${esc(e.actor)}</td><td>${esc(e.address)}</td>
      <td>${esc(e.action)}</td><td>${esc(e.object_type)} ${esc(e.object_id)}</td><td>${RESULT[e.result] || esc(e.result)}</td>
      <td>${esc(e.reason)}</td></tr>`).join("") || '<tr><td colspan="7" class="muted">暂无记录</td></tr>';
  }
  if (page === "audit") {
    $("#audit-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit().catch((e) => note(e.message, true)); });
    $("#audit-export").addEventListener("click", () => { window.location.href = "/api/v1/audit/export?" + auditQuery().toString(); });
    loadAudit().catch((e) => note(e.message, true));
  }
})();
