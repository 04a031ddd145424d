"""SpreadsheetML (.xlsx) written directly, in parts.

openpyxl builds an object per cell (~20 µs each) and a national run's workbook has
millions of cells, so the sheets are XML written here: a :class:`Sheet` knows its
headers, widths, panes and filter, and writes its rows as ``<row>`` elements a part at a
time (each part measuring its columns' widest values, which the widths need); the parts
are compressed apart (:class:`Piece`, by the processes that make them) and
:func:`save_workbook` stitches them into the package, one deflate stream per member.
Inline strings, fixed dates: the same input gives the same bytes.

>>> sheet = Sheet("Towns", ["code", "name"], n_rows=1)
>>> longest = [0, 0]
>>> rows = Piece.of(sheet.rows_xml([["441882101", "甲镇"]], 2, longest).encode())
>>> sheet.measure(longest)
>>> save_workbook([sheet], [[rows]], Path("towns.xlsx"))              # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Iterable

from openpyxl.utils import get_column_letter

__all__ = ["Sheet", "Piece", "save_workbook", "write_zip", "crc32_combine", "xml_text"]

# characters XML 1.0 cannot carry (openpyxl refuses them): dropped
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
# cell styles (cellXfs): 0 plain, 1 header, 2 percent (built-in format 9 = 0%), 3 wrapped
_STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet {_NS}>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b val="1"/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="3"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/>'
    '</fill><fill><patternFill patternType="solid"><fgColor rgb="00DDEBF7"/>'
    '<bgColor rgb="00DDEBF7"/></patternFill></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    '</cellStyleXfs><cellXfs count="4">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" '
    'applyFill="1" applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf>'
    '<xf numFmtId="9" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')


def xml_text(text: str) -> str:
    """Text as XML character data: characters XML cannot carry dropped, markup escaped,
    a bare CR kept as ``&#13;`` (XML line-end normalisation would read it back as LF)."""
    text = _ILLEGAL_XML.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace("\r", "&#13;")


def _cell(ref: str, v, style: int) -> str:
    s = f' s="{style}"' if style else ""
    if v is None or v == "" or (isinstance(v, float) and not math.isfinite(v)):
        return f'<c r="{ref}"{s}/>' if style else ""
    if isinstance(v, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(v)}</v></c>'
    if isinstance(v, (int, float)):
        # "%.16g" as openpyxl writes numbers (so the values read back are the same)
        return f'<c r="{ref}"{s}><v>{v:.16g}</v></c>' if isinstance(v, float) else \
            f'<c r="{ref}"{s}><v>{int(v)}</v></c>'
    return (f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{xml_text(str(v))}'
            f'</t></is></c>')


_TEXT_XML: dict[str, str] = {}  # escaped texts: names, labels and units come back often
_NUMBER_KINDS, _TEXT_KINDS = {float, type(None)}, {str, type(None)}
# a column whose widest value has this many characters is as wide as a column gets (48)
_WIDEST = 29


