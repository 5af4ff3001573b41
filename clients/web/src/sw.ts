// Service worker: filled in with the app-shell cache in a later commit.
export {};
