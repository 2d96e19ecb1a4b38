"""Build data/emergency/train.csv: the training/development set of the
emergency detector (never the evaluation set, see EVAL_NOTE.md).

Two parts, both written for training after eval.csv was frozen:
- train_src/<kind>.txt: hand-written call texts, one a line (``no`` holds
  the look-alikes);
- contrast pairs generated below: one event phrase told as happening now and
  as a past, hypothetical, administrative or negated mention, so that a model
  learns the time words and negation rather than the event's nouns.

Deterministic (seeded); run ``python data/emergency/make_train.py`` to
rebuild.  The generated part uses its own scenes and places, none copied
from eval.csv.
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).parent
KINDS = {"police": "police110", "fire": "fire119", "medical": "medical120", "utility": "utility_urgent"}

SCENES = {
    "police110": ["有人持刀抢劫便利店", "一群人在夜市打群架", "一个男的在殴打他女朋友", "一个小孩在游乐场走丢了",
                  "有人站在楼顶要跳楼", "有小偷入室盗窃", "有个男的尾随女学生", "醉汉拿砖头砸车",
                  "有人把小孩抱走了", "几个人拿钢管打人", "有人拿刀威胁店主", "一个女的被丈夫家暴",
                  "有人在桥上要跳河", "一个老人走失了", "有人在抢路人的手机"],
    "fire119": ["仓库着火了", "厨房燃气泄漏了", "小区电动车起火了", "饭店液化气罐爆炸了", "楼里冒浓烟",
                "山上着火了", "出租屋起火有人被困", "车间发生了爆炸", "天然气管道漏气", "商铺着火了",
                "车辆自燃了", "家里煤气味很浓"],
    "medical120": ["有人晕倒在路边", "老人突发心梗倒地", "小孩误服了药物", "工人受伤大出血", "有人溺水没了呼吸",
                   "孕妇突然大出血", "有人农药中毒", "老人摔倒昏迷不醒", "有人被车撞伤躺在地上", "孩子高烧抽搐",
                   "有人食物中毒上吐下泻", "有人突然心脏骤停"],
    "utility_urgent": ["路口的水管爆裂了", "电线断了掉在路上", "马路上的井盖丢了", "路面塌陷自来水往外喷",
                       "电线杆倒在路中间", "变压器冒火花", "井盖被冲走了", "供水主管爆管淹了街道",
                       "配电箱漏电", "高压线垂到地面"],
}
PLACES = ["", "在延安路", "在我们村口", "在小区东门", "在学校后面", "在火车站广场", "在工业园", "在老街",
          "在二桥那边", "在步行街"]
NOW = ["喂 {p}{s} 现在还在 快派人来", "{p}{s} 就刚才 人还在这里 你们快点", "快来人啊 {s} {p}",
       "我就在现场 {s} 你们赶紧过来 {p}", "那个 嗯 {s} {p} 怎么办啊 现在", "{s}了 {p} 快 快"]
NOT_NOW = ["{past}{p}{s} 想问问现在处理得怎么样了", "{past}{p}{s}的事 到现在也没人给个说法",
           "{past}{s} 早就处理完了 就是想反映一下{p}的安全问题", "我想咨询一下 如果{s} 应该找哪个部门",
           "新闻上说{p}{s} 是真的吗 我们很担心", "刚才以为{s} 原来是误会 现在没事了 不用来了",
           "{past}{s} 赔偿和补助怎么申请", "不是{s} 是我看错了 {p}一切正常",
           "物业说{s}的话要我们自己承担费用 这个合理吗", "{past}{p}{s} 想表扬一下当时处理的工作人员"]
PAST = ["上个月", "去年", "上周", "前几天", "前年", "三个月前", "年初", "上次", "半年前", "以前"]


def generated(rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for kind, scenes in SCENES.items():
        for s in scenes:
            for frame in rng.sample(NOW, 3):
                out.append((frame.format(s=s, p=rng.choice(PLACES)).strip(), kind))
            for frame in rng.sample(NOT_NOW, 3):
                out.append((frame.format(s=s, p=rng.choice(PLACES), past=rng.choice(PAST)).strip(), ""))
    return out


def main() -> None:
    rng = random.Random(20261130)
    rows: list[tuple[str, str]] = []
    for name, kind in [*KINDS.items(), ("no", "")]:
        for line in (HERE / "train_src" / f"{name}.txt").read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append((" ".join(line.split()), kind))
    rows += generated(rng)
    seen, unique = set(), []
    for text, kind in rows:
        if text not in seen:
            seen.add(text)
            unique.append((text, kind))
    with open(HERE / "train.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "emergency", "kind"])
        for text, kind in unique:
            w.writerow([text, 1 if kind else 0, kind])
    print(f"{len(unique)} rows, {sum(1 for _, k in unique if k)} emergencies")


if __name__ == "__main__":
    main()
