"""Text encodings of Chinese input files: detect from raw bytes, refuse mojibake.

Decided from the bytes: strict UTF-8 first (GBK text almost never decodes as valid
UTF-8), then GB18030, a superset of GBK that has the rare characters of place names (㮾
is not in GBK).  Text that still looks like Latin-1 garbage (``ÇåÔ¶``) is refused.
"""

from __future__ import annotations

import codecs
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from geo.errors import InputError
from geo.shapefile import sidecar

__all__ = ["EncodingGuess", "detect_bytes", "dbf_encoding", "read_cpg", "dbf_text_bytes",
           "trim_truncated", "looks_like_mojibake", "check_text", "normalise_encoding_name"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ffff]")
_LATIN1_GARBAGE = re.compile(r"[\u00c0-\u00ff\u0080-\u009f]")
#: .cpg spellings Python's codec registry does not know (or reads otherwise: 950 → Big5)
_CPG_ALIASES = {"65001": "utf-8", "ansi 936": "gbk", "ansi 1252": "cp1252", "88591": "latin-1",
                "8859_1": "latin-1", "iso88591": "latin-1", "950": "big5"}


@dataclass(frozen=True)
class EncodingGuess:
    """The encoding used and a sentence saying why (for the report)."""

    encoding: str
    reason: str
    #: Set when the choice contradicts a source the user should know about (the .cpg).
    warning: str = ""


def normalise_encoding_name(name: str) -> str:
    """Canonical codec name; GBK/GB2312 widen to GB18030 (a superset) for decoding."""
    key = str(name).strip().lower()
    key = _CPG_ALIASES.get(key, key)
    try:
        key = codecs.lookup(key).name
    except LookupError:
        raise InputError(f"unknown encoding {name!r}; use e.g. --encoding gb18030 or utf-8") \
            from None
    return "gb18030" if key in ("gbk", "gb2312", "cp936") else key


def detect_bytes(data: bytes) -> EncodingGuess:
    """Guess the encoding of raw text bytes: ASCII/UTF-8, then GB18030.

    Raises
    ------
    geo.errors.InputError
        When the bytes are neither (no path: callers add it).
    """
    if data.startswith(codecs.BOM_UTF8):
        return EncodingGuess("utf-8-sig", "UTF-8 byte-order mark")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export
        return EncodingGuess("utf-16", "UTF-16 byte-order mark")
    if data.isascii():
        return EncodingGuess("utf-8", "plain ASCII")
    try:
        data.decode("utf-8")
        return EncodingGuess("utf-8", "the bytes are valid UTF-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the text is neither UTF-8 nor GB18030/GBK (invalid byte at offset {exc.start}); "
            "give the encoding with --encoding") from None
    if not _CJK.search(text):
        raise InputError("the text is not UTF-8 and does not decode to Chinese as GB18030; "
                         "give the encoding with --encoding")
    if _common_share(text) < 0.8:
        # GBK decoding of Big5 bytes gives valid but improbable characters (㮾-like rarities
        # are a few per file, not a third of the text): judge by the decoded text.
        try:
            big5 = data.decode("big5")
        except UnicodeDecodeError:
            big5 = None
        if big5 is not None and _CJK.search(big5):
            return EncodingGuess("big5", "not UTF-8; as GB18030 it gives improbable "
                                         "characters, as Big5 (traditional) it decodes cleanly")
        raise InputError("the text decodes as GB18030 only to improbable characters; give "
                         "the encoding with --encoding")
    return EncodingGuess("gb18030", "not UTF-8; decodes cleanly as GB18030 (GBK superset) "
                                    "to Chinese text")


def _common_share(text: str) -> float:
    """Share of the CJK characters that are in GB2312 (the 6,763 common hanzi)."""
    chars = _CJK.findall(text)
    if len(chars) < 4:
        return 1.0
    return sum(bool(ch.encode("gb2312", errors="ignore")) for ch in chars) / len(chars)


def looks_like_mojibake(text: str) -> bool:
    """True for text that looks like bytes of Chinese decoded as Latin-1/CP1252.

    Also catches the replacement character left by lossy decoding.
    """
    if not text:
        return False
    if "\ufffd" in text:
        return True
    garbage = len(_LATIN1_GARBAGE.findall(text))
    return garbage >= 2 and garbage >= 0.3 * len(text.strip()) and not _CJK.search(text)


def check_text(values, *, path=None, column=None, what="text", rows=None,
               flag: str = "--encoding") -> None:
    """Raise when any value looks like mojibake; the message names the first one.

    ``rows`` gives file row numbers (tables); otherwise the position is a feature index.
    """
    for i, value in enumerate(values):
        if isinstance(value, str) and looks_like_mojibake(value):
            where = ({"row": rows[i]} if rows is not None else
                     {"feature": i} if column is not None else {})
            raise InputError(
                f"{what} {value!r} looks garbled (Chinese decoded with the wrong encoding); "
                f"give the right one with {flag} (e.g. gb18030 or utf-8)",
                path=path, column=column, **where)


def read_cpg(path: str | Path) -> str | None:
    """The encoding named by a shapefile's ``.cpg`` sidecar, or None."""
    cpg = sidecar(Path(path), ".cpg")
    if cpg is None:
        return None
    return cpg.read_text("ascii", errors="replace").strip() or None


