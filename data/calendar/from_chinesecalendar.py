"""Write data/calendar/<year>.json from the chinesecalendar package.

Only for years the installed chinesecalendar knows (1.11.0 knows up to 2026).
Check the output against the State Council notice before committing it:
    python data/calendar/from_chinesecalendar.py 2026 > data/calendar/2026.json
"""
import datetime as dt
import itertools
import json
import sys

from chinese_calendar.constants import holidays, workdays

NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节", "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节", "National Day": "国庆节",
    "National Day/Mid-autumn Festival": "国庆节、中秋节",
}


def _runs(days: dict, year: int, suffix: str) -> list[dict]:
    out = []
    dates = sorted(d for d in days if d.year == year)
    for name, group in itertools.groupby(dates, key=lambda d: days[d]):
        group = list(group)
        run = [group[0]]
        for d in group[1:] + [None]:
            if d is not None and d - run[-1] == dt.timedelta(days=1):
                run.append(d)
                continue
            entry = {"name": NAMES.get(name, name) + suffix}
            if len(run) == 1:
                entry["date"] = run[0].isoformat()
            else:
                entry["from"], entry["to"] = run[0].isoformat(), run[-1].isoformat()
            out.append(entry)
            run = [d]
    return out


def main(year: int) -> None:
    doc = {
        "year": year,
        "provisional": False,
        "source": f"国务院办公厅关于{year}年部分节假日安排的通知 "
                  "(generated from chinesecalendar, checked against the notice)",
        "holidays": _runs(holidays, year, ""),
        "workdays": _runs(workdays, year, "调休上班"),
    }
    # One entry per line: the file is meant to be read and edited by hand.
    dumps = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731
    lines = ["{"] + [f'  "{k}": {dumps(doc[k])},' for k in ("year", "provisional", "source")]
    for key in ("holidays", "workdays"):
        entries = ",\n".join(f"    {dumps(e)}" for e in doc[key])
        lines.append(f'  "{key}": [\n{entries}\n  ]' + ("," if key == "holidays" else ""))
    lines.append("}")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]))