class Sheet:
    """One worksheet: headers, widths, panes, filter.  Its rows are written as XML in
    parts (:meth:`rows_xml`, by the processes writing the sheets), each part measuring
    the widest value of every column; the widths are those of all parts."""

    def __init__(self, title: str, headers: list[str], pct_col: str | None = None, *,
                 n_rows: int = 0, widths: dict[int, float] | None = None,
                 freeze: bool = True, styled_header: bool = True):
        self.title, self.headers, self.n_rows = title, headers, n_rows
        self.pct = headers.index(pct_col) if pct_col in headers else None
        self.fixed, self.freeze, self.styled_header = widths, freeze, styled_header
        self.letters = [get_column_letter(k + 1) for k in range(len(headers))]
        self.longest = [0] * len(headers)  # merged from the parts' measures

    @property
    def filter(self) -> str | None:
        return f"A1:{self.letters[-1]}{self.n_rows + 1}" if self.n_rows and self.freeze \
            else None

    def widths(self) -> dict[int, float]:
        """1.6 × the longest of the header and the values (at most 60 characters) + 2,
        between 8 and 48."""
        if self.fixed is not None:
            return self.fixed
        return {k: max(8, min(48, max(len(str(h)), n) * 1.6 + 2))
                for k, (h, n) in enumerate(zip(self.headers, self.longest), start=1)}

    def measure(self, longest: list[int]) -> None:
        self.longest = [max(a, b) for a, b in zip(self.longest, longest)]

    def rows_xml(self, rows: list[list], start: int, longest: list[int]) -> str:
        """``<row>`` elements of ``rows`` (values in header order) numbered from
        ``start`` (as :func:`_cell` writes each value; made column by column);
        ``longest`` is raised to the longest ``str(value or "")`` of each column (counted
        up to 60, and not beyond :data:`_WIDEST`, where the width stops)."""
        if not rows:
            return ""
        nums = range(start, start + len(rows))
        columns = []
        for k, col in enumerate(zip(*rows)):
            if longest[k] < _WIDEST:
                shown = [v for v in col if v]
                if shown:
                    longest[k] = max(longest[k], min(max(map(len, map(str, shown))), 60))
            columns.append(self._column_xml(k, col, nums))
        return "".join([f'<row r="{n}">{"".join(cells)}</row>'
                        for n, cells in zip(nums, zip(*columns))])

    def _column_xml(self, k: int, col: tuple, nums: range) -> list[str]:
        c = self.letters[k]
        kinds = set(map(type, col))
        if k != self.pct and kinds <= _NUMBER_KINDS:
            return [f'<c r="{c}{n}"><v>{v:.16g}</v></c>' if v is not None and v - v == 0
                    else "" for n, v in zip(nums, col)]
        if k != self.pct and kinds <= _TEXT_KINDS and not (
                self.styled_header and any("\n" in v for v in col if v)):
            if len(_TEXT_XML) >= 1 << 16:
                _TEXT_XML.clear()
            text = [(_TEXT_XML.get(v) or _TEXT_XML.setdefault(v, xml_text(v))) if v else None
                    for v in col]
            return [f'<c r="{c}{n}" t="inlineStr"><is><t xml:space="preserve">{t}</t></is></c>'
                    if t is not None else "" for n, t in zip(nums, text)]
        styled = self.styled_header
        return [_cell(f"{c}{n}", v, 2 if k == self.pct else
                      3 if styled and isinstance(v, str) and "\n" in v else 0)
                for n, v in zip(nums, col)]

    def head(self) -> str:
        out = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               f'<worksheet {_NS} {_NS_R}><sheetViews><sheetView workbookViewId="0">']
        if self.freeze and len(self.headers) > 2:
            out.append('<pane xSplit="2" ySplit="1" topLeftCell="C2" activePane="bottomRight" '
                       'state="frozen"/><selection pane="bottomRight" activeCell="C2" '
                       'sqref="C2"/>')
        elif self.freeze:
            out.append('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
                       'state="frozen"/><selection pane="bottomLeft" activeCell="A2" '
                       'sqref="A2"/>')
        out.append('</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><cols>')
        out.append("".join(f'<col min="{k}" max="{k}" width="{w:.16g}" customWidth="1"/>'
                           for k, w in sorted(self.widths().items())))
        out.append('</cols><sheetData>')
        head = 1 if self.styled_header else 0
        out.append('<row r="1">' + "".join(_cell(f"{c}1", h, head) for c, h in
                                           zip(self.letters, self.headers)) + "</row>")
        return "".join(out)

    def tail(self) -> str:
        return "</sheetData>" + (f'<autoFilter ref="{self.filter}"/>' if self.filter else "") \
            + ('<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" '
               'footer="0.5"/></worksheet>')


def save_workbook(sheets: list[Sheet], bodies: list[list[Piece]], path: Path) -> Path:
    """Write ``sheets`` as an .xlsx (inline strings, fixed dates: same input, same bytes);
    ``bodies[k]`` are the compressed ``<row>`` elements of sheet ``k``, in order."""
    n = len(sheets)
    names = "".join(f'<sheet name="{xml_text(s.title).replace(chr(34), "&quot;")}" '
                    f'sheetId="{k}" r:id="rId{k}"/>' for k, s in enumerate(sheets, start=1))
    defined = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{k}" hidden="1">'
        f"'{xml_text(s.title).replace(chr(39), chr(39) * 2)}'!"
        f"{_abs_ref(s.filter)}</definedName>" for k, s in enumerate(sheets) if s.filter)
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    stamp = "2000-01-01T00:00:00Z"  # fixed: the same input, the same bytes
    parts = {
        "[Content_Types].xml": head + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-'
            'package.relationships+xml"/><Default Extension="xml" ContentType="application/'
            'xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.styles+xml"/>' + "".join(
                f'<Override PartName="/xl/worksheets/sheet{k}.xml" ContentType="application/'
                f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                for k in range(1, n + 1)) +
            '<Override PartName="/docProps/core.xml" ContentType="application/vnd.'
            'openxmlformats-package.core-properties+xml"/><Override PartName="/docProps/'
            'app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-'
            'properties+xml"/></Types>'),
        "_rels/.rels": head + (
            f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Type="{_REL}/'
            'officeDocument" Target="xl/workbook.xml"/><Relationship Id="rId2" Type="'
            'http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-'
            f'properties" Target="docProps/core.xml"/><Relationship Id="rId3" Type="{_REL}/'
            'extended-properties" Target="docProps/app.xml"/></Relationships>'),
        "docProps/app.xml": head + (
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
            'extended-properties"><Application>towntype</Application></Properties>'),
        "docProps/core.xml": head + (
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
            'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/'
            'XMLSchema-instance"><dc:creator>towntype</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
            '</cp:coreProperties>'),
        "xl/workbook.xml": head + (
            f'<workbook {_NS} {_NS_R}><bookViews><workbookView activeTab="0"/></bookViews>'
            f'<sheets>{names}</sheets>' + (f"<definedNames>{defined}</definedNames>"
                                           if defined else "") + "</workbook>"),
        "xl/_rels/workbook.xml.rels": head + (
            f'<Relationships xmlns="{_PKG}">' + "".join(
                f'<Relationship Id="rId{k}" Type="{_REL}/worksheet" '
                f'Target="worksheets/sheet{k}.xml"/>' for k in range(1, n + 1)) +
            f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
            '</Relationships>'),
        "xl/styles.xml": _STYLES,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    members = [(name, [Piece.of(text.encode("utf-8"), final=True)])
               for name, text in parts.items()]
    members += [(f"xl/worksheets/sheet{k}.xml",
                 [Piece.of(s.head().encode("utf-8"))] + body +
                 [Piece.of(s.tail().encode("utf-8"), final=True)])
                for k, (s, body) in enumerate(zip(sheets, bodies), start=1)]
    write_zip(path, members)
    return path


