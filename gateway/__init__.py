"""The Envoy gateway: config template, renderer and the Lua status filter."""
