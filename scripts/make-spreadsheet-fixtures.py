"""Writes tests/fixtures/roster/legacy.xls and tests/fixtures/roster/libreoffice.ods: the same small
roster as the two other spreadsheet formats calamine reads, for the spreadsheet tests.

Run once, in a throwaway virtual environment (the files are committed, the environment is not):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install xlwt
    /tmp/venv/bin/python scripts/make-spreadsheet-fixtures.py

Both hold, on their first sheet: a header on row 1, two members, an empty row 4, and on row 5 a
group titled with the number 2026 and an integer `Student ID`.
"""

import datetime
import pathlib
import zipfile

import xlwt

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "roster"
ROWS = [
    ["group", "username", "role", "Student ID"],
    ["GIS 101", "amy", "admin", 100231],
    ["GIS 101", "bob", None, 100232],
    [],
    [2026, "cy", None, 100233],
]

book = xlwt.Workbook()
sheet = book.add_sheet("Roster")
for r, row in enumerate(ROWS):
    for c, value in enumerate(row):
        if value is not None:
            sheet.write(r, c, value)
book.save(str(OUT / "legacy.xls"))


def ods_cell(value):
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, (int, float)):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value}">'
            f"<text:p>{value}</text:p></table:table-cell>"
        )
    return f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'


rows = "".join(
    "<table:table-row>" + "".join(ods_cell(v) for v in row) + "</table:table-row>" for row in ROWS
)
content = f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">
<office:body><office:spreadsheet><table:table table:name="Roster">{rows}</table:table>
</office:spreadsheet></office:body></office:document-content>
"""
manifest = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""
with zipfile.ZipFile(OUT / "libreoffice.ods", "w") as ods:
    ods.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
    ods.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    ods.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
print(OUT)
