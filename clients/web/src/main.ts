/** Entry point: storage, the service worker, persistent storage, then the app. */
import { startApp } from './app';
import { openStore } from './store';
import './style.css';

async function main(): Promise<void> {
  if ('serviceWorker' in navigator && import.meta.env.PROD) {
    // The shell loads with no network after the first visit; the API is never cached (see sw.ts).
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => undefined);
  }
  // Ask the browser not to evict the queue under storage pressure (best effort: it may say no).
  void navigator.storage?.persist?.().catch(() => false);
  await startApp(document.getElementById('app')!, await openStore());
}

void main();
