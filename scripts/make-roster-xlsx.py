"""Writes samples/roster.xlsx, the small spreadsheet roster the tests and the README use.

Run once, in a throwaway virtual environment (the .xlsx is committed, the environment is not):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install openpyxl
    /tmp/venv/bin/python scripts/make-roster-xlsx.py
"""

import datetime
import pathlib

import openpyxl

GEOG = "GEOG 210 Intro to GIS - Fall 2025"
START = datetime.date(2025, 9, 1)

book = openpyxl.Workbook()
roster = book.active
roster.title = "Roster"
for row in [
    ["group", "username", "role", "Start Date", "Student ID"],
    [GEOG, "prof.okafor_uni", "admin", START, None],
    [GEOG, "a.alvarez_uni", None, START, 100231],
    [GEOG, "b.okonkwo_uni", None, START, 100232],
    [],  # an empty row: skipped, but the rows below keep the numbers the spreadsheet shows
    [2026, "c.dubois_uni", "member", datetime.date(2026, 1, 31), 100233],
    [2026, "maria lopez", None, None, 100234],  # a display name: invalid, on row 7
]:
    roster.append(row)
for cell in roster["D"][1:]:
    cell.number_format = "yyyy-mm-dd"

staff = book.create_sheet("Staff")
staff.append(["group", "username", "role"])
staff.append(["Field Camp Staff", "ta.mbeki_uni", "admin"])

out = pathlib.Path(__file__).resolve().parent.parent / "samples" / "roster.xlsx"
book.save(out)
print(out)
