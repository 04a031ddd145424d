/* towntype map runtime: one shared set of town polygons restyled per thematic layer,
 * plus small Leaflet controls (legend, layer switcher, search, fullscreen, info box).
 * No network access: everything this file needs is in the page. */
(function () {
  "use strict";
  var TT = (window.towntype = window.towntype || { maps: [] });

  function esc(s) {
    return String(s === null || s === undefined ? "" : s)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }
  TT.escape = esc;

  /* Geometry is stored once: per feature a list of polygons, each a list of rings, each
   * a flat list of integers [x0, y0, dx1, dy1, ...] in units of 1/scale degree, with the
   * deltas running on through the whole feature (x, y = longitude, latitude). */
  TT.decode = function (geom, scale) {
    var x = 0, y = 0;
    return geom.map(function (poly) {
      return poly.map(function (ring) {
        var out = new Array(ring.length / 2);
        for (var i = 0, j = 0; i < ring.length; i += 2, j++) {
          x += ring[i]; y += ring[i + 1];
          out[j] = L.latLng(y / scale, x / scale);
        }
        return out;
      });
    });
  };

  /* ---- number formatting: the sheets' rules (classify/numfmt.py) ---- */
  var MINUS = "\u2212";
  var UNIT_EN = {
    "元": "yuan", "元/人": "yuan/person", "万元/人": "CNY 10k/person", "人/km2": "persons/km²",
    "人": "persons", "户": "entities", "家": "firms", "个": "", "亩": "mu", "张": "beds",
    "所": "schools", "项": "items", "万人次": "10k visits", "km": "km", "%": "%",
    "是/否": "", "flag": ""
  };
  function commas(s) { return s.replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  /* a (>= 0) rounded half up on its shortest decimal form, as numfmt._half_up */
  function halfUp(a, d) {
    var r = String(a);
    if (r.indexOf("e") >= 0) return commas(a.toFixed(d));
    var parts = r.split("."), whole = parts[0], frac = parts[1] || "";
    var digits;
    if (frac.length > d) {
      digits = (BigInt(whole + frac.slice(0, d)) + (frac.charAt(d) >= "5" ? 1n : 0n)).toString();
    } else {
      digits = BigInt(whole + (frac + "0".repeat(d)).slice(0, d)).toString();
    }
    if (!d) return commas(digits);
    digits = digits.padStart(d + 1, "0");
    return commas(digits.slice(0, -d)) + "." + digits.slice(-d);
  }
  function fmtNumber(v, d, signed) {
    if (!isFinite(v)) return "—";
    var a = Math.abs(v);
    if (d === null || d === undefined) {
      d = (v === Math.round(v) && a < 1e15) ? 0 : a >= 100 ? 0 : a >= 10 ? 1 : 2;
    }
    var text = halfUp(a, d);
    if (Number(text.replace(/,/g, "")) === 0) return text;
    if (v < 0) return MINUS + text;
    return signed ? "+" + text : text;
  }
  TT.fmtNumber = fmtNumber;
  function scaled(v, unit, lang) {
    var a = Math.abs(v);
    if (lang === "zh") {
      if (unit === "万元" && a >= 1e4) return [v / 1e4, "亿元", a < 1e5 ? 2 : 1];
      if (unit === "元" && a >= 1e8) return [v / 1e8, "亿元", 2];
      if (unit === "人" && a >= 1e4) return [v / 1e4, "万人", 2];
      return [v, unit, null];
    }
    if (unit === "万元") {
      var yuan = v * 1e4;
      if (Math.abs(yuan) >= 1e9) return [yuan / 1e9, "CNY bn", 2];
      if (Math.abs(yuan) >= 1e6) return [yuan / 1e6, "CNY m", Math.abs(yuan) < 1e8 ? 1 : 0];
      return [yuan, "CNY", 0];
    }
    if (unit === "万人次") {
      var visits = v * 1e4;
      if (Math.abs(visits) >= 1e6) return [visits / 1e6, "m visits", 2];
      return [visits, "visits", 0];
    }
    if (unit === "元" && a >= 1e6) return [v / 1e6, "CNY m", 2];
    if (unit === "元") return [v, "CNY", 0];
    return [v, unit in UNIT_EN ? UNIT_EN[unit] : unit, null];
  }
  /* numfmt.fmt_value */
  function fmtValue(v, unit, lang) {
    if (v === null || v === undefined) return lang === "zh" ? "缺失" : "missing";
    unit = unit || "";
    if (!isFinite(v)) return "—";
    if (unit === "是/否" || unit === "flag") {
      return lang === "zh" ? (v >= 0.5 ? "是" : "否") : (v >= 0.5 ? "yes" : "no");
    }
    var s = scaled(v, unit, lang), number = fmtNumber(s[0], s[2], false), u = s[1];
    if (!u) return number;
    if (lang === "en" && u.indexOf("CNY") === 0) {
      var sign = number.charAt(0) === MINUS ? MINUS : "", rest = u.split(" ");
      return sign + rest[0] + " " + number.slice(sign.length) + (rest[1] ? " " + rest.slice(1).join(" ") : "");
    }
    if (u === "%") return number + "%";
    return lang === "en" ? number + " " + u : number + u;
  }
  TT.fmtValue = fmtValue;
  function fmtRank(r, n, lang) { return lang === "zh" ? "第" + r + "/" + n : r + "/" + n; }
  TT.fmtRank = fmtRank;

  function coded(col, t) {
    if (!col) return "";
    if (Array.isArray(col)) return col[t];
    var i = col.v[t];
    return i >= 0 ? col.dict[i] : "";
  }

  function TownMap(map) {
    this.map = map;
    this.data = null;
    this.listeners = [];
    this.waiting = [];
  }

  /* fn(tm) now if the data is unpacked, else once it is */
  TownMap.prototype.whenReady = function (fn) {
    if (this.data) fn(this); else this.waiting.push(fn);
  };

  TownMap.prototype.init = function (data) {
    var map = this.map;
    this.data = data;
    this.n = data.n;
    this.renderer = L.canvas({ padding: 0.3, tolerance: 2 });
    this.layersById = {};
    this.ranks = {};
    for (var i = 0; i < data.layers.length; i++) this.layersById[data.layers[i].id] = data.layers[i];
    this.features = new Array(this.n);
    this.group = L.featureGroup();
    var self = this, area = new Float64Array(this.n);
    for (var t = 0; t < this.n; t++) {
      var latlngs = TT.decode(data.geom[t], data.scale);
      var poly = L.polygon(latlngs.length === 1 ? latlngs[0] : latlngs, {
        renderer: this.renderer, weight: 0.6, color: "#ffffff", fillOpacity: 0.85,
        smoothFactor: 0.5
      });
      poly.townIndex = t;
      this.features[t] = poly;
      this.group.addLayer(poly);
      var b = poly.getBounds();
      area[t] = b.isValid() ? (b.getEast() - b.getWest()) * (b.getNorth() - b.getSouth()) : 0;
    }
    // labels are placed largest town first: where two collide, the smaller one is dropped
    this.labelOrder = Array.from({ length: this.n }, function (_, k) { return k; })
      .sort(function (a, b) { return area[b] - area[a] || a - b; });
    // bound once on the group: the content functions receive the town polygon
    this.group.bindTooltip(function (layer) { return self.tooltip(layer.townIndex); }, { sticky: true });
    this.group.bindPopup(function (layer) { return self.popup(layer.townIndex); }, { maxWidth: 380 });
    this.group.addTo(map);
    this.counties = null;
    this.countiesOn = true;
    if (data.counties) {
      var cl = [];
      for (var c = 0; c < data.counties.geom.length; c++) {
        var ll = TT.decode(data.counties.geom[c], data.scale);
        cl.push(L.polygon(ll.length === 1 ? ll[0] : ll, {
          renderer: this.renderer, interactive: false, fill: false, color: "#333333",
          weight: 1.6, opacity: 0.9
        }));
      }
      this.counties = L.layerGroup(cl).addTo(map);
    }
    this.labels = L.layerGroup();
    this.labelsWanted = true;
    map.on("moveend zoomend", function () { self.updateLabels(); });
    this.current = null;
    this.setLayer(data.defaultLayer);
    if (data.bounds) map.fitBounds(data.bounds, { padding: [10, 10], animate: false });
    this.updateLabels();
    TT.maps.push(this);
    var w = this.waiting;
    this.waiting = [];
    for (var k = 0; k < w.length; k++) w[k](this);
  };

  TownMap.prototype.on = function (fn) { this.listeners.push(fn); };

  TownMap.prototype.styleFor = function (layerDef, t) {
    var cls = layerDef.classes[t];
    // a feature without a table row: the no-data grey, outlined dashed (told apart from
    // a grey class)
    var entry = cls >= 0 ? layerDef.legend[cls] :
      (this.data.noRow && this.reason(t) ? this.data.noRow : this.data.noData);
    return {
      fillColor: entry.color, fillOpacity: this.data.fillOpacity,
      color: entry.stroke || "#ffffff", weight: entry.weight || 0.6,
      dashArray: entry.dash || null
    };
  };

  TownMap.prototype.setLayer = function (id) {
    var def = this.layersById[id];
    if (!def) throw new Error("towntype: no thematic layer " + id);
    this.current = def;
    for (var t = 0; t < this.n; t++) this.features[t].setStyle(this.styleFor(def, t));
    for (var i = 0; i < this.listeners.length; i++) this.listeners[i](def);
  };

  TownMap.prototype.setCounties = function (on) {
    if (!this.counties) return;
    this.countiesOn = on;
    if (on) this.counties.addTo(this.map); else this.map.removeLayer(this.counties);
    this.updateLabels();
  };

  TownMap.prototype.setLabels = function (on) { this.labelsWanted = on; this.updateLabels(); };

  /* Town names from the label zoom on, county names below it; a name whose box would
   * overlap one already placed (a larger town's) is left out. */
  TownMap.prototype.updateLabels = function () {
    var map = this.map, d = this.data;
    this.labels.clearLayers();
    var towns = map.getZoom() >= d.labelZoom;
    var cn = d.counties && d.counties.names;
    if (!this.labelsWanted || (!towns && !(cn && this.countiesOn))) {
      map.removeLayer(this.labels);
      return;
    }
    var b = map.getBounds(), size = map.getSize(), placed = {}, shown = 0, cell = 64;
    function free(x0, y0, x1, y1) {
      for (var gx = Math.floor(x0 / cell); gx <= Math.floor(x1 / cell); gx++) {
        for (var gy = Math.floor(y0 / cell); gy <= Math.floor(y1 / cell); gy++) {
          var boxes = placed[gx + ":" + gy];
          if (!boxes) continue;
          for (var i = 0; i < boxes.length; i++) {
            var o = boxes[i];
            if (x0 < o[2] && o[0] < x1 && y0 < o[3] && o[1] < y1) return false;
          }
        }
      }
      return true;
    }
    function take(box) {
      for (var gx = Math.floor(box[0] / cell); gx <= Math.floor(box[2] / cell); gx++) {
        for (var gy = Math.floor(box[1] / cell); gy <= Math.floor(box[3] / cell); gy++) {
          (placed[gx + ":" + gy] = placed[gx + ":" + gy] || []).push(box);
        }
      }
    }
    var self = this;
    function place(ll, text, px, cls) {
      var p = map.latLngToContainerPoint(ll);
      var w = text.length * px + 6, h = px + 6;
      var box = [p.x - w / 2, p.y - h / 2, p.x + w / 2, p.y + h / 2];
      if (box[2] < 0 || box[3] < 0 || box[0] > size.x || box[1] > size.y) return false;
      if (!free(box[0], box[1], box[2], box[3])) return false;
      take(box);
      self.labels.addLayer(L.marker(ll, {
        interactive: false, keyboard: false,
        icon: L.divIcon({ className: cls, html: esc(text), iconSize: null })
      }));
      return true;
    }
    if (towns) {
      var pts = d.labels, order = this.labelOrder;
      for (var k = 0; k < this.n && shown < d.maxLabels; k++) {
        var t = order[k], ll = L.latLng(pts[t][1] / d.scale, pts[t][0] / d.scale);
        if (!b.contains(ll)) continue;
        if (place(ll, d.props.name[t], 11, "tt-label")) shown++;
      }
    } else {
      var cp = d.counties.labels;
      for (var c = 0; c < cn.length; c++) {
        if (cn[c]) place(L.latLng(cp[c][1] / d.scale, cp[c][0] / d.scale), cn[c], 14, "tt-county-label");
      }
    }
    this.labels.addTo(map);
  };

  TownMap.prototype.categoryText = function (t) {
    var cat = this.layersById[this.data.tooltipLayer];
    if (!cat || cat.classes[t] < 0) return "";
    return cat.legend[cat.classes[t]].label;
  };

  TownMap.prototype.county = function (t) { return coded(this.data.props.county, t); };
  TownMap.prototype.reason = function (t) { return coded(this.data.props.reason, t); };

  TownMap.prototype.tooltip = function (t) {
    var p = this.data.props, c = this.county(t);
    return "<b>" + esc(p.name[t]) + "</b>" + (c ? " <span class='tt-muted'>" + esc(c) + "</span>" : "") +
      "<br>" + esc(this.reason(t) || this.categoryText(t));
  };

  /* rank of town t on a value column (1 = largest, ties share the smallest rank) */
  TownMap.prototype.rank = function (col, t) {
    var key = this.data.popup.cols.indexOf(col), r = this.ranks[key];
    if (!r) {
      var v = col.v, idx = [];
      for (var i = 0; i < v.length; i++) if (v[i] !== null && isFinite(v[i])) idx.push(i);
      idx.sort(function (a, b) { return v[b] - v[a]; });
      r = { of: new Int32Array(v.length), n: idx.length };
      for (var j = 0; j < idx.length; j++) {
        r.of[idx[j]] = (j > 0 && v[idx[j]] === v[idx[j - 1]]) ? r.of[idx[j - 1]] : j + 1;
      }
      this.ranks[key] = r;
    }
    return [r.of[t], r.n];
  };

  /* the text of one popup column for town t ("" when it has none) */
  TownMap.prototype.cell = function (col, t) {
    var lang = this.data.lang, v = col.v[t];
    switch (col.kind) {
      case "score": return v === null ? "" : fmtNumber(v, 1);
      case "rank": return v === null ? "" : fmtRank(v, col.n, lang);
      case "share": return v === null ? "" : Math.floor(v * 100 + 0.5) + "%";
      case "text": return coded(col, t);
      case "towns": return v.map(function (i) { return col.dict[i]; }).join(lang === "zh" ? "、" : ", ");
      case "value":
        if (v === null) return "";
        if (col.unit === "是/否" || col.unit === "flag") return fmtValue(v, col.unit, lang);
        var r = this.rank(col, t), rk = fmtRank(r[0], r[1], lang);
        return fmtValue(v, col.unit, lang) + (lang === "zh" ? "（" + rk + "）" : " (" + rk + ")");
    }
    return v === null || v === undefined ? "" : String(v);
  };

  TownMap.prototype.popup = function (t) {
    var d = this.data, p = d.props, c = this.county(t), reason = this.reason(t);
    var html = "<div class='tt-popup'><h4>" + esc(p.name[t]) + "</h4><div class='tt-muted'>" +
      esc((c ? c + " · " : "") + p.code[t]) + "</div>";
    if (reason) return html + "<div class='tt-reason'><i class='tt-nodata'></i>" + esc(reason) + "</div></div>";
    html += "<div class='tt-cat'>" + esc(this.categoryText(t)) + "</div><table>";
    var cols = d.popup.cols, group = null;
    for (var i = 0; i < cols.length; i++) {
      var col = cols[i], text = this.cell(col, t);
      if (col.group && col.group !== group) {
        group = col.group;
        html += "<tr><th colspan='2'><h5>" + esc(group) + "</h5></th></tr>";
      }
      if (!text) {
        if (col.kind !== "value") continue;
        text = d.i18n.missing;
      }
      html += "<tr><th>" + esc(col.label) + "</th><td>" + esc(text) + "</td></tr>";
    }
    html += "</table>";
    var sheet = p.sheet ? p.sheet[t] : p.code[t];
    if (d.links && sheet) {   // a town without a sheet gets no link
      html += "<a class='tt-link' href='" + esc(d.links.replace("{town_code}", sheet)) +
        "'>" + esc(d.i18n.suggestions) + "</a>";
    } else if (d.links && !reason) {   // a town whose sheet was not made (--sheets)
      html += "<p class='tt-nosheet'>" + esc(d.i18n.no_sheet.replace("{county}", c || "")) +
        "</p>";
    }
    return html + "</div>";
  };

  TownMap.prototype.search = function (query, limit) {
    var q = String(query || "").trim().toLowerCase().replace(/\s+/g, "");
    var out = [], p = this.data.props;
    if (!q) return out;
    limit = limit || 10;
    for (var t = 0; t < this.n && out.length < limit; t++) {
      if (p.name[t].toLowerCase().indexOf(q) >= 0 ||
          (p.pinyin && p.pinyin[t].indexOf(q) === 0) ||
          (p.initials && p.initials[t].indexOf(q) === 0)) out.push(t);
    }
    return out;
  };

  TownMap.prototype.select = function (t) {
    var f = this.features[t];
    if (!f.getBounds().isValid()) return;  // a town too small to draw at this precision
    this.map.fitBounds(f.getBounds(), { maxZoom: Math.max(this.data.labelZoom, this.map.getZoom()) });
    L.popup({ maxWidth: 380 }).setLatLng(f.getBounds().getCenter())
      .setContent(this.popup(t)).openOn(this.map);
  };

  function b64bytes(text) {
    var bin = atob(text.replace(/\s+/g, "")), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  /* The payload: JSON, or gzip in base64 unpacked by the browser (DecompressionStream) */
  TT.create = function (map, dataId) {
    var el = document.getElementById(dataId), tm = new TownMap(map);
    if (el.type === "application/json") {
      tm.init(JSON.parse(el.textContent));
      return tm;
    }
    if (typeof DecompressionStream === "undefined") {
      var msg = L.DomUtil.create("div", "tt-control tt-notice", map.getContainer());
      msg.style.cssText = "position:absolute;top:40%;left:10%;right:10%;z-index:1000;padding:12px";
      msg.textContent = el.getAttribute("data-unsupported") ||
        "此浏览器无法解压地图数据，请用新版 Chrome、Edge、Firefox 或 Safari 打开 " +
        "(this browser cannot unpack the map data: open it in a current browser)";
      return tm;
    }
    var stream = new Blob([b64bytes(el.textContent)]).stream()
      .pipeThrough(new DecompressionStream("gzip"));
    new Response(stream).text().then(function (text) { tm.init(JSON.parse(text)); });
    return tm;
  };

  /* a control bound to a town map: built once the map's data is unpacked */
  function control(position, className, build, tm) {
    var C = L.Control.extend({
      onAdd: function () {
        var div = L.DomUtil.create("div", "tt-control leaflet-bar " + className);
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        if (tm) tm.whenReady(function () { build(div); }); else build(div);
        return div;
      }
    });
    return new C({ position: position });
  }

  TT.legend = function (tm, opts) {
    return control(opts.position || "bottomright", "tt-legend", function (div) {
      function render(def) {
        var html = "<div class='tt-legend-title'>" + esc(def.label) + "</div>";
        if (def.note) html += "<div class='tt-muted'>" + esc(def.note) + "</div>";
        html += "<ul>";
        for (var i = 0; i < def.legend.length; i++) {
          var e = def.legend[i];
          html += "<li data-class='" + i + "'><i style='background:" + esc(e.color) +
            (e.stroke ? ";border:2px " + (e.dash ? "dashed " : "solid ") + esc(e.stroke) : "") +
            "'></i><span class='tt-legend-label'>" + esc(e.label) + "</span> <span class='tt-count'>" +
            e.count + "</span></li>";
        }
        if (def.missing) {
          html += "<li data-class='-1'><i style='background:" + esc(tm.data.noData.color) +
            "'></i><span class='tt-legend-label'>" + esc(tm.data.i18n.no_data) +
            "</span> <span class='tt-count'>" + def.missing + "</span></li>";
        }
        if (tm.data.unjoined) {
          var nr = tm.data.noRow || tm.data.noData;
          html += "<li data-class='-2'><i style='background:" + esc(nr.color) +
            (nr.stroke ? ";border:1px dashed " + esc(nr.stroke) : "") + "'></i><span class='tt-legend-label'>" + esc(tm.data.i18n.no_row) +
            "</span> <span class='tt-count'>" + tm.data.unjoined + "</span></li>";
        }
        div.innerHTML = html + "</ul>";
      }
      tm.on(render);
      render(tm.current);
    }, tm);
  };

  TT.layerSwitcher = function (tm, opts) {
    return control(opts.position || "topright", "tt-layers", function (div) {
      var d = tm.data, html = "<div class='tt-legend-title'>" + esc(d.i18n.layers) + "</div>";
      var name = "tt-layer-" + Math.random().toString(36).slice(2);
      for (var i = 0; i < d.layers.length; i++) {
        var l = d.layers[i];
        html += "<label><input type='radio' name='" + name + "' value='" + esc(l.id) + "'" +
          (l.id === tm.current.id ? " checked" : "") + "> " + esc(l.label) + "</label>";
      }
      html += "<hr>";
      if (tm.counties) html += "<label><input type='checkbox' class='tt-counties' checked> " + esc(d.i18n.counties) + "</label>";
      html += "<label><input type='checkbox' class='tt-labels' checked> " + esc(d.i18n.labels) + "</label>";
      div.innerHTML = html;
      div.addEventListener("change", function (ev) {
        var el = ev.target;
        if (el.type === "radio") tm.setLayer(el.value);
        else if (el.className === "tt-counties") tm.setCounties(el.checked);
        else if (el.className === "tt-labels") tm.setLabels(el.checked);
      });
    }, tm);
  };

  TT.search = function (tm, opts) {
    return control(opts.position || "topleft", "tt-search", function (div) {
      div.innerHTML = "<input type='search' class='tt-search-input' placeholder='" +
        esc(tm.data.i18n.search) + "'><ul class='tt-search-results'></ul>";
      var input = div.querySelector("input"), list = div.querySelector("ul");
      function show() {
        var hits = tm.search(input.value, 10), html = "";
        for (var i = 0; i < hits.length; i++) {
          var t = hits[i];
          html += "<li data-town='" + t + "'>" + esc(tm.data.props.name[t]) +
            (tm.county(t) ? " <span class='tt-muted'>" + esc(tm.county(t)) + "</span>" : "") + "</li>";
        }
        if (input.value && !hits.length) html = "<li class='tt-muted'>" + esc(tm.data.i18n.not_found) + "</li>";
        list.innerHTML = html;
      }
      input.addEventListener("input", show);
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") {
          var hits = tm.search(input.value, 1);
          if (hits.length) { tm.select(hits[0]); list.innerHTML = ""; }
        }
      });
      list.addEventListener("click", function (ev) {
        var li = ev.target.closest("li[data-town]");
        if (li) { tm.select(Number(li.getAttribute("data-town"))); list.innerHTML = ""; }
      });
    }, tm);
  };

  TT.fullscreen = function (tm, opts) {
    return control(opts.position || "topleft", "tt-fullscreen", function (div) {
      div.innerHTML = "<a href='#' role='button' title='" + esc(tm.data.i18n.fullscreen) +
        "'><svg width='16' height='16' viewBox='0 0 16 16' fill='none' stroke='#222' " +
        "stroke-width='2'><path d='M1 6V1h5M10 1h5v5M15 10v5h-5M6 15H1v-5'/></svg></a>";
      div.firstChild.addEventListener("click", function (ev) {
        ev.preventDefault();
        var el = tm.map.getContainer();
        if (document.fullscreenElement) document.exitFullscreen();
        else if (el.requestFullscreen) el.requestFullscreen();
      });
      document.addEventListener("fullscreenchange", function () { tm.map.invalidateSize(); });
    }, tm);
  };

  TT.infoBox = function (tm, opts) {
    return control(opts.position || "bottomleft", "tt-info", function (div) {
      var html = "<div class='tt-title'>" + esc(opts.title) + "</div>";
      if (opts.subtitle) html += "<div class='tt-subtitle'>" + esc(opts.subtitle) + "</div>";
      if (opts.notice) html += "<div class='tt-notice'>" + esc(opts.notice) + "</div>";
      html += "<div class='tt-muted'>" + esc(opts.meta) + "</div>";
      for (var i = 0; i < opts.attribution.length; i++) {
        html += "<div class='tt-attr'>" + esc(opts.attribution[i]) + "</div>";
      }
      div.innerHTML = html;
    }, tm);
  };
})();
