// The live ticket's service worker (README "Rotating codes"). Registered from /bookings/<id>/live with
// that booking's path as its scope: the network first, the copy the page saved in the cache when the
// network fails, so the ticket opens offline once it has been seen. A 404 (the booking was transferred
// or cancelled) forgets the saved copy.
"use strict";

var CACHE = "seatline-live-v1";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

function forget(scope) {
  return caches.open(CACHE).then(function (cache) {
    return cache.keys().then(function (requests) {
      return Promise.all(requests.filter(function (r) { return r.url.indexOf(scope) === 0; }).map(function (r) { return cache.delete(r); }));
    });
  });
}

function fromCache(request) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request, { ignoreVary: true });
  }).then(function (saved) {
    if (!saved) return Response.error();
    var headers = new Headers(saved.headers);
    headers.set("X-Seatline-Saved", "1");
    return saved.blob().then(function (body) {
      return new Response(body, { status: saved.status, statusText: saved.statusText, headers: headers });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var scope = self.registration.scope;
  var ours = request.url.indexOf(scope) === 0 || url.pathname.indexOf("/static/") === 0;
  if (!ours) return;
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.status === 404 && request.url.indexOf(scope) === 0) {
        return forget(scope).then(function () { return response; });
      }
      return response;
    }, function () {
      return fromCache(request);
    })
  );
});
