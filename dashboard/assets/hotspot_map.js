// The Explorer map's hexagons and local-authority areas, painted by value without redrawing
// their outlines.
//
// Plotly's choroplethmap re-sends every polygon to MapLibre's worker on each change of value,
// which re-tiles and re-tessellates them all and then draws anti-aliased outlines: seconds per
// filter change on a machine without a GPU. Here the outlines are fetched once per geometry
// key and kept in two MapLibre GeoJSON sources on the same map as the Plotly figure; a filter
// change sets each feature's value as a feature state, and one frame is drawn.
//
// The values come from the server's callback (a dcc.Store of numbers aligned to the outlines,
// tagged with the geometry key): the same callback, numbers and access rules as before.
(function () {
    "use strict";
    var LAYERS = {
        areas: {source: "hotspot-areas", layer: "hotspot-areas-fill", opacity: 0.6},
        cells: {source: "hotspot-cells", layer: "hotspot-cells-fill", opacity: 0.85}
    };
    var ORDER = ["areas", "cells"];  // areas underneath, hexagons on top
    var state = {
        values: null,      // the latest values from the server
        graphId: null,
        geometry: {},      // url -> Promise of a FeatureCollection (the areas)
        painted: null      // {key, cells, areas}: what the map shows now
    };

    function graphDiv() {
        var host = state.graphId && document.getElementById(state.graphId);
        return host ? host.querySelector(".js-plotly-plot") : null;
    }

    function mapOf(gd) {
        // Plotly keeps the MapLibre map of a "map" subplot here (plotly.js 3 and 4)
        var full = gd && gd._fullLayout && gd._fullLayout.map;
        return full && full._subplot ? full._subplot.map : null;
    }

    function keyText(key) {
        return (key || []).join("-");
    }

    function geometryUrl(layer, values) {
        var url = "/map/geometry.geojson?layer=" + layer + "&key=" +
            encodeURIComponent(keyText(values.key));
        return layer === "cells" ? url + "&res=" + values.key[2] : url;
    }

    function absolute(url) {
        // MapLibre's worker fetches the hexagons itself: parsed off the page's thread, with no
        // copy of them sent to the worker. It resolves URLs against its own (blob) address.
        return new URL(url, window.location.href).href;
    }

    function fetchGeometry(url) {
        if (!state.geometry[url]) {
            state.geometry[url] = fetch(url, {credentials: "same-origin"}).then(function (r) {
                if (!r.ok) {
                    throw new Error("map outlines: HTTP " + r.status);
                }
                return r.json();
            });
            state.geometry[url].catch(function () { delete state.geometry[url]; });
        }
        return state.geometry[url];
    }

    function colourExpression(colours) {
        // the feature state "c" is a colour's place in the palette (-1: nothing to paint). The
        // expression never changes: changing a data-driven paint property makes MapLibre
        // re-tile the whole source, which is what this script exists to avoid.
        var expr = ["match", ["coalesce", ["feature-state", "c"], -1]];
        for (var i = 0; i < colours.length; i++) {
            expr.push(i, colours[i]);
        }
        expr.push("rgba(0,0,0,0)");
        return expr;
    }

    function paletteIndex(value, breaks, n) {
        // the class of value (as dashboard.figures.class_breaks), as a place in the palette
        if (value === null || value === undefined || !(value > 0) || !breaks.length ||
            value < breaks[0]) {
            return -1;
        }
        var k = breaks.length - 1;
        while (k > 0 && value < breaks[k]) { k--; }
        if (breaks.length === 1) { return n - 1; }
        return Math.round(k * (n - 1) / (breaks.length - 1));
    }

    function beforeId(map) {
        // under Plotly's traces (DBSCAN footprints) and its area outlines, over the basemap
        // and the density image
        var layers = map.getStyle().layers;
        for (var i = 0; i < layers.length; i++) {
            var id = layers[i].id;
            if (id.indexOf("plotly-trace-layer") === 0) {
                return id;
            }
            if (id.indexOf("plotly-layout-layer") === 0 && layers[i].type === "line") {
                return id;
            }
        }
        return undefined;
    }

    function ensureLayers(map, geo, values) {
        // geo[name]: {data: a FeatureCollection or the URL MapLibre fetches, url: its key}
        var before = beforeId(map), outlinesNew = false;
        ORDER.forEach(function (name) {
            var spec = LAYERS[name];
            var src = map.getSource(spec.source);
            if (!src) {
                map.addSource(spec.source, {type: "geojson", data: geo[name].data});
                map.__hotspotGeometry = map.__hotspotGeometry || {};
                map.__hotspotGeometry[name] = geo[name].url;
                map.__hotspotApplied = map.__hotspotApplied || {};
                map.__hotspotApplied[name] = null;
                outlinesNew = true;
            } else if (map.__hotspotGeometry[name] !== geo[name].url) {
                map.removeFeatureState({source: spec.source});
                src.setData(geo[name].data);
                map.__hotspotGeometry[name] = geo[name].url;
                map.__hotspotApplied[name] = null;
                outlinesNew = true;
            }
            if (!map.getLayer(spec.layer)) {
                map.addLayer({
                    id: spec.layer, type: "fill", source: spec.source,
                    // no anti-aliased outline pass: it doubles the cost of a frame drawn
                    // without a GPU, and hexagons touch their neighbours anyway
                    paint: {"fill-antialias": false, "fill-opacity": spec.opacity,
                            "fill-color": colourExpression(values[name].colours)}
                }, before);
                map.__hotspotColours = map.__hotspotColours || {};
                map.__hotspotColours[name] = JSON.stringify(
                    colourExpression(values[name].colours));
            } else if (before && map.getStyle().layers.map(function (l) { return l.id; })
                       .indexOf(before) < map.getStyle().layers.map(function (l) {
                           return l.id; }).indexOf(spec.layer)) {
                map.moveLayer(spec.layer, before);
            }
        });
        installHover(map);
        return outlinesNew;
    }

    function applyValues(map, values) {
        ORDER.forEach(function (name) {
            var spec = LAYERS[name], layer = values[name];
            var applied = map.__hotspotApplied[name];
            var vals = layer.values, n = layer.colours.length, places = new Array(vals.length);
            for (var i = 0; i < vals.length; i++) {
                places[i] = paletteIndex(vals[i], layer.breaks, n);
                if (!applied || applied[i] !== places[i]) {
                    map.setFeatureState({source: spec.source, id: i}, {c: places[i]});
                }
            }
            map.__hotspotApplied[name] = places;
            var expr = JSON.stringify(colourExpression(layer.colours));
            if (map.__hotspotColours === undefined) { map.__hotspotColours = {}; }
            if (map.__hotspotColours[name] !== expr) {  // once per map, not per change
                map.setPaintProperty(spec.layer, "fill-color", JSON.parse(expr));
                map.__hotspotColours[name] = expr;
            }
            var shown = values.layers.indexOf(name) >= 0 ? "visible" : "none";
            if (map.getLayoutProperty(spec.layer, "visibility") !== shown) {
                map.setLayoutProperty(spec.layer, "visibility", shown);
            }
        });
    }

    function announce(gd, map, values, outlinesNew) {
        // once the frame with the new values is drawn, say so (the benchmark and the tests
        // listen for it, as for Plotly's plotly_afterplot); new outlines are first tiled
        // in MapLibre's worker, so until the map is next idle every change waits for that.
        // Only the latest values are announced: a slow tiling's "idle" can come after a
        // later change's "render", and must not put the earlier values back.
        if (outlinesNew) { map.__hotspotTiling = true; }
        map.__hotspotLatest = values;
        var tiling = map.__hotspotTiling;
        map.once(tiling ? "idle" : "render", function () {
            if (tiling) { map.__hotspotTiling = false; }
            if (map.__hotspotLatest !== values) { return; }  // newer values announce themselves
            state.painted = values;
            gd.dispatchEvent(new CustomEvent("hotspot-map-painted", {detail: {
                key: values.key, total: total(values.cells.values)}}));
        });
        map.triggerRepaint();
    }

    function total(vals) {
        var t = 0;
        for (var i = 0; i < vals.length; i++) { t += vals[i] || 0; }
        return t;
    }

    var pending = false;

    function sync() {
        var values = state.values, gd = graphDiv(), map = mapOf(gd);
        if (!values) { return; }
        if (!map || !map.isStyleLoaded()) {
            if (!pending) {
                pending = true;
                setTimeout(function () { pending = false; sync(); }, 50);
            }
            return;
        }
        if (!gd.__hotspotHooked) {
            // Plotly may rebuild the map's style (a new basemap): add the layers again
            gd.__hotspotHooked = true;
            gd.on("plotly_afterplot", function () {
                var m = mapOf(gd);
                if (m && state.values && !m.getLayer(LAYERS.cells.layer)) { sync(); }
            });
        }
        var areasUrl = geometryUrl("areas", values);
        var cellsUrl = absolute(geometryUrl("cells", values));
        fetchGeometry(areasUrl).then(function (areas) {
            if (state.values !== values) { return; }  // newer values arrived meanwhile
            var m = mapOf(graphDiv());
            if (!m) { return sync(); }
            // the hexagons are those of values.key: the server refuses (409) any other key
            var byName = {areas: {data: areas, url: areasUrl},
                          cells: {data: cellsUrl, url: cellsUrl}};
            if (areas.features.length !== values.areas.values.length) {
                // the areas changed between the outlines and the values: fetch them again
                delete state.geometry[areasUrl];
                return;
            }
            state.areaNames = areas.features.map(function (f) { return f.properties.name; });
            var outlinesNew = ensureLayers(m, byName, values);
            applyValues(m, values);
            announce(graphDiv(), m, values, outlinesNew);
        }).catch(function (err) {
            console.error(err);
        });
    }

    // ---- hover: the value under the pointer, hexagon first ----------------------------------
    function installHover(map) {
        if (map.__hotspotHover) { return; }
        map.__hotspotHover = true;
        map.on("error", function (e) {
            // outlines refused (the data changed meanwhile): set them again with the next values
            ORDER.forEach(function (name) {
                if (e && e.sourceId === LAYERS[name].source && map.__hotspotGeometry) {
                    map.__hotspotGeometry[name] = null;
                }
            });
        });
        var tip = document.createElement("div");
        tip.className = "map-tooltip";
        tip.style.display = "none";
        map.getContainer().appendChild(tip);
        map.on("mousemove", function (e) {
            var ids = [LAYERS.cells.layer, LAYERS.areas.layer].filter(function (id) {
                return map.getLayer(id) && map.getLayoutProperty(id, "visibility") !== "none";
            });
            var hits = ids.length ? map.queryRenderedFeatures(e.point, {layers: ids}) : [];
            var text = describe(hits, map);
            if (!text) { tip.style.display = "none"; return; }
            tip.textContent = "";
            text.forEach(function (line, i) {
                var el = document.createElement(i === 0 ? "b" : "div");
                el.textContent = line;
                tip.appendChild(el);
            });
            tip.style.left = (e.point.x + 12) + "px";
            tip.style.top = (e.point.y + 12) + "px";
            tip.style.display = "block";
        });
        map.on("mouseout", function () { tip.style.display = "none"; });
    }

    function describe(hits, map) {
        // the values last set on this map's outlines (announced or still waiting for tiles):
        // a feature's id is its place in them
        var values = map.__hotspotLatest || state.painted;
        if (!values) { return null; }
        for (var i = 0; i < hits.length; i++) {
            var f = hits[i], idx = f.id;
            if (f.layer.id === LAYERS.cells.layer) {
                var n = values.cells.values[idx];
                if (!n) { continue; }
                return ["Hexagon " + f.properties.cell,
                        n.toLocaleString("en-GB") + " incident" + (n === 1 ? "" : "s")];
            }
            if (f.layer.id === LAYERS.areas.layer) {
                var v = values.areas.values[idx];
                return [f.properties.name, v === null || v === undefined ? "not selected" :
                        v.toLocaleString("en-GB") + " " + values.areas.unit];
            }
        }
        return null;
    }

    // ---- what the map paints, for the tests and the benchmark --------------------------------
    window.hotspotMapPainted = function () {
        var v = state.painted;
        return v ? {key: v.key, layers: v.layers, cells: v.cells.values,
                    areas: v.areas.values, codes: v.areas.codes,
                    names: state.areaNames} : null;
    };
    window.hotspotMapTotal = function () {
        return state.painted ? total(state.painted.cells.values) : null;
    };
    window.hotspotCellsDrawn = function () {
        var v = state.painted;
        return v ? v.cells.values.filter(function (x) { return x > 0; }).length : 0;
    };

    window.dash_clientside = window.dash_clientside || {};
    function whenShown(layer) {
        // a filter change reaches the density or cluster callback only while its layer is
        // shown (the last argument is the layers ticked): a hidden layer costs no request
        return function () {
            var layers = arguments[arguments.length - 1] || [];
            return layers.indexOf(layer) >= 0 ? Date.now() : window.dash_clientside.no_update;
        };
    }

    window.dash_clientside.hotspotMap = {
        kdeShown: whenShown("kde"),
        clustersShown: whenShown("clusters"),
        paint: function (values, graphId) {
            state.values = values;
            state.graphId = graphId;
            sync();
            return window.dash_clientside.no_update;
        }
    };
}());
