"""Folium elements of the towntype map: one class per Leaflet object, each with a Jinja2
``_template`` (the folium/plugins pattern), and no external links.

Leaflet comes from the installed ``django-js-lib-leaflet`` package and our runtime from
``geo/assets``, both inlined (:class:`InlineAssets`); the controls talk to
:class:`TownLayer` through its JavaScript object.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from functools import lru_cache
from importlib import resources

import folium
from branca.element import Element, MacroElement
from jinja2 import Template

__all__ = ["OfflineMap", "InlineAssets", "TownLayer", "Legend", "LayerSwitcher", "Search",
           "Fullscreen", "InfoBox", "ScaleBar", "leaflet_assets", "towntype_assets"]


@lru_cache(maxsize=1)
def leaflet_assets() -> tuple[str, str]:
    """Leaflet's JavaScript and CSS from the installed package, CSS images as data URIs.

    Returns
    -------
    (js, css) : tuple of str
    """
    try:
        root = resources.files("js_lib_leaflet").joinpath("static", "js_lib_leaflet")
        js = root.joinpath("leaflet.js").read_text(encoding="utf-8")
        css = root.joinpath("leaflet.css").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ModuleNotFoundError(
            "the offline map inlines Leaflet from the Python package "
            "'django-js-lib-leaflet' (module js_lib_leaflet), which is missing: "
            "pip install django-js-lib-leaflet") from exc
    # the source map is only for developer tools; a comment pointing at it invites a request
    js = re.sub(r"//# sourceMappingURL=\S+", "", js)

    def data_uri(match: re.Match) -> str:
        name = match.group(1)
        data = root.joinpath("images", name).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", data_uri, css)
    return js, css


@lru_cache(maxsize=1)
def towntype_assets() -> tuple[str, str]:
    """Our own runtime (``geo/assets/towntype.js`` and ``.css``)."""
    root = resources.files("geo").joinpath("assets")
    return (root.joinpath("towntype.js").read_text(encoding="utf-8"),
            root.joinpath("towntype.css").read_text(encoding="utf-8"))


def _inline_safe(text: str, tag: str) -> str:
    """Make text safe inside an inline ``<script>`` or ``<style>`` element (only
    ``</script`` or ``</style`` would end it; ``<\\/`` means ``</`` in JavaScript strings
    and regular expressions alike)."""
    return re.sub(rf"</({tag})", r"<\\/\1", text, flags=re.IGNORECASE)


class _Verbatim(Element):
    """Text put into the page as it is."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


class _Macro(MacroElement):
    """A :class:`MacroElement` named after its class whose rendered macros go into the
    page verbatim: branca would compile each as a Jinja2 template (megabytes of payload
    parsed a second time, ``{{`` in a town name or title evaluated)."""

    def __init__(self):
        super().__init__()
        self._name = type(self).__name__

    def render(self, **kwargs):
        figure = self.get_root()
        macros = self._template.module.__dict__
        for name, section in (("header", figure.header), ("html", figure.html),
                              ("script", figure.script)):
            if macros.get(name) is not None:
                section.add_child(_Verbatim(macros[name](self, kwargs)), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)


class OfflineMap(folium.Map):
    """A :class:`folium.Map` without folium's CDN links (Leaflet, jQuery, Bootstrap, …).

    Add an :class:`InlineAssets` child (``town_map`` does) so Leaflet is in the page.
    """

    default_js: list = []
    default_css: list = []


class InlineAssets(_Macro):
    """Leaflet and the towntype runtime, inlined into the page header."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>{{ this.css }}</style>
        <script>{{ this.js }}</script>
        {% endmacro %}
        """
    )

    def __init__(self):
        super().__init__()
        leaflet_js, leaflet_css = leaflet_assets()
        own_js, own_css = towntype_assets()
        self.css = _inline_safe(leaflet_css + "\n" + own_css, "style")
        self.js = _inline_safe(leaflet_js + "\n" + own_js, "script")


class TownLayer(_Macro):
    """The town polygons, drawn once on a canvas and restyled per thematic layer.

    Parameters
    ----------
    data : dict
        The payload built by :func:`geo.maps.town_map` (geometry, attributes, layers).
        It is embedded as a JSON ``<script>`` block and parsed once in the browser.
    compress : bool, optional
        Embed it gzip-compressed as base64 (type :attr:`GZIP_MIME`), unpacked by the
        browser's ``DecompressionStream``; ``None``: from :attr:`COMPRESS_FROM` characters
        (small maps stay plain JSON, readable by any browser and by text search).
    """

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <script type="{{ this.mime }}" id="{{ this.get_name() }}_data">{{ this.payload }}</script>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = towntype.create(
                {{ this._parent.get_name() }}, "{{ this.get_name() }}_data");
        {% endmacro %}
        """
    )

    #: MIME type of a gzip-compressed, base64-encoded payload
    GZIP_MIME = "application/x-towntype+gzip;base64"
    #: Payloads from this many characters of JSON are compressed when ``compress`` is None.
    COMPRESS_FROM = 2_000_000

    def __init__(self, data: dict, *, compress: bool | None = False):
        super().__init__()
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if compress is None:
            compress = len(text) >= self.COMPRESS_FROM
        if compress:
            # mtime 0: the same towns give the same page.  Level 4, not zlib's default 6:
            # a quarter of the time for a few per cent more bytes
            packed = gzip.compress(text.encode("utf-8"), compresslevel=4, mtime=0)
            self.mime, self.payload = self.GZIP_MIME, base64.b64encode(packed).decode("ascii")
        else:
            # "</" only occurs inside JSON strings, where "<\\/" is an equivalent escape
            self.mime, self.payload = "application/json", text.replace("</", "<\\/")


class _Control(_Macro):
    """A towntype control bound to a :class:`TownLayer`: ``towntype.<factory>(tm, opts)``,
    the factory named after the class (``LayerSwitcher`` → ``layerSwitcher``)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = towntype.{{ this._factory }}(
                {{ this.town_layer.get_name() }}, {{ this.options_json }}
            ).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, town_layer: TownLayer, **options):
        super().__init__()
        self._factory = self._name[0].lower() + self._name[1:]
        self.town_layer = town_layer
        self.options = {k: v for k, v in options.items() if v is not None}
        # readable Chinese in the page; "<\/" keeps "</script>" in a title harmless
        self.options_json = json.dumps(self.options, ensure_ascii=False).replace("</", "<\\/")


class Legend(_Control):
    """Legend of the visible thematic layer: classes, colours, breaks and counts."""


class LayerSwitcher(_Control):
    """Radio buttons for the thematic layers plus county-outline and label switches."""


class Search(_Control):
    """Search box: town names in Chinese, full pinyin or pinyin initials."""


class Fullscreen(_Control):
    """Full-screen button using the browser's Fullscreen API."""


class InfoBox(_Control):
    """Title, subtitle, notice, date, basemap and datum, data-source attribution."""


class ScaleBar(_Macro):
    """Leaflet's own scale control (metric)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.control.scale({imperial: false, position: {{ this.position|tojson }}})
                .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, position: str = "bottomleft"):
        super().__init__()
        self.position = position

