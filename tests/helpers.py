"""Small plain factories for tests (no fixtures magic)."""
from __future__ import annotations

from sqlalchemy import select

from dispatch.access import Actor
from models import Database, Unit, User


def actor(db: Database, username: str) -> Actor:
    with db.session() as s:
        return Actor.from_user(s.scalar(select(User).where(User.username == username)))


def unit(db: Database, code: str) -> Unit:
    with db.session() as s:
        return s.scalar(select(Unit).where(Unit.code == code))


def token(db: Database, username: str) -> str:
    from hotline.auth import issue_token

    with db.session() as s:
        return issue_token(s, s.scalar(select(User).where(User.username == username)), "test")


def bearer(db: Database, username: str) -> dict:
    return {"Authorization": f"Bearer {token(db, username)}"}


# Real citizen messages in the style of the shared data (written for tests).
WATER = ("南明区某小区停水三天无人处理", "我们小区从周一开始停水，到现在已经三天了，自来水公司电话打不通，"
         "老人小孩生活非常不便，请尽快恢复供水。")
SCHOOL = ("孩子入学学位问题", "孩子今年要上小学，片区学校说学位已满，请问教育局如何安排入学，"
          "学区划分是否合理，义务教育阶段应该就近入学。")
WAGES = ("公司拖欠工资三个月", "我在某建筑公司工作，老板拖欠农民工工资三个月共两万元，多次讨要无果，"
         "请劳动监察部门帮助追讨工资，维护劳动者合法权益。")


def browser_login(page, base: str, username: str, next_path: str = "", password: str = "test-password") -> None:
    """Log in through the console's form (CSRF and all)."""
    page.goto(f"{base}/login" + (f"?next={next_path}" if next_path else ""))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
