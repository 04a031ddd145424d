"""DBF/CSV encodings: detected from bytes, GB18030 not GBK, mojibake refused."""

import pytest

from geo.encoding import (dbf_encoding, detect_bytes, looks_like_mojibake,
                          normalise_encoding_name)
from geo.errors import InputError
from tests.inputs_fixtures import write_dbf


def test_detect_bytes():
    assert detect_bytes("清远市".encode("utf-8")).encoding == "utf-8"
    assert detect_bytes("清远市".encode("gbk")).encoding == "gb18030"
    assert detect_bytes(b"\xef\xbb\xbfabc").encoding == "utf-8-sig"
    assert detect_bytes(b"plain").reason == "plain ASCII"


def test_undecodable_bytes_are_an_error():
    with pytest.raises(InputError, match="neither UTF-8 nor GB18030.*--encoding"):
        detect_bytes(b"\x81\x20\xff\xfe")


def test_gbk_names_normalise_to_gb18030():
    assert normalise_encoding_name("GBK") == "gb18030"
    assert normalise_encoding_name("936") == "gb18030"
    assert normalise_encoding_name("UTF-8") == "utf-8"
    with pytest.raises(InputError, match="unknown encoding"):
        normalise_encoding_name("klingon")


def test_rare_character_needs_gb18030():
    raw = "㮾下镇".encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gbk")
    guess = detect_bytes(raw)
    assert raw.decode(guess.encoding) == "㮾下镇"


@pytest.mark.parametrize("cpg, reason", [
    (None, "no .cpg file"),
    ("UTF-8", "the .cpg says 'UTF-8' but"),
    ("1252", "the .cpg says '1252' but"),
    ("GBK", "the .cpg says GBK and the bytes agree"),
])
def test_dbf_encoding_from_bytes(tmp_path, cpg, reason):
    shp = tmp_path / "t.shp"
    write_dbf(tmp_path / "t.dbf", [("乡镇", 20)], [["连州镇"], ["㮾下镇"]], "gb18030")
    if cpg:
        (tmp_path / "t.cpg").write_text(cpg)
    guess = dbf_encoding(shp)
    assert guess.encoding == "gb18030"
    assert reason in guess.reason


def test_dbf_override(tmp_path):
    write_dbf(tmp_path / "t.dbf", [("NAME", 20)], [["连州镇"]], "utf-8")
    assert dbf_encoding(tmp_path / "t.shp").encoding == "utf-8"
    assert dbf_encoding(tmp_path / "t.shp", override="gbk").encoding == "gb18030"


def test_mojibake_detection():
    garbled = "连州镇".encode("gbk").decode("latin-1")
    assert looks_like_mojibake(garbled)
    assert looks_like_mojibake("连州\ufffd")
    assert not looks_like_mojibake("连州镇")
    assert not looks_like_mojibake("Café")   # one accented letter is not garbage
    assert not looks_like_mojibake("Lianzhou")


def test_big5_is_not_taken_for_gbk():
    text = "統計代碼,鄉鎮\n441882100,連州鎮\n441882101,星子鎮\n441882107,東陂鎮\n"
    raw = text.encode("big5")
    raw.decode("gb18030")                      # valid GB18030 bytes, but nonsense text
    guess = detect_bytes(raw)
    assert guess.encoding == "big5" and "improbable" in guess.reason
    assert raw.decode(guess.encoding) == text


def test_a_few_rare_characters_are_still_gb18030():
    text = "㮾下镇,连州镇,星子镇,东陂镇,九陂镇"
    assert detect_bytes(text.encode("gb18030")).encoding == "gb18030"


def test_utf8_field_name_cut_inside_a_character_is_detected_as_utf8(tmp_path):
    # 统计代码 is 12 bytes in UTF-8: GIS software cuts it to 10, inside 码; the 10 bytes
    # happen to be valid GB18030, which must not win over the trimmed UTF-8
    from geo.encoding import trim_truncated

    cut = "统计代码".encode("utf-8")[:10]
    cut.decode("gb18030")
    assert trim_truncated(cut) == "统计代".encode("utf-8")
    write_dbf(tmp_path / "t.dbf", [("统计代码", 12), ("乡镇", 20)],
              [["441882100", "连州镇"], ["441882101", "星子镇"]], "utf-8")
    assert dbf_encoding(tmp_path / "t.shp").encoding == "utf-8"


def test_the_cpg_settles_a_file_whose_rare_characters_look_improbable(tmp_path):
    """Issue 13: a correct GBK shapefile of one town, 浛洸镇 (英德市), with a .cpg saying
    GBK, was refused — two rare characters in six look like Big5 read as GBK."""
    write_dbf(tmp_path / "t.dbf", [("TOWN", 20), ("COUNTY", 20)], [["浛洸镇", "英德市"]],
              "gb18030")
    with pytest.raises(InputError, match="improbable characters; give the encoding with "
                                         "--boundary-encoding"):
        dbf_encoding(tmp_path / "t.shp")                   # no .cpg: nothing to settle it
    (tmp_path / "t.cpg").write_text("UTF-8")
    with pytest.raises(InputError, match="improbable"):     # a .cpg the bytes do not fit
        dbf_encoding(tmp_path / "t.shp")
    (tmp_path / "t.cpg").write_text("GBK")
    guess = dbf_encoding(tmp_path / "t.shp")
    assert guess.encoding == "gb18030"
    assert guess.reason.startswith("the .cpg says GBK and the bytes decode as gb18030")
