/**
 * Service worker: keeps the app shell so the app opens with no network after the first visit.
 * It never answers for the API or the dev config: those always go to the network (and stay visible
 * to the page, its tests and the server's idempotency rules), so nothing the server says is cached.
 */
const sw = self as unknown as ServiceWorkerGlobalScope;

// Filled in by the build (vite.config.ts) with every file it wrote, and a version from their names.
const SHELL: string[] = JSON.parse('__SHELL_FILES__');
const CACHE = `studysync-shell-${'__SHELL_VERSION__'}`;

sw.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(path, { cache: 'reload' }))))
      .then(() => sw.skipWaiting()),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith('studysync-shell-') && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => sw.clients.claim()),
  );
});

function bypass(url: URL): boolean {
  return url.origin !== sw.location.origin || url.pathname.startsWith('/api/') || url.pathname === '/app-config.json' || url.pathname === '/healthz';
}

sw.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || bypass(url)) return; // the network answers, untouched
  if (request.mode === 'navigate' || url.pathname === '/' || url.pathname === '/index.html') {
    // The page: the newest when online (so an update arrives), the kept one when not.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone();
            void caches.open(CACHE).then((cache) => cache.put('/index.html', copy));
          }
          return response;
        })
        .catch(async () => (await caches.match('/index.html', { cacheName: CACHE })) ?? Response.error()),
    );
    return;
  }
  // Hashed assets never change: the kept copy first.
  event.respondWith(caches.match(request, { cacheName: CACHE }).then((hit) => hit ?? fetch(request)));
});
