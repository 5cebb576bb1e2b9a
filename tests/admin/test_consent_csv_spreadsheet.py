"""The consent-log CSV read by a real spreadsheet: LibreOffice converts it to .xlsx, openpyxl reads it.

Phone numbers must come back intact ("+13055550203", not 13055550203 or "'+13055550203") when the
CSV is imported with quoted fields as text, and no cell may ever become a formula, whatever the
import options (LibreOffice evaluates "=..." even inside quotes by default).

Needs `soffice` (Debian: `apt-get install libreoffice-calc-nogui`); skipped, saying so, without it.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

import pytest

openpyxl = pytest.importorskip("openpyxl")
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")

PHONE = "+13055550203"
HOSTILE_NAME = '=HYPERLINK("http://evil.example","click")'
HOSTILE_REASONS = ["@SUM(1+1)*cmd|' /C calc'!A0", "-2+3", "+1+1", "=1+2"]
# CSV import filter options: comma, double quote, UTF-8, from line 1, standard columns, default
# language, then "quoted field as text" on or off.
AS_TEXT = "44,34,76,1,,0,true,true"
DEFAULT = "44,34,76,1,,0,false,true"


def to_xlsx(csv_text: str, tmp_path, options: str) -> list[list]:
    """Convert with LibreOffice headless and read every cell back as (value, openpyxl data type)."""
    source = tmp_path / "consent-log.csv"
    source.write_text(csv_text, encoding="utf-8")
    out = tmp_path / options.replace(",", "_")
    out.mkdir()
    profile = (tmp_path / "lo-profile").as_uri()
    command = [
        SOFFICE,
        f"-env:UserInstallation={profile}",
        "--headless",
        "--norestore",
        f"--infilter=CSV:{options}",
        "--convert-to",
        "xlsx:Calc MS Excel 2007 XML",
        "--outdir",
        str(out),
        str(source),
    ]
    subprocess.run(command, check=True, timeout=180, capture_output=True)
    book = openpyxl.load_workbook(out / "consent-log.xlsx")
    return [[(cell.value, cell.data_type) for cell in row] for row in book.active.iter_rows()]


def test_export_in_libreoffice_keeps_numbers_and_runs_no_formula(desk, make, tmp_path):
    make(PHONE, [("inbound", "hi")], name=HOSTILE_NAME)
    desk.get(f"/admin/contacts/{PHONE}")
    for position, reason in enumerate(HOSTILE_REASONS):
        action = "opt_out" if position % 2 == 0 else "opt_in"
        response = desk.post(f"/admin/contacts/{PHONE}/consent", {"action": action, "reason": reason})
        assert response.status_code == 302
    exported = desk.client.get("/admin/consent.csv").get_data(as_text=True)

    rows = list(csv.reader(io.StringIO(exported)))
    assert [row[1] for row in rows[1:]] == [PHONE] * len(HOSTILE_REASONS)
    assert f'"{PHONE}"' in exported  # quoted, so "quoted field as text" keeps it text

    as_text = to_xlsx(exported, tmp_path, AS_TEXT)
    assert as_text[0][1] == ("phone", "s")
    for row in as_text[1:]:
        assert row[1] == (PHONE, "s"), row
        assert row[2] == ("'" + HOSTILE_NAME, "s"), row
    assert [row[6][0] for row in as_text[1:]] == ["'" + r for r in HOSTILE_REASONS]

    for options in (AS_TEXT, DEFAULT):
        cells = to_xlsx(exported, tmp_path, options) if options != AS_TEXT else as_text
        formulas = [value for row in cells for value, kind in row if kind == "f"]
        assert formulas == [], (options, formulas)
