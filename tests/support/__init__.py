"""Real loopback servers (DNS, HTTP, TCP fault proxy, PostgreSQL) for the netmon test suite.

Everything listens on 127.0.0.1 on a random free port; nothing here talks to the network.
"""
