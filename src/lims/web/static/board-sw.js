// The boards' service worker (served as /board/sw.js, scope /board/): every board page and its style and script
// are fetched from the network first and kept; when the network is down a reload gets the copy kept last.
// The panel the page refreshes itself with is never answered from here: the page must see the network fail.
var CACHE = "lims-board-1";
var ASSETS = ["/static/board.css", "/static/board.js", "/static/favicon.svg"];

function isBoardPage(url) {
  return /^\/board\/[A-Za-z0-9_-]+$/.test(url.pathname);
}

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      // The page that registered this worker was loaded before it existed: keep it now.
      return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
        var wanted = ASSETS.slice();
        for (var i = 0; i < windows.length; i++) {
          if (isBoardPage(new URL(windows[i].url))) wanted.push(windows[i].url);
        }
        return cache.addAll(wanted);
      });
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n !== CACHE; }).map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (!isBoardPage(url) && ASSETS.indexOf(url.pathname) < 0) return;
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { return cache.put(request, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(request).then(function (hit) { return hit || Response.error(); });
    })
  );
});