def dbf_text_bytes(dbf_path: str | Path, *, max_records: int = 5000) -> bytes:
    """Field names and character-field bytes of a DBF file, joined (for detection)."""
    with open(dbf_path, "rb") as fh:
        head = fh.read(32)
        n_records, header_len, record_len = struct.unpack("<IHH", head[4:12])
        descriptors = fh.read(header_len - 32)
        fields, pos, chunks = [], 0, []
        while pos + 32 <= len(descriptors) and descriptors[pos] != 0x0D:
            d = descriptors[pos:pos + 32]
            chunks.append(trim_truncated(d[:11].split(b"\0", 1)[0]))
            fields.append((chr(d[11]), d[16]))
            pos += 32
        fh.seek(header_len)
        for _ in range(min(n_records, max_records)):
            record = fh.read(record_len)
            if len(record) < record_len:
                break
            offset = 1
            for ftype, flen in fields:
                if ftype in "CM":
                    chunks.append(trim_truncated(record[offset:offset + flen].rstrip(b" \0"),
                                                 width=flen))
                offset += flen
    return b"\n".join(chunks)


def trim_truncated(name: bytes, encoding: str | None = None, width: int = 10) -> bytes:
    """Bytes cut at a DBF width (10 for field names) may end in half a character: drop it.

    With ``encoding`` None, UTF-8 and GB18030 are both tried.
    """
    if len(name) < width or not name or name[-1] < 0x80:
        return name
    # UTF-8 first, over every cut: a UTF-8 name cut inside a character is often still
    # "valid" GB18030 bytes, while GB18030 bytes are almost never valid UTF-8
    encodings = [encoding] if encoding else ["utf-8", "gb18030"]
    for enc in encodings:
        for k in range(0, 4):
            try:
                name[:len(name) - k].decode(enc)
                return name[:len(name) - k]
            except UnicodeDecodeError:
                continue
    return name


def dbf_encoding(shp_path: str | Path, *, override: str = "auto") -> EncodingGuess:
    """Encoding of a shapefile's attributes, from the DBF bytes (``.cpg`` is checked).

    Parameters
    ----------
    shp_path : path
        The ``.shp`` (or ``.dbf``) file.
    override : str
        ``"auto"`` to detect, or an encoding name from ``--encoding``.
    """
    shp_path = Path(shp_path)
    dbf = sidecar(shp_path, ".dbf")
    cpg = read_cpg(shp_path)
    if override != "auto":
        return _given_encoding(override, cpg, dbf, shp_path)
    if dbf is None:
        return EncodingGuess("utf-8", "no .dbf file")
    data = dbf_text_bytes(dbf)
    try:
        guess = detect_bytes(data)
    except InputError as exc:
        guess = _declared_fits(cpg, data)
        if guess is None:
            raise InputError(exc.message.replace("--encoding", "--boundary-encoding"),
                             path=dbf) from None
        return guess
    if cpg is None:
        return EncodingGuess(guess.encoding, f"no .cpg file; {guess.reason}")
    try:
        declared = normalise_encoding_name(cpg)
    except InputError:
        declared = cpg
    same = declared == guess.encoding or guess.reason == "plain ASCII" or (
        declared.startswith("utf") and guess.encoding.startswith("utf"))
    if same:
        return EncodingGuess(declared if guess.reason == "plain ASCII" else guess.encoding,
                             f"the .cpg says {cpg} and the bytes agree")
    return EncodingGuess(guess.encoding,
                         f"the .cpg says {cpg!r} but {guess.reason}; used {guess.encoding}",
                         warning=f"编码与 .cpg 不一致（the .cpg is contradicted by the bytes）: "
                                 f"the .cpg says {cpg} but the .dbf text is {guess.encoding} "
                                 f"({guess.reason}); used {guess.encoding} — if that is wrong, "
                                 "give --boundary-encoding")


def _declared_fits(cpg: str | None, data: bytes) -> EncodingGuess | None:
    """The ``.cpg``'s encoding when detection could not decide (rare characters such as
    浛洸镇 look improbable) and the bytes decode under it, else None."""
    if cpg is None:
        return None
    try:
        declared = normalise_encoding_name(cpg)
        data.decode(declared)
    except (InputError, LookupError, UnicodeDecodeError):
        return None
    return EncodingGuess(declared, f"the .cpg says {cpg} and the bytes decode as {declared} "
                                   "(rare characters: detection alone could not tell)")


def _given_encoding(override: str, cpg: str | None, dbf: Path | None,
                    shp_path: Path) -> EncodingGuess:
    """``--boundary-encoding`` against the ``.cpg``: followed, with a warning when the
    ``.cpg`` names another — unless the ``.cpg`` and the bytes agree against it: stop."""
    given = normalise_encoding_name(override)
    reason = "given with --boundary-encoding"
    if cpg is None:
        return EncodingGuess(given, reason)
    try:
        declared = normalise_encoding_name(cpg)
    except InputError:
        declared = cpg.lower()
    if declared.replace("-sig", "") == given.replace("-sig", ""):
        return EncodingGuess(given, f"{reason}; the .cpg says {cpg} too")
    detected = None
    if dbf is not None:
        try:
            detected = detect_bytes(dbf_text_bytes(dbf))
        except InputError:
            detected = None
    if detected is not None and detected.reason != "plain ASCII" and (
            detected.encoding.replace("-sig", "") == declared.replace("-sig", "")):
        raise InputError(
            f"编码与 .cpg 冲突（encoding contradicts the .cpg）: --boundary-encoding {override} "
            f"was given, but the .cpg says {cpg} and the .dbf bytes are {detected.encoding} "
            f"({detected.reason}); the names would be garbled — leave --boundary-encoding out "
            "(auto), or correct the .cpg if the file really is in " + override,
            path=shp_path.with_suffix(".cpg"))
    return EncodingGuess(given, f"{reason} (the .cpg says {cpg})",
                         warning=f"边界编码与 .cpg 不一致（boundary encoding differs from the "
                                 f".cpg）: used {given} as given with --boundary-encoding; the "
                                 f".cpg says {cpg}")