class Piece:
    """A piece of a zip member's deflate stream, ending on a byte boundary and not the
    last block (``Z_SYNC_FLUSH``), so that pieces compressed apart (by several processes)
    make one stream end to end; with its CRC-32 and sizes."""

    def __init__(self, path: Path | None = None, level: int = 6):
        self.path, self.data = path, b""
        self._file = open(path, "wb") if path is not None else None
        self._z = zlib.compressobj(level, zlib.DEFLATED, -15)
        self.crc = self.size = self.csize = 0

    @classmethod
    def of(cls, data: bytes, *, final: bool = False) -> "Piece":
        piece = cls()
        piece.write(data)
        piece.close(final=final)
        return piece

    def write(self, data: bytes) -> None:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self._out(self._z.compress(data))

    def _out(self, data: bytes) -> None:
        self.csize += len(data)
        if self._file is not None:
            self._file.write(data)
        else:
            self.data += data

    def close(self, final: bool = False) -> None:
        self._out(self._z.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH))
        self._z = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def chunks(self) -> Iterable[bytes]:
        if self.path is None:
            yield self.data
            return
        with open(self.path, "rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk


def _gf2_times(mat: list[int], vec: int) -> int:
    out, k = 0, 0
    while vec:
        if vec & 1:
            out ^= mat[k]
        vec >>= 1
        k += 1
    return out


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of ``a + b`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)`` (zlib's
    ``crc32_combine``: ``crc1`` moved over ``len2`` zero bytes by squaring the GF(2)
    matrix of one zero bit)."""
    if len2 <= 0:
        return crc1
    op = [0xEDB88320] + [1 << k for k in range(31)]  # one zero bit
    for _ in range(3):                                # squared three times: one zero byte
        op = [_gf2_times(op, v) for v in op]
    while len2:                                       # the bits of len2, low to high
        if len2 & 1:
            crc1 = _gf2_times(op, crc1)
        len2 >>= 1
        if len2:
            op = [_gf2_times(op, v) for v in op]
    return crc1 ^ crc2


# fixed member date 1980-01-01 00:00 (DOS date and time), unix permissions rw-------
_DOS_TIME, _DOS_DATE, _ATTRS = 0, (1 << 5) | 1, 0o600 << 16


def write_zip(path: Path, members: list[tuple[str, list[Piece]]]) -> None:
    """A zip of deflated members made of pieces (as ``zipfile`` writes them; beyond
    4 GiB, where the zip needs its 64-bit records, ``zipfile`` writes it)."""
    sizes = [(sum(p.size for p in ps), sum(p.csize for p in ps)) for _, ps in members]
    if sum(c for _, c in sizes) + 100 * len(members) >= 0xFFFFFFFF or \
            any(n >= 0xFFFFFFFF for n, _ in sizes):
        return _write_zip64(path, members)
    central = []
    with open(path, "wb") as f:
        for (name, pieces), (size, csize) in zip(members, sizes):
            crc = 0
            for p in pieces:
                crc = crc32_combine(crc, p.crc, p.size)
            raw = name.encode("ascii")
            head = struct.pack("<HHHHHLLLHH", 20, 0, 8, _DOS_TIME, _DOS_DATE, crc, csize, size,
                               len(raw), 0)
            central.append(b"PK\x01\x02" + struct.pack("<H", 0x314) + head +
                           struct.pack("<HHHLL", 0, 0, 0, _ATTRS, f.tell()) + raw)
            f.write(b"PK\x03\x04" + head + raw)
            for p in pieces:
                for chunk in p.chunks():
                    f.write(chunk)
        start = f.tell()
        f.write(b"".join(central))
        f.write(b"PK\x05\x06" + struct.pack("<HHHHLLH", 0, 0, len(members), len(members),
                                              f.tell() - start, start, 0))


def _write_zip64(path: Path, members: list[tuple[str, list[Piece]]]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for name, pieces in members:
            with z.open(_zip_info(name), "w", force_zip64=True) as out:
                unz = zlib.decompressobj(-15)
                for p in pieces:
                    for chunk in p.chunks():
                        out.write(unz.decompress(chunk))
                out.write(unz.flush())


def _zip_info(name: str) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_DEFLATED
    zi.external_attr = 0o600 << 16
    return zi


def _abs_ref(ref: str) -> str:
    """``A1:P85`` → ``$A$1:$P$85``."""
    return ":".join(re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", p) for p in ref.split(":"))
