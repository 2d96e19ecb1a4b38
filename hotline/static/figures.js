/* Supervisor dashboard: reads /api/v1/figures (and /trend, /overdue) with the
   console session and draws ECharts charts; the export link downloads the
   same report as .xlsx. */
(function () {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const DEFS = JSON.parse($("#fig-defs").textContent);
  const pct = (v) => v == null ? "—" : (v * 100).toFixed(1) + "%";
  const num = (v) => v == null ? "—" : Number(v).toLocaleString("zh-CN");
  const hrs = (v) => v == null ? "—" : Number(v).toFixed(1);
  const show = (kind, v) => kind === "rate" ? pct(v) : kind === "hours" ? hrs(v) : num(v);
  const charts = {};
  const chart = (id) => charts[id] || (charts[id] = echarts.init(document.getElementById(id)));
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));

  async function get(path) {
    const res = await fetch(path, {credentials: "same-origin", headers: {"Accept": "application/json"}});
    const data = await res.json().catch(() => ({error: {message: "响应无法解析"}}));
    if (!res.ok) throw new Error((data.error && data.error.message) || res.statusText);
    return data;
  }
  function toast(msg) {
    const t = $("#toast"); t.textContent = msg; t.className = "toast error"; t.hidden = false;
    setTimeout(() => { t.hidden = true; }, 5000);
  }

  const form = $("#fig-form");
  form.addEventListener("submit", (e) => e.preventDefault());
  function query() {
    const p = new URLSearchParams();
    if (form.mode.value === "month") { if (form.month.value) p.set("month", form.month.value); }
    else { p.set("from", form.from.value); p.set("to", form.to.value); }
    if (form.unit.value) p.set("unit", form.unit.value);
    return p;
  }
  form.mode.addEventListener("change", () => {
    const range = form.mode.value === "range";
    document.querySelectorAll(".m-range").forEach((el) => { el.hidden = !range; });
    document.querySelectorAll(".m-month").forEach((el) => { el.hidden = range; });
  });

  function kpis(t) {
    const items = [["受理量", num(t.received)], ["按时签收率", pct(t.sign_on_time_rate)],
      ["按时办结率", pct(t.close_on_time_rate)], ["满意率", pct(t.satisfaction_rate)],
      ["解决率", pct(t.resolution_rate)], ["直办率", pct(t.direct_answer_rate)],
      ["超期未办结", num(t.overdue_open), t.overdue_open > 0], ["平均办结(小时)", hrs(t.avg_close_hours)]];
    $("#kpis").innerHTML = items.map(([k, v, bad]) =>
      `<div class="kpi${bad ? " bad" : ""}"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div></div>`).join("");
  }

  function table(report) {
    $("#fig-table thead").innerHTML = "<tr><th>单位</th><th>类型</th>" +
      DEFS.map((f) => `<th><abbr title="${esc(f.definition)}">${esc(f.label)}</abbr></th>`).join("") + "</tr>";
    const kinds = {province_platform: "省平台", city_platform: "市平台", department: "部门", district: "区县", street: "街道"};
    const line = (name, kind, figs, cls) => `<tr class="${cls || ""}"><td>${esc(name)}</td><td>${esc(kind)}</td>` +
      DEFS.map((f) => `<td>${esc(show(f.kind, figs[f.key]))}</td>`).join("") + "</tr>";
    $("#fig-table tbody").innerHTML = report.rows.map((r) => line(r.unit.name, kinds[r.unit.kind] || r.unit.kind, r.figures)).join("") +
      line("合计", "", report.totals, "total");
  }

  function drawUnits(report) {
    // Units with no tickets only clutter the charts; the table keeps them.
    const rows = report.rows.filter((r) => r.figures.received > 0);
    const names = rows.map((r) => r.unit.name.replace(/^贵阳市|^贵州省/, ""));
    chart("chart-volume").setOption({
      tooltip: {trigger: "axis"}, legend: {top: 0}, grid: {left: 70, right: 20, bottom: 10, containLabel: true},
      xAxis: {type: "category", data: names, axisLabel: {rotate: 40, interval: 0}},
      yAxis: {type: "value"},
      series: [{name: "受理量", type: "bar", data: rows.map((r) => r.figures.received)},
               {name: "超期", type: "bar", data: rows.map((r) => r.figures.overdue), itemStyle: {color: "#b91c1c"}}],
    }, true);
    const rate = (k) => rows.map((r) => r.figures[k] == null ? null : +(r.figures[k] * 100).toFixed(1));
    chart("chart-rates").setOption({
      tooltip: {trigger: "axis", valueFormatter: (v) => v == null ? "—" : v + "%"}, legend: {top: 0},
      grid: {left: 70, right: 20, bottom: 10, containLabel: true},
      xAxis: {type: "category", data: names, axisLabel: {rotate: 40, interval: 0}},
      yAxis: {type: "value", max: 100, axisLabel: {formatter: "{value}%"}},
      series: [{name: "按时签收率", type: "bar", data: rate("sign_on_time_rate")},
               {name: "按时办结率", type: "bar", data: rate("close_on_time_rate")},
               {name: "满意率", type: "line", data: rate("satisfaction_rate")}],
    }, true);
    const t = report.totals;
    chart("chart-satisfaction").setOption({
      tooltip: {trigger: "item"}, legend: {bottom: 0},
      series: [{type: "pie", radius: ["40%", "70%"], data: [
        {name: "满意", value: t.satisfied, itemStyle: {color: "#15803d"}},
        {name: "基本满意", value: t.basically_satisfied, itemStyle: {color: "#84cc16"}},
        {name: "不满意", value: t.unsatisfied, itemStyle: {color: "#b91c1c"}},
        {name: "无法联系", value: t.unreachable, itemStyle: {color: "#9aa5b1"}}]}],
    }, true);
  }

  function drawTrend(items) {
    const rate = (k) => items.map((i) => i.totals[k] == null ? null : +(i.totals[k] * 100).toFixed(1));
    chart("chart-trend").setOption({
      tooltip: {trigger: "axis"}, legend: {top: 0}, grid: {left: 50, right: 50, bottom: 30},
      xAxis: {type: "category", data: items.map((i) => i.month)},
      yAxis: [{type: "value", max: 100, axisLabel: {formatter: "{value}%"}}, {type: "value", name: "受理量"}],
      series: [{name: "受理量", type: "bar", yAxisIndex: 1, data: items.map((i) => i.totals.received), itemStyle: {color: "#cbd2d9"}},
               {name: "按时签收率", type: "line", data: rate("sign_on_time_rate")},
               {name: "按时办结率", type: "line", data: rate("close_on_time_rate")},
               {name: "满意率", type: "line", data: rate("satisfaction_rate")}],
    }, true);
  }

  async function overdue() {
    const d = await get("/api/v1/figures/overdue?per_page=20");
    $("#overdue tbody").innerHTML = d.items.map((t) => `<tr><td><a href="/tickets/${t.id}">${esc(t.number)}</a></td>
      <td>${esc(t.subject || t.description.slice(0, 40))}</td><td>${esc(t.responsible_unit ? t.responsible_unit.name : "—")}</td>
      <td>${esc(t.status_label)}</td><td class="overdue">${esc(new Date(t.due_at).toLocaleString("zh-CN", {hour12: false}))}</td></tr>`).join("");
    $("#overdue-pager").textContent = `共 ${d.total} 件超期未办结`;
  }

  async function load() {
    const q = query();
    try {
      const report = await get("/api/v1/figures?" + q);
      $("#scope-name").textContent = report.scope ? "· " + report.scope : "";
      $("#fig-period").textContent = `统计期间：${report.period.label}（${report.period.from} 至 ${report.period.to}，北京时间，按受理时间统计）`;
      kpis(report.totals); table(report); drawUnits(report);
      const tq = new URLSearchParams(q); tq.delete("from"); tq.delete("to"); tq.set("months", "6");
      if (!tq.get("month")) tq.set("month", report.period.from.slice(0, 7));
      drawTrend((await get("/api/v1/figures/trend?" + tq)).items);
    } catch (e) { toast("加载失败：" + e.message); }
  }

  async function init() {
    const now = new Date(Date.now() + 8 * 3600 * 1000);  // Asia/Shanghai month
    form.month.value = now.toISOString().slice(0, 7);
    try {
      const units = await get("/api/v1/units");
      units.items.forEach((u) => { const o = document.createElement("option"); o.value = u.id; o.textContent = u.name; form.unit.appendChild(o); });
    } catch (e) { /* the unit filter is optional */ }
    $("#fig-load").addEventListener("click", load);
    $("#fig-export").addEventListener("click", () => { window.location = "/api/v1/figures/export.xlsx?" + query(); });
    await load();
    overdue().catch((e) => toast("超期列表加载失败：" + e.message));
  }
  init();
})();
