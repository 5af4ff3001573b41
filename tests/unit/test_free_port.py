"""devstack.stack.free_port: ports for test stacks that no outgoing connection can take meanwhile."""

import socket

from devstack.stack import _ephemeral_range, free_port


def test_ports_are_distinct_bindable_and_below_the_ephemeral_range():
    low, _ = _ephemeral_range()
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(1024 <= p < low for p in ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))  # really free


def test_a_port_someone_listens_on_is_never_handed_out(monkeypatch):
    low, _ = _ephemeral_range()
    with socket.socket() as listener:
        for port in range(low - 1, low - 100, -1):  # a port in the searched range someone listens on
            try:
                listener.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        listener.listen()
        busy = listener.getsockname()[1]
        # The search order puts the busy port first: free_port must test it and move on.
        monkeypatch.setattr(
            "devstack.stack.random.shuffle", lambda ports: ports.sort(key=lambda p: p != busy)
        )
        assert free_port() != busy
