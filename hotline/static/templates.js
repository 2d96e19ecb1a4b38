/* 常用答复: the unit's quick-reply templates beside every reply text on the
   ticket page (答复, 协办意见, 直办): pick one to fill the text, or keep the
   text written as a new template. */
(function () {
  "use strict";
  const C = window.hotlineConsole;
  const inputs = document.getElementById("action-inputs");
  if (!C || !inputs) return;
  const {api, esc} = C;
  let templates = null;
  async function load() { templates = (await api("GET", "/reply-templates")).items; return templates; }
  async function decorate() {
    const area = inputs.querySelector("textarea[name=reply_text]");
    if (!area || inputs.querySelector("#template-choice")) return;
    const box = document.createElement("div");
    box.className = "row templates";
    box.innerHTML = '<label>常用答复 <select id="template-choice"><option value="">（选择后填入答复内容）</option></select></label>'
      + '<button type="button" id="template-save">存为常用答复</button>';
    area.closest("label").after(box);
    const sel = box.querySelector("#template-choice");
    const fill = (list) => { sel.innerHTML = '<option value="">（选择后填入答复内容）</option>' + list.map((t) => `<option value="${t.id}">${esc(t.title)}</option>`).join(""); };
    fill(templates || await load());
    sel.addEventListener("change", () => { const t = templates.find((x) => String(x.id) === sel.value); if (t) area.value = t.text; });
    box.querySelector("#template-save").addEventListener("click", async () => {
      if (!area.value.trim()) { area.focus(); return; }
      const title = prompt("常用答复的标题", area.value.trim().slice(0, 20));
      if (!title) return;
      try { await api("POST", "/reply-templates", {title, text: area.value.trim()}); fill(await load()); } catch (e) { alert(e.message); }
    });
  }
  new MutationObserver(() => { decorate().catch(() => {}); }).observe(inputs, {childList: true});
})();
