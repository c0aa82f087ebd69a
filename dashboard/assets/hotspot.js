// Keep the page state in the address bar without a reload or a new history entry, so a view
// can be shared as a link. replaceState does not wake Dash's page router.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    hotspot: {
        replaceSearch: function (search) {
            if (typeof search === "string") {
                window.history.replaceState(null, "", window.location.pathname + search);
            }
            return window.dash_clientside.no_update;
        }
    }
});
