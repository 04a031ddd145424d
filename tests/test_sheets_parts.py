"""The sheets written in parts (as the processes of a large run write them) are the sheets
written one by one: the same Markdown and HTML, the same workbook content; the workbook's
stitched zip is a valid zip."""

from __future__ import annotations

import zipfile
import zlib

import numpy as np
import pytest

from classify import sheets
from classify.xlsx import Piece, crc32_combine, write_zip
from classify.sheets import render_html, render_markdown, write_suggestions
from tests.test_sheets import NOTICE, frame, suggestions  # noqa: F401 - fixtures


@pytest.mark.parametrize("sizes", [[0, 5], [1, 0, 7, 70000], [3] * 9])
def test_crc32_of_pieces_is_the_crc32_of_the_whole(sizes):
    rng = np.random.default_rng(len(sizes))
    parts = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in sizes]
    crc = 0
    for p in parts:
        crc = crc32_combine(crc, zlib.crc32(p), len(p))
    assert crc == zlib.crc32(b"".join(parts))


def test_pieces_compressed_apart_make_one_deflate_stream(tmp_path):
    rng = np.random.default_rng(0)
    texts = [" ".join(map(str, rng.integers(0, 99, n))).encode() for n in (10, 0, 5000, 300)]
    pieces = [Piece(tmp_path / f"{k}.deflate") for k in range(2)]
    pieces[0].write(texts[0])
    pieces[0].write(texts[1])
    pieces[1].write(texts[2])
    for p in pieces:
        p.close()
    pieces.append(Piece.of(texts[3], final=True))
    write_zip(tmp_path / "a.zip", [("a.txt", pieces)])
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        assert z.testzip() is None
        assert z.read("a.txt") == b"".join(texts)


def test_sheets_in_parts_are_the_sheets_one_by_one(tmp_path, suggestions, monkeypatch):
    whole = sheets._parts
    monkeypatch.setattr(sheets, "_parts", lambda n, per_part=None: whole(n, 3))
    paths = write_suggestions(suggestions, tmp_path, notice=NOTICE, workers=1)
    by_name = {p.name: p for p in paths}
    for s in suggestions:  # rendered a part at a time (numbers in bulk) = one by one
        assert by_name[f"{s.town_code}.md"].read_text(encoding="utf-8") == \
            render_markdown(s, notice=NOTICE)
        assert by_name[f"{s.town_code}.html"].read_text(encoding="utf-8") == \
            render_html(s, notice=NOTICE)
    book = by_name["suggestions.xlsx"]
    with zipfile.ZipFile(book) as z:
        assert z.testzip() is None
        stitched = {n: z.read(n) for n in z.namelist()}
    monkeypatch.setattr(sheets, "_parts", whole)
    one = write_suggestions(suggestions, tmp_path / "one", notice=NOTICE, workers=1)[-1]
    with zipfile.ZipFile(one) as z:
        assert stitched == {n: z.read(n) for n in z.namelist()}
    assert len(whole(len(suggestions), 3)) > 2


def test_workbook_alone_is_the_workbook_written_with_the_sheets(tmp_path, suggestions):
    """write_workbook makes the summary rows from the suggestions; write_suggestions from
    the sheets' own texts: the same workbook."""
    from classify.sheets import write_workbook

    alone = write_workbook(suggestions, tmp_path / "alone.xlsx", notice=NOTICE)
    with_sheets = write_suggestions(suggestions, tmp_path / "run", notice=NOTICE)[-1]
    with zipfile.ZipFile(alone) as a, zipfile.ZipFile(with_sheets) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            assert a.read(name) == b.read(name), name
