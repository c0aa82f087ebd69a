// Keep the page state in the address bar without a reload or a new history entry, so a view
// can be shared as a link. replaceState does not wake Dash's page router.
(function () {
    function metres(m) {
        return m < 1000 ? Math.round(m) + " m" : (m / 1000).toFixed(1) + " km";
    }

    function distance(lat1, lon1, lat2, lon2) {
        const r = Math.PI / 180;
        const a = Math.pow(Math.sin((lat2 - lat1) * r / 2), 2) + Math.cos(lat1 * r) *
            Math.cos(lat2 * r) * Math.pow(Math.sin((lon2 - lon1) * r / 2), 2);
        return 2 * 6371008.8 * Math.asin(Math.sqrt(a));
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        hotspot: {
            replaceSearch: function (search) {
                if (typeof search === "string") {
                    window.history.replaceState(null, "", window.location.pathname + search);
                }
                return window.dash_clientside.no_update;
            },
            // "You are here" on the shift view's map, only when the officer asks: the position
            // is drawn by this page and never sent to the server (dashboard/layouts/shift.py).
            locate: function (clicks, view) {
                const skip = window.dash_clientside.no_update;
                if (!clicks || !view) {
                    return [skip, skip, skip];
                }
                if (!window.isSecureContext || !("geolocation" in navigator)) {
                    return [skip, true, "This browser gives its position only to sites opened " +
                        "over HTTPS (or not at all). The plan works without it."];
                }
                return new Promise(function (resolve) {
                    navigator.geolocation.getCurrentPosition(function (pos) {
                        const lat = pos.coords.latitude, lon = pos.coords.longitude;
                        // Web Mercator, as the map is drawn (dashboard/layouts/_shiftmap.py)
                        const s = Math.sin(Math.max(-85.05, Math.min(85.05, lat)) * Math.PI / 180);
                        const x = (lon + 180) / 360;
                        const y = 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
                        const fx = (x - view.x0) / (view.x1 - view.x0);
                        const fy = (y - view.y0) / (view.y1 - view.y0);
                        let best = null;
                        (view.places || []).forEach(function (p) {
                            const d = distance(lat, lon, p[2], p[1]);
                            if (best === null || d < best[1]) {
                                best = [p[0], d];
                            }
                        });
                        const near = best === null ? "" :
                            " Nearest: place " + best[0] + ", " + metres(best[1]) + " away.";
                        const within = " (to within about " + metres(pos.coords.accuracy) + ")";
                        if (fx < 0 || fx > 1 || fy < 0 || fy > 1) {
                            resolve([skip, true, "You are outside this map" + within + "." + near]);
                            return;
                        }
                        resolve([{left: (100 * fx).toFixed(2) + "%", top: (100 * fy).toFixed(2) + "%"},
                            false, "You are here: the label with a triangle on the map" + within + "." + near]);
                    }, function (err) {
                        const why = err.code === 1 ? "this device was not allowed to give it" :
                            err.code === 3 ? "it took too long" : "it is not available";
                        resolve([skip, true, "Your position could not be shown: " + why +
                            ". The plan works without it."]);
                    }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
                });
            }
        }
    });
}());
