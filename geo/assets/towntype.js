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

  function TownMap(map, data) {
    this.map = map;
    this.data = data;
    this.n = data.n;
    this.listeners = [];
    this.renderer = L.canvas({ padding: 0.3, tolerance: 2 });
    this.layersById = {};
    for (var i = 0; i < data.layers.length; i++) this.layersById[data.layers[i].id] = data.layers[i];
    this.features = new Array(this.n);
    this.group = L.featureGroup();
    var self = this;
    for (var t = 0; t < this.n; t++) {
      var latlngs = TT.decode(data.geom[t], data.scale);
      var poly = L.polygon(latlngs.length === 1 ? latlngs[0] : latlngs, {
        renderer: this.renderer, weight: 0.6, color: "#ffffff", fillOpacity: 0.85,
        smoothFactor: 0.5
      });
      poly.townIndex = t;
      this.features[t] = poly;
      this.group.addLayer(poly);
    }
    // bound once on the group: the content functions receive the town polygon
    this.group.bindTooltip(function (layer) { return self.tooltip(layer.townIndex); }, { sticky: true });
    this.group.bindPopup(function (layer) { return self.popup(layer.townIndex); }, { maxWidth: 360 });
    this.group.addTo(map);
    this.counties = null;
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
  }

  TownMap.prototype.on = function (fn) { this.listeners.push(fn); };

  TownMap.prototype.styleFor = function (layerDef, t) {
    var cls = layerDef.classes[t];
    var entry = cls >= 0 ? layerDef.legend[cls] : this.data.noData;
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
    if (on) this.counties.addTo(this.map); else this.map.removeLayer(this.counties);
  };

  TownMap.prototype.setLabels = function (on) { this.labelsWanted = on; this.updateLabels(); };

  TownMap.prototype.updateLabels = function () {
    var map = this.map, d = this.data;
    this.labels.clearLayers();
    if (!this.labelsWanted || map.getZoom() < d.labelZoom) {
      map.removeLayer(this.labels);
      return;
    }
    var b = map.getBounds(), shown = 0, pts = d.labels;
    for (var t = 0; t < this.n && shown < d.maxLabels; t++) {
      var ll = L.latLng(pts[t][1] / d.scale, pts[t][0] / d.scale);
      if (!b.contains(ll)) continue;
      this.labels.addLayer(L.marker(ll, {
        interactive: false, keyboard: false,
        icon: L.divIcon({ className: "tt-label", html: esc(d.props.name[t]), iconSize: null })
      }));
      shown++;
    }
    this.labels.addTo(map);
  };

  TownMap.prototype.categoryText = function (t) {
    var cat = this.layersById[this.data.tooltipLayer];
    if (!cat || cat.classes[t] < 0) return "";
    return cat.legend[cat.classes[t]].label;
  };

  TownMap.prototype.tooltip = function (t) {
    var p = this.data.props;
    return "<b>" + esc(p.name[t]) + "</b>" + (p.county ? " <span class='tt-muted'>" + esc(p.county[t]) + "</span>" : "") +
      "<br>" + esc(this.categoryText(t));
  };

  TownMap.prototype.popup = function (t) {
    var d = this.data, p = d.props, rows = [];
    for (var i = 0; i < d.info.length; i++) {
      var col = d.info[i], v = col.values[t];
      if (v === null || v === undefined || v === "") continue;
      rows.push("<tr><th>" + esc(col.label) + "</th><td>" + esc(v) + "</td></tr>");
    }
    var html = "<div class='tt-popup'><h4>" + esc(p.name[t]) + "</h4><div class='tt-muted'>" +
      esc((p.county ? p.county[t] + " · " : "") + p.code[t]) + "</div>" +
      "<div class='tt-cat'>" + esc(this.categoryText(t)) + "</div>" +
      "<table>" + rows.join("") + "</table>";
    if (d.links) {
      html += "<a class='tt-link' href='" + esc(d.links.replace("{town_code}", p.sheet ? p.sheet[t] : p.code[t])) +
        "'>" + esc(d.i18n.suggestions) + "</a>";
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
    L.popup({ maxWidth: 360 }).setLatLng(f.getBounds().getCenter())
      .setContent(this.popup(t)).openOn(this.map);
  };

  TT.create = function (map, dataId) {
    var el = document.getElementById(dataId);
    return new TownMap(map, JSON.parse(el.textContent));
  };

  function control(position, className, build) {
    var C = L.Control.extend({
      onAdd: function () {
        var div = L.DomUtil.create("div", "tt-control leaflet-bar " + className);
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        build(div);
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
        div.innerHTML = html + "</ul>";
      }
      tm.on(render);
      render(tm.current);
    });
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
    });
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
            (tm.data.props.county ? " <span class='tt-muted'>" + esc(tm.data.props.county[t]) + "</span>" : "") + "</li>";
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
    });
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
    });
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
    });
  };
})();
