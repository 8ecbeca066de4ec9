/* The one map (一张图): region-wide layers, then the sites the user may see coloured by
   their latest water class or AQI. Data: /web-api/map/layers.json and sites.json. */
(function () {
  "use strict";
  var el = document.getElementById("map");
  var T = JSON.parse(document.getElementById("map-text").textContent);
  var english = (document.documentElement.lang || "").indexOf("en") === 0;
  var NO_DATA = JSON.parse(document.getElementById("legend-data").textContent).no_data;
  var map = L.map(el, { preferCanvas: false, zoomSnap: 0.25 }).setView([31.15, 120.95], 10);
  if (el.dataset.tileUrl) {  // only an intranet tile server configured by GONGZHI_TILE_URL
    L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || "", maxZoom: 18 }).addTo(map);
  }
  function nm(p) { return english && p.name_en ? p.name_en : p.name; }
  function esc(s) { return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; }); }

  var groups = {
    jurisdictions: L.featureGroup().addTo(map),
    bands: L.featureGroup().addTo(map),
    waters: L.featureGroup().addTo(map),
    borders: L.featureGroup().addTo(map),
    sites: L.featureGroup().addTo(map)
  };
  var control = L.control.layers(null, null, { collapsed: false }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);

  fetch("/web-api/map/layers.json", { credentials: "same-origin" }).then(function (r) {
    if (!r.ok) throw new Error(r.status);
    return r.json();
  }).then(function (data) {
    L.geoJSON(data.jurisdictions, {
      style: { color: "#486581", weight: 1.2, fillColor: "#f0f4f8", fillOpacity: el.dataset.tileUrl ? 0.05 : 0.7 },
      onEachFeature: function (f, layer) { layer.bindTooltip(esc(nm(f.properties)), { sticky: true }); }
    }).addTo(groups.jurisdictions);
    L.geoJSON(data.bands, {
      style: { color: "#d64541", weight: 1, dashArray: "4 3", fillColor: "#d64541", fillOpacity: 0.16 },
      onEachFeature: function (f, layer) { layer.bindTooltip(esc(nm(f.properties)) + " · " + T.bands, { sticky: true }); }
    }).addTo(groups.bands);
    L.geoJSON(data.waters, {
      style: function (f) {
        var poly = f.geometry.type.indexOf("Polygon") >= 0;
        return { color: "#2b8cbe", weight: poly ? 1 : 2.5, fillColor: "#9ecae1", fillOpacity: 0.6,
                 dashArray: f.properties.schematic ? "5 4" : null };
      },
      onEachFeature: function (f, layer) { layer.bindTooltip(esc(nm(f.properties)), { sticky: true }); }
    }).addTo(groups.waters);
    L.geoJSON(data.borders, {
      style: function (f) { return { color: f.properties.cross_province ? "#7b2cbf" : "#9f7aea", weight: f.properties.cross_province ? 3 : 2, dashArray: "6 4" }; },
      onEachFeature: function (f, layer) { layer.bindTooltip(esc(f.properties.a) + " — " + esc(f.properties.b), { sticky: true }); }
    }).addTo(groups.borders);
    control.addOverlay(groups.jurisdictions, T.jurisdictions);
    control.addOverlay(groups.bands, T.bands);
    control.addOverlay(groups.waters, T.waters);
    control.addOverlay(groups.borders, T.borders);
    control.addOverlay(groups.sites, T.water_section + " / " + T.air_station);
    var b = groups.jurisdictions.getBounds();
    if (b.isValid()) map.fitBounds(b, { padding: [10, 10] });
    groups.sites.bringToFront();
  }).catch(function () { document.getElementById("site-count").textContent = T.loadError; });

  function marker(s) {
    var st = s.status, colour = st ? st.colour : NO_DATA;
    var size = s.is_boundary ? 18 : 14;
    var cls = "gz-marker " + (s.kind === "air_station" ? "air" : "water") + (s.is_boundary ? " boundary" : "") + (st && st.stale ? " stale" : "");
    var icon = L.divIcon({ className: "", iconSize: [size, size],
      html: '<div class="' + cls + '" data-code="' + esc(s.code) + '" style="width:' + size + "px;height:" + size + "px;background:" + colour + '"></div>' });
    var m = L.marker([s.lat, s.lon], { icon: icon, title: s.name, riseOnHover: true });
    var lines = ["<strong>" + esc(s.name) + "</strong> <small>" + esc(s.code) + "</small>",
                 esc(s.owner_name) + " · " + esc(T[s.kind] || s.kind) + (s.is_boundary ? " · " + T.boundary : "") + (s.own ? "" : " · " + T.shared)];
    if (s.waterbody) lines.push(esc(s.waterbody));
    if (!st) lines.push(T.noData);
    else if (st.type === "water") {
      lines.push(T["class"] + ": <b>" + esc(st.label) + "</b>" + (s.target ? " · " + T.target + " " + esc(s.target) + " " + (st.meets_target ? T.meets : T.fails) : ""));
    } else {
      lines.push("AQI <b>" + st.aqi + "</b> " + esc(english ? st.category_en : st.category_zh) + (st.primary.length ? " · " + T.primary + " " + esc(st.primary.join(", ")) : ""));
    }
    if (st) lines.push(T.time + ": " + esc(st.time.replace("T", " ").slice(0, 16)) + (st.stale ? " (" + T.stale + ")" : ""));
    lines.push('<a href="' + esc(s.url) + '">' + T.detail + " →</a>");
    m.bindPopup(lines.join("<br>"));
    return m;
  }

  var form = document.getElementById("filters");
  function loadSites() {
    var q = new URLSearchParams(new FormData(form)).toString();
    return fetch("/web-api/map/sites.json?" + q, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (data) {
      groups.sites.clearLayers();
      data.sites.forEach(function (s) { marker(s).addTo(groups.sites); });
      document.getElementById("site-count").textContent = data.sites.length + " " + T.sites;
      el.dataset.loaded = String(data.sites.length);
    }).catch(function () { document.getElementById("site-count").textContent = T.loadError; });
  }
  form.addEventListener("change", loadSites);
  loadSites();
})();
